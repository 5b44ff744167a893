// On-disk dataset cache: one directory per dataset key holding
//   manifest.json  (DatasetManifest: classes, shape, split ranges, origin)
//   images.u8      (count*H*W*C bytes, NHWC, ordered train | validation | test)
//   labels.u8      (count bytes)
// Writes go to a temporary sibling directory that is renamed into place, so
// concurrent builders (pool workers) never see a half-written entry.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import { type Dataset, DatasetError, type DatasetManifest } from './types.ts';

/**
 * The cache root: explicit option (--cache-dir), then $NAS_DATASET_CACHE,
 * then `datasets` under the data directory (--data-dir, $NAS_DATA_DIR,
 * ~/.mobile-nas); never the working directory.
 */
export function cacheRoot(dir?: string): string {
  const env = process.env.NAS_DATASET_CACHE;
  return resolve(dir ?? (env !== undefined && env !== '' ? env : dataPaths().datasets));
}

export function entryDir(root: string, key: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(key)) throw new Error(`bad cache key "${key}"`);
  return join(root, key);
}

export function readCached(dir: string): Dataset | null {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return null;
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as DatasetManifest;
  } catch {
    return null; // unreadable manifest: rebuild
  }
  if (manifest.format !== 'nas-dataset' || manifest.formatVersion !== 1) return null;
  const images = new Uint8Array(readFileSync(join(dir, manifest.files.images)));
  const labels = new Uint8Array(readFileSync(join(dir, manifest.files.labels)));
  const px = manifest.height * manifest.width * manifest.channels;
  if (images.length !== manifest.count * px || labels.length !== manifest.count) {
    throw new DatasetError(`dataset cache ${dir} is inconsistent with its manifest; delete the directory to rebuild it`, 500);
  }
  return { manifest, images, labels };
}

export function writeCached(dir: string, ds: Dataset): void {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, ds.manifest.files.images), ds.images);
    writeFileSync(join(tmp, ds.manifest.files.labels), ds.labels);
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(ds.manifest, null, 2) + '\n');
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // another process may have won the rename race with an identical entry
    if (existsSync(join(dir, 'manifest.json'))) return;
    throw e;
  }
}

/** Common manifest fields for a freshly built dataset. */
export function newManifest(fields: Omit<DatasetManifest, 'format' | 'formatVersion' | 'files' | 'createdAt'>): DatasetManifest {
  return {
    format: 'nas-dataset', formatVersion: 1, ...fields,
    files: { images: 'images.u8', labels: 'labels.u8' },
    createdAt: new Date().toISOString(),
  };
}
