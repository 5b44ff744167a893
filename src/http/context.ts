// What every route module gets: the store, the data directory, the logger,
// the metrics registry, body limits, and where shipped files and the
// profiling bundle live. createContext() opens the store, seeds the built-in
// devices and makes sure an admin key exists.

import { join } from 'node:path';
import { dataPaths, shippedPaths } from '../config/paths.ts';
import type { BundleOptions } from '../latency/bundle.ts';
import { openDb, type Db } from '../store/db.ts';
import { importLocalTables } from '../app/device-sync.ts';
import type { DeviceStore } from '../app/devices.ts';
import { seedBuiltinDevices, seedLocalDevices } from '../store/devices.ts';
import { ensureAdminKey } from '../store/keys.ts';
import { DEFAULT_LIMITS, type Limits } from './body.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';

export interface ShippedDirs {
  deviceProfiles: string;
  latencyTables: string;
  web: string;
}

export interface AppContext {
  db: Db;
  dataDir: string;
  logger: Logger;
  metrics: Metrics;
  limits: Limits;
  shipped: ShippedDirs;
  /** the profiling bundle's folder; written (bundleOptions) on first use when it has no manifest */
  bundleDir: string;
  bundleOptions?: BundleOptions;
  /** uploads (datasets, measurements) per key or address per window */
  rateLimit: { uploads: number; windowMs: number };
}

export interface ContextOptions {
  /** default: dataDir() from src/config/paths.ts */
  dataDir: string;
  /** store file (default: dataPaths(dataDir).store; ':memory:' for tests) */
  storeFile?: string;
  logger?: Logger;
  limits?: Partial<Limits>;
  /** $NAS_ADMIN_KEY: use this token as the admin key */
  adminToken?: string;
  shipped?: Partial<ShippedDirs>;
  bundleDir?: string;
  bundleOptions?: BundleOptions;
  rateLimit?: Partial<AppContext['rateLimit']>;
}

export interface CreatedContext {
  ctx: AppContext;
  /** the admin token when this start created it (print it once), else undefined */
  newAdminToken?: string;
}

export function createContext(opts: ContextOptions): CreatedContext {
  const paths = dataPaths(opts.dataDir);
  const db = openDb(opts.storeFile ?? paths.store);
  const shipped: ShippedDirs = {
    deviceProfiles: opts.shipped?.deviceProfiles ?? shippedPaths.deviceProfiles,
    latencyTables: opts.shipped?.latencyTables ?? shippedPaths.latencyTables,
    web: opts.shipped?.web ?? shippedPaths.web,
  };
  const logger = opts.logger ?? createLogger();
  seedBuiltinDevices(db, shipped.deviceProfiles, shipped.latencyTables);
  seedLocalDevices(db, paths.deviceProfiles, (why) => logger.warn(why));
  importLocalTables({ db, shippedTablesDir: shipped.latencyTables, dataDir: paths.root }, (why) => logger.warn(why));
  const admin = ensureAdminKey(db, opts.adminToken);
  const ctx: AppContext = {
    db,
    dataDir: paths.root,
    logger,
    metrics: createMetrics(),
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    shipped,
    bundleDir: opts.bundleDir ?? join(paths.root, 'bundles', 'default'),
    bundleOptions: opts.bundleOptions,
    rateLimit: { uploads: 30, windowMs: 60_000, ...opts.rateLimit },
  };
  return { ctx, newAdminToken: admin.token };
}

/** The device use cases' view of the context. */
export function deviceStoreOf(ctx: AppContext): DeviceStore {
  return { db: ctx.db, shippedTablesDir: ctx.shipped.latencyTables, dataDir: ctx.dataDir };
}
