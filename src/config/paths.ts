// One place for every path the product uses. Shipped files (latency tables,
// device profiles, the web pages, SQL migrations) resolve from the package
// root, never from the current directory; user data (store, artifacts,
// dataset cache, host calibrations) lives under one data directory.
//
// Data directory: explicit option (--data-dir) > $NAS_DATA_DIR > ~/.mobile-nas.

import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder holding package.json). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Shipped, read-only resources. */
export const shippedPaths = {
  latencyTables: join(PACKAGE_ROOT, 'latency-tables'),
  deviceProfiles: join(PACKAGE_ROOT, 'device-profiles'),
  web: join(PACKAGE_ROOT, 'web'),
  api: join(PACKAGE_ROOT, 'api'),
  migrations: join(PACKAGE_ROOT, 'src', 'store', 'migrations'),
} as const;

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
