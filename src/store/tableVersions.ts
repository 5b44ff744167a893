// Latency-table versions of a device. Every accepted upload becomes the next
// version and the current one; nothing is overwritten or deleted, and
// restore points the device back at an earlier version. Version 1 of a
// built-in device is its shipped file, read from the package.

import { loadTable, validateTable, TableError, type LatencyTable } from '../latency/table.ts';
import type { Db } from './db.ts';

export interface TableVersionInfo {
  version: number;
  source: 'shipped' | 'upload' | 'local';
  entries: number;
  createdAt: string;
  current: boolean;
}

interface Row { device_id: string; version: number; source: 'shipped' | 'upload' | 'local'; table_json: string | null; entries: number; created_at: string }

function currentOf(db: Db, deviceId: string): number | null {
  const r = db.prepare('SELECT current_version AS v FROM devices WHERE id = ?').get(deviceId) as { v: number | null } | undefined;
  return r?.v ?? null;
}

export function listVersions(db: Db, deviceId: string): TableVersionInfo[] {
  const cur = currentOf(db, deviceId);
  const rows = db.prepare('SELECT device_id, version, source, entries, created_at FROM table_versions WHERE device_id = ? ORDER BY version').all(deviceId) as Row[];
  return rows.map((r) => ({ version: r.version, source: r.source, entries: r.entries, createdAt: r.created_at, current: r.version === cur }));
}

/** Store `table` as the device's next version and make it current; returns the version. */
export function addVersion(db: Db, deviceId: string, table: LatencyTable, source: 'upload' | 'local' = 'upload'): number {
  validateTable(table);
  if (table.device.id !== deviceId) throw new TableError(`table is for device "${table.device.id}", not "${deviceId}"`, 422);
  return db.transaction(() => {
    const r = db.prepare('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM table_versions WHERE device_id = ?').get(deviceId) as { v: number };
    db.prepare('INSERT INTO table_versions (device_id, version, source, table_json, entries, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(deviceId, r.v, source, JSON.stringify(table), Object.keys(table.entries).length, new Date().toISOString());
    db.prepare('UPDATE devices SET current_version = ? WHERE id = ?').run(r.v, deviceId);
    return r.v;
  })();
}

/** Make an existing version current again. False when the version does not exist. */
export function restoreVersion(db: Db, deviceId: string, version: number): boolean {
  const has = db.prepare('SELECT 1 FROM table_versions WHERE device_id = ? AND version = ?').get(deviceId, version);
  if (!has) return false;
  db.prepare('UPDATE devices SET current_version = ? WHERE id = ?').run(version, deviceId);
  return true;
}

/** A version's table (`version` omitted: the current one), or null when there is none. */
export function getTableVersion(db: Db, deviceId: string, shippedTablesDir: string, version?: number): { info: TableVersionInfo; table: LatencyTable } | null {
  const cur = currentOf(db, deviceId);
  const v = version ?? cur;
  if (v === null) return null;
  const r = db.prepare('SELECT * FROM table_versions WHERE device_id = ? AND version = ?').get(deviceId, v) as Row | undefined;
  if (!r) return null;
  const table = r.source === 'shipped' ? loadTable(deviceId, shippedTablesDir) : validateTable(JSON.parse(r.table_json!), `stored table ${deviceId} v${v}`);
  return { info: { version: r.version, source: r.source, entries: r.entries, createdAt: r.created_at, current: r.version === cur }, table };
}
