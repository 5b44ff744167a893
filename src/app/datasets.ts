// Dataset use cases: accept an uploaded zip of class folders (checked and
// extracted safely, images decoded to find corrupt ones, sha256 of the
// archive recorded, owned by the uploading key), list a key's datasets, and
// resolve `dataset:<id>` (what POST /v1/searches names) to the folder the
// data layer reads (`folder:<path>`).

import { renameSync, rmSync } from 'node:fs';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { dataPaths } from '../config/paths.ts';
import { IMAGE_EXTENSIONS } from '../data/folder.ts';
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

/** Does this file decode as an image? (full decode: truncated files fail too) */
async function decodes(file: string): Promise<boolean> {
  try {
    await sharp(file, { failOn: 'truncated' }).raw().toBuffer();
    return true;
  } catch {
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
      if (await decodes(join(tmp, 'images', rel))) perClass.set(parts[0]!, perClass.get(parts[0]!)! + 1);
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

/** `dataset:<id>` of this owner -> `folder:<path>` for the data layer (404 for another key's dataset; a `folder:` ref is refused, 400). */
export function resolveDatasetRef(db: Db, ref: string, ownerKeyId: string | null): string {
  // a key holder must not make the server read its own disk: folders are the CLI's, uploads are the API's
  if (ref.startsWith('folder:')) throw new DatasetUseCaseError(`dataset "${ref.slice(0, 200)}": a server folder cannot be named over the API; upload a zip (POST /v1/datasets) and use dataset:<id>`, 400);
  const m = /^dataset:(ds_[0-9a-f]{16})$/.exec(ref);
  if (!m) return ref;
  const d = getDataset(db, m[1]!);
  if (!d || (ownerKeyId !== null && d.ownerKeyId !== ownerKeyId)) throw new DatasetUseCaseError(`dataset "${m[1]}" not found`, 404);
  return `folder:${d.path}`;
}
