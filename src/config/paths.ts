// One place for every path the product uses. Shipped files (latency tables,
// device profiles, the web pages, SQL migrations) resolve from the package
// root, never from the current directory; user data (store, artifacts,
// dataset cache, host calibrations) lives under one data directory.
//
// The code runs from one of two trees of the same shape: src/ (TypeScript,
// under the tsx loader: a checkout, the tests) or dist/ (the JavaScript
// `npm run build` compiles src/ into: a production install). Both sit one
// level below the package root, so paths from a module are the same in both.
//
// Data directory: explicit option (--data-dir) > $NAS_DATA_DIR > ~/.mobile-nas.

import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder holding package.json); this module is <root>/src/config or <root>/dist/config. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Shipped, read-only resources. */
export const shippedPaths = {
  latencyTables: join(PACKAGE_ROOT, 'latency-tables'),
  deviceProfiles: join(PACKAGE_ROOT, 'device-profiles'),
  web: join(PACKAGE_ROOT, 'web'),
  api: join(PACKAGE_ROOT, 'api'),
  /** beside the store's code: src/store/migrations, copied to dist/store/migrations by the build */
  migrations: fileURLToPath(new URL('../store/migrations', import.meta.url)),
} as const;

/**
 * A module of this package to fork, named by its source file relative to
 * `from` (the caller's import.meta.url), e.g. './child.ts': that file when
 * the caller runs from src/, its compiled .js sibling when it runs from dist/.
 */
export function packageModule(from: string, source: string): string {
  const path = fileURLToPath(new URL(source, from));
  return from.endsWith('.js') ? path.replace(/\.ts$/, '.js') : path;
}

/**
 * Node flags to fork `module`: a TypeScript module runs under the tsx loader
 * (resolved here by absolute URL, so a child started from any folder finds
 * it; only a checkout has it), compiled JavaScript needs none.
 */
export function forkExecArgv(module: string): string[] {
  return module.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
}

export const DEFAULT_DATA_DIR = join(homedir(), '.mobile-nas');

let override: string | undefined;

/** Set the data directory for this process (the CLI's --data-dir). */
export function setDataDir(dir: string | undefined): void {
  override = dir === undefined ? undefined : resolve(dir);
}

/** The data directory: setDataDir() > $NAS_DATA_DIR > ~/.mobile-nas (absolute). */
export function dataDir(): string {
  if (override !== undefined) return override;
  const env = process.env.NAS_DATA_DIR;
  return env !== undefined && env !== '' ? resolve(env) : DEFAULT_DATA_DIR;
}

/** Paths under the data directory (none is created here; writers mkdir what they need). */
export function dataPaths(root: string = dataDir()) {
  return {
    root,
    store: join(root, 'nas.sqlite'),
    artifacts: join(root, 'artifacts'),
    datasets: join(root, 'datasets'),
    calibrations: join(root, 'calibrations'),
    latencyTables: join(root, 'latency-tables'),
    deviceProfiles: join(root, 'device-profiles'),
    outputs: join(root, 'out'),
  };
}
