// The store is the service's record of devices and table versions; searches
// and the CLI read tables and profiles from the data directory
// (`<data dir>/latency-tables/<id>.json`, `<data dir>/device-profiles/<id>.json`,
// then the shipped ones). This module keeps the two in step:
//  - materialize: after an upload or a restore, the device's current table
//    is written to the data directory (removed there when the current one
//    is the shipped version 1, which the shipped file already provides);
//    a registered device's profile is written there too;
//  - import: a table file in the data directory that the service did not
//    write (e.g. a local `nas profile` run) becomes a new 'local' version
//    before anything replaces it, so no measured table is ever lost.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import { saveTable, tablePath, validateTable } from '../latency/table.ts';
import type { Db } from '../store/db.ts';
import { getDevice, getMaterializedSha, listStoredDevices, setMaterializedSha } from '../store/devices.ts';
import { addVersion, getTableVersion } from '../store/tableVersions.ts';

export interface SyncStore {
  db: Db;
  shippedTablesDir: string;
  dataDir: string;
}

const fileSha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Import the data directory's table of `id` as a new 'local' version when it
 * is not the file the service wrote last. An unreadable or invalid file is
 * left alone (reported through `onSkip`). Returns the new version, if any.
 */
export function importLocalTable(store: SyncStore, id: string, onSkip?: (why: string) => void): number | null {
  const path = tablePath(id, dataPaths(store.dataDir).latencyTables);
  if (!existsSync(path)) return null;
  const sha = fileSha(path);
  if (sha === getMaterializedSha(store.db, id)) return null;
  let table;
  try {
    table = validateTable(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (e) {
    onSkip?.(`${path}: ${(e as Error).message}`);
    return null;
  }
  if (table.device.id !== id) {
    onSkip?.(`${path}: table is for device "${table.device.id}"`);
    return null;
  }
  const cur = getTableVersion(store.db, id, store.shippedTablesDir);
  if (cur && JSON.stringify(cur.table.entries) === JSON.stringify(table.entries) && cur.table.createdAt === table.createdAt) {
    setMaterializedSha(store.db, id, sha);
    return null;
  }
  const version = addVersion(store.db, id, table, 'local');
  setMaterializedSha(store.db, id, sha);
  return version;
}

/** Import every device's unknown data-directory table (at service start). */
export function importLocalTables(store: SyncStore, onSkip?: (why: string) => void): void {
  for (const d of listStoredDevices(store.db)) importLocalTable(store, d.profile.id, onSkip);
}

/** Write the device's current table (and a registered device's profile) where searches and the CLI read them. */
export function materializeDevice(store: SyncStore, id: string): void {
  const d = getDevice(store.db, id);
  if (!d) return;
  const paths = dataPaths(store.dataDir);
  if (!d.builtin) {
    mkdirSync(paths.deviceProfiles, { recursive: true });
    const target = join(paths.deviceProfiles, `${id}.json`);
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(d.profile, null, 2) + '\n');
    renameSync(tmp, target);
  }
  const cur = getTableVersion(store.db, id, store.shippedTablesDir);
  const path = tablePath(id, paths.latencyTables);
  if (!cur || cur.info.source === 'shipped') {
    rmSync(path, { force: true });
    setMaterializedSha(store.db, id, null);
    return;
  }
  saveTable(cur.table, paths.latencyTables);
  setMaterializedSha(store.db, id, fileSha(path));
}
