// Dataset use cases: accept an uploaded zip of class folders (checked and
// extracted safely, images decoded to find corrupt ones, sha256 of the
// archive recorded, owned by the uploading key), list a key's datasets, and
// the API's dataset references: one grammar (built-in names, `dataset:<id>`
// of the caller's own uploads) parsed once into a typed value, resolved to
// what the data layer reads (a built-in name, or `folder:<path>`).

import { renameSync, rmSync } from 'node:fs';
import { extname, join } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import { IMAGE_EXTENSIONS, openImage, undecodableImage } from '../data/folder.ts';
import { DATASET_NAMES } from '../data/registry.ts';
import type { Db } from '../store/db.ts';
import { getDataset, insertDataset, listDatasets, type DatasetRecord } from '../store/datasets.ts';
import { newId } from '../store/keys.ts';
import { ArchiveError, extractArchive, type ArchiveLimits } from './dataset-archive.ts';

export class DatasetUseCaseError extends Error {
  readonly status: number;
  readonly code?: string;
  constructor(message: string, status: number, code?: string) {
    super(message);
    this.name = 'DatasetUseCaseError';
    this.status = status;
    this.code = code;
  }
}

export interface DatasetView extends Omit<DatasetRecord, 'ownerKeyId' | 'path'> {
  ref: string;
}

export const datasetView = ({ ownerKeyId: _o, path: _p, ...d }: DatasetRecord): DatasetView => ({ ...d, ref: `dataset:${d.id}` });

export interface UploadDatasetOptions {
  db: Db;
  dataDir: string;
  ownerKeyId: string;
  name?: string;
  /** the uploaded zip, as received (the caller removes it afterwards) */
  archive: { path: string; sizeBytes: number; sha256: string };
  limits?: ArchiveLimits;
}

/**
 * Does this file decode as an image? (full decode: truncated files fail too).
 * One too large to decode (a decompression bomb) refuses the upload, naming it.
 */
async function decodes(file: string, rel: string): Promise<boolean> {
  try {
    const why = await undecodableImage(file);
    if (why?.reason === 'too-large') throw new DatasetUseCaseError(`image "${rel}" ${why.message}`, 422, 'image_too_large');
    if (why) return false;
    await openImage(file, 'truncated').raw().toBuffer();
    return true;
  } catch (e) {
    if (e instanceof DatasetUseCaseError) throw e;
    return false;
  }
}

export async function uploadDataset(opts: UploadDatasetOptions): Promise<DatasetView> {
  if (opts.archive.sizeBytes === 0) throw new DatasetUseCaseError('the request body is empty: send the zip archive', 400, 'invalid_archive');
  const id = newId('ds_');
  const root = dataPaths(opts.dataDir).datasets;
  const tmp = join(root, `.incoming-${id}`);
  const final = join(root, id);
  try {
    const files = await extractArchive(opts.archive.path, join(tmp, 'images'), opts.limits);
    const perClass = new Map<string, number>();
    const corrupt: string[] = [];
    const ignored: string[] = [];
    for (const rel of files) {
      const parts = rel.split('/');
      if (parts.length !== 2 || !IMAGE_EXTENSIONS.includes(extname(rel).toLowerCase())) {
        ignored.push(rel);
        continue;
      }
      if (!perClass.has(parts[0]!)) perClass.set(parts[0]!, 0);
      if (await decodes(join(tmp, 'images', rel), rel)) perClass.set(parts[0]!, perClass.get(parts[0]!)! + 1);
      else corrupt.push(rel);
    }
    const classes = [...perClass.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, images]) => ({ name, images }));
    const usable = classes.filter((c) => c.images > 0);
    if (usable.length < 2) {
      const hint = ignored.length > 0 ? `; ignored entries not of the form <class>/<image>${IMAGE_EXTENSIONS.join('|')}: ${ignored.slice(0, 3).join(', ')}` : '';
      throw new DatasetUseCaseError(`the archive needs at least 2 class folders with decodable images, found ${usable.length}${hint}`, 422);
    }
    renameSync(tmp, final);
    const record: DatasetRecord = {
      id, ownerKeyId: opts.ownerKeyId, name: opts.name ?? id, path: join(final, 'images'),
      sha256: opts.archive.sha256, sizeBytes: opts.archive.sizeBytes,
      classes, images: usable.reduce((s, c) => s + c.images, 0), corrupt, createdAt: new Date().toISOString(),
    };
    insertDataset(opts.db, record);
    return datasetView(record);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof ArchiveError || e instanceof DatasetUseCaseError) throw e;
    rmSync(final, { recursive: true, force: true });
    throw e;
  }
}

export function listOwnDatasets(db: Db, ownerKeyId: string): DatasetView[] {
  return listDatasets(db, ownerKeyId).map(datasetView);
}

/**
 * A dataset as the API names it: a built-in set, or one of the caller's
 * uploads. Parsed once at the edge (parseApiDatasetRef) and passed typed;
 * a server folder (`folder:<path>`, the CLI's) has no spelling here.
 */
export type ApiDatasetRef = { kind: 'builtin'; name: string } | { kind: 'upload'; id: string };

/** The built-in datasets (src/data/registry.ts's names that take no parameter). */
export const BUILTIN_DATASETS: readonly string[] = DATASET_NAMES.filter((n) => !n.includes(':'));

const UPLOAD_REF = /^dataset:(ds_[0-9a-f]{16})$/;

/** What the API accepts for a dataset, in words (error messages). */
export const API_DATASET_GRAMMAR = `${BUILTIN_DATASETS.join(', ')} or dataset:<id> of one of your uploads (POST /v1/datasets), exactly as written; a server folder cannot be named over the API`;

/** The one parser of API dataset references: exact spellings only (no trimming, no case folding). */
export function parseApiDatasetRef(text: string): ApiDatasetRef {
  if (BUILTIN_DATASETS.includes(text)) return { kind: 'builtin', name: text };
  const m = UPLOAD_REF.exec(text);
  if (m) return { kind: 'upload', id: m[1]! };
  throw new DatasetUseCaseError(`dataset ${JSON.stringify(text.slice(0, 100))} is not accepted: use ${API_DATASET_GRAMMAR}`, 400, 'invalid_request');
}

/** An API reference -> the name the data layer loads (an upload is read from its folder; another key's upload is 404). */
export function resolveDatasetRef(db: Db, ref: ApiDatasetRef, ownerKeyId: string): string {
  if (ref.kind === 'builtin') return ref.name;
  const d = getDataset(db, ref.id);
  if (!d || d.ownerKeyId !== ownerKeyId) throw new DatasetUseCaseError(`dataset "${ref.id}" not found`, 404);
  return `folder:${d.path}`;
}

/** A stored search's dataset as the API shows it: an upload's folder back to `dataset:<id>` (no server path). */
export function apiDatasetName(db: Db, stored: string): string {
  const id = /^folder:.*[\\/](ds_[0-9a-f]{16})[\\/]images$/.exec(stored)?.[1];
  const d = id ? getDataset(db, id) : null;
  return d && `folder:${d.path}` === stored ? `dataset:${d.id}` : stored;
}
