// Uploaded datasets on a worker machine: a trial job's dataset reference
// (src/jobs/dataset-ref.ts: id, sha256, URL on the server) becomes a local
// image folder. The archive is downloaded once into the worker's own cache
// (`<data dir>/datasets/remote/<id>-<sha256>/images`), its sha256 computed on
// the way and compared with the job's; only a verified archive is extracted
// and moved into place (one rename), so the cache never holds wrong or
// partial data. Later jobs of the same dataset reuse it; concurrent jobs of
// one worker share one download.
//
// A checksum mismatch or a refused download (4xx) fails the job for good with
// the reason (no retry can fix it); network errors and 5xx answers fail the
// attempt, which BullMQ retries.

import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractArchive } from '../app/dataset-archive.ts';
import type { RemoteDatasetRef } from './dataset-ref.ts';

export class DatasetFetchError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'DatasetFetchError';
    this.status = status;
  }
}

export type DatasetFetchEvent =
  | { type: 'dataset-fetched'; datasetId: string; sizeBytes: number; wallMs: number }
  | { type: 'dataset-cached'; datasetId: string };

/** The URL without its token, for messages and logs. */
function shown(url: string): string {
  const u = new URL(url);
  u.search = '';
  return u.toString();
}

function checkRef(ref: RemoteDatasetRef): void {
  if (!/^ds_[0-9a-f]{16}$/.test(ref.id)) throw new DatasetFetchError(`job dataset reference: bad id "${ref.id}"`, 400);
  if (!(Number.isInteger(ref.sizeBytes) && ref.sizeBytes >= 0)) throw new DatasetFetchError(`job dataset reference ${ref.id}: sizeBytes must be a non-negative integer`, 400);
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw new DatasetFetchError(`job dataset reference ${ref.id}: sha256 must be 64 hex digits`, 400);
  let u: URL;
  try {
    u = new URL(ref.url);
  } catch {
    throw new DatasetFetchError(`job dataset reference ${ref.id}: bad URL`, 400);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DatasetFetchError(`job dataset reference ${ref.id}: URL must be http(s), got ${u.protocol}`, 400);
}

export class RemoteDatasetCache {
  private readonly inflight = new Map<string, Promise<string>>();

  /** @param cacheRoot the worker's dataset cache (its data directory's datasets/) */
  constructor(readonly cacheRoot: string, private readonly onEvent: (e: DatasetFetchEvent) => void = () => {}) {}

  /** Local folder of the dataset's class folders (download and verify on first use). */
  folderOf(ref: RemoteDatasetRef): Promise<string> {
    try {
      checkRef(ref);
    } catch (e) {
      return Promise.reject(e);
    }
    const key = `${ref.id}-${ref.sha256}`;
    const dir = join(this.cacheRoot, 'remote', key);
    const images = join(dir, 'images');
    if (existsSync(images)) {
      this.onEvent({ type: 'dataset-cached', datasetId: ref.id });
      return Promise.resolve(images);
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchInto(ref, dir).then(() => images).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchInto(ref: RemoteDatasetRef, dir: string): Promise<void> {
    const t0 = performance.now();
    const tmp = `${dir}.partial-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    mkdirSync(tmp, { recursive: true });
    try {
      let res: Response;
      try {
        res = await fetch(ref.url, { redirect: 'error' });
      } catch (e) {
        throw new Error(`dataset ${ref.id}: cannot reach ${shown(ref.url)}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`);
      }
      if (!res.ok || !res.body) {
        const text = (await res.text().catch(() => '')).slice(0, 300);
        const why = `dataset ${ref.id}: ${shown(ref.url)} answered ${res.status}${text ? `: ${text}` : ''}`;
        // the server refused this reference (bad token, unknown dataset): retrying will not help
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new DatasetFetchError(why, 422);
        throw new Error(why);
      }
      const archive = join(tmp, 'archive.zip');
      const hash = createHash('sha256');
      let sizeBytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          sizeBytes += chunk.length;
          // never more on disk than the job announced: a longer body cannot match the checksum anyway
          if (sizeBytes > ref.sizeBytes) {
            cb(new DatasetFetchError(`dataset ${ref.id}: the archive from ${shown(ref.url)} is larger than the job's ${ref.sizeBytes} bytes; not training on it`, 422));
            return;
          }
          cb(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), counter, createWriteStream(archive));
      const got = hash.digest('hex');
      if (got !== ref.sha256) {
        throw new DatasetFetchError(
          `dataset ${ref.id}: checksum mismatch: the archive from ${shown(ref.url)} (${sizeBytes} bytes) has sha256 ${got}, ` +
          `the job expects ${ref.sha256}; not training on it`, 422);
      }
      await extractArchive(archive, join(tmp, 'images'));
      rmSync(archive, { force: true });
      try {
        renameSync(tmp, dir);
      } catch (e) {
        // another worker process on this machine finished the same dataset first: use theirs
        if (!existsSync(join(dir, 'images'))) throw e;
      }
      this.onEvent({ type: 'dataset-fetched', datasetId: ref.id, sizeBytes, wallMs: performance.now() - t0 });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
