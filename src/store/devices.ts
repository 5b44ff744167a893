// Devices in the store: the shipped ones (device-profiles/ + latency-tables/,
// seeded as built-in devices whose shipped table is version 1) and devices an
// admin registered. Each device may hold a per-device upload token (hashed).

import { existsSync } from 'node:fs';
import { existsSync as exists, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listDevices, validateDeviceProfile, type DeviceProfile } from '../latency/device.ts';
import { loadTable, tablePath } from '../latency/table.ts';
import type { Db } from './db.ts';
import { sha256Hex } from './keys.ts';

export interface DeviceRecord {
  profile: DeviceProfile;
  builtin: boolean;
  /** current latency-table version (null: no table yet) */
  currentVersion: number | null;
  hasUploadToken: boolean;
  createdBy: string | null;
  createdAt: string;
}

interface Row {
  id: string; profile_json: string; builtin: number; upload_token_sha256: string | null;
  current_version: number | null; created_by: string | null; created_at: string;
}

const toRecord = (r: Row): DeviceRecord => ({
  profile: validateDeviceProfile(JSON.parse(r.profile_json), `stored device ${r.id}`),
  builtin: r.builtin === 1, currentVersion: r.current_version, hasUploadToken: r.upload_token_sha256 !== null,
  createdBy: r.created_by, createdAt: r.created_at,
});

export function getDevice(db: Db, id: string): DeviceRecord | null {
  const r = db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
  return r ? toRecord(r) : null;
}

/** SHA-256 of the device's table file the service last wrote to (or accepted in) the data directory; null: none */
export function getMaterializedSha(db: Db, id: string): string | null {
  const r = db.prepare('SELECT materialized_sha256 AS s FROM devices WHERE id = ?').get(id) as { s: string | null } | undefined;
  return r?.s ?? null;
}

export function setMaterializedSha(db: Db, id: string, sha256: string | null): void {
  db.prepare('UPDATE devices SET materialized_sha256 = ? WHERE id = ?').run(sha256, id);
}

export function listStoredDevices(db: Db): DeviceRecord[] {
  return (db.prepare('SELECT * FROM devices ORDER BY builtin DESC, id').all() as Row[]).map(toRecord);
}

/** Insert a device; false when the id is taken. */
export function insertDevice(db: Db, profile: DeviceProfile, opts: { builtin?: boolean; uploadToken?: string; createdBy?: string | null } = {}): boolean {
  const r = db.prepare(`INSERT INTO devices (id, profile_json, builtin, upload_token_sha256, current_version, created_by, created_at)
    VALUES (?, ?, ?, ?, NULL, ?, ?) ON CONFLICT(id) DO NOTHING`).run(
    profile.id, JSON.stringify(profile), opts.builtin ? 1 : 0, opts.uploadToken ? sha256Hex(opts.uploadToken) : null,
    opts.createdBy ?? null, new Date().toISOString());
  return r.changes > 0;
}

/** Replace a device's upload token (the old one stops working). */
export function setUploadToken(db: Db, id: string, token: string): void {
  db.prepare('UPDATE devices SET upload_token_sha256 = ? WHERE id = ?').run(sha256Hex(token), id);
}

/** True when `token` is this device's upload token. */
export function checkUploadToken(db: Db, id: string, token: string): boolean {
  const r = db.prepare('SELECT 1 AS ok FROM devices WHERE id = ? AND upload_token_sha256 = ?').get(id, sha256Hex(token)) as { ok: number } | undefined;
  return r !== undefined;
}

/**
 * Register every shipped device profile as a built-in device, and its
 * shipped table (when there is one) as version 1. Idempotent; never touches
 * versions added since.
 */
export function seedBuiltinDevices(db: Db, profilesDir: string, tablesDir: string): void {
  const profiles = listDevices(profilesDir);
  db.transaction(() => {
    for (const p of profiles) {
      insertDevice(db, p, { builtin: true });
      const has = db.prepare('SELECT 1 FROM table_versions WHERE device_id = ? AND version = 1').get(p.id);
      if (has || !existsSync(tablePath(p.id, tablesDir))) continue;
      const table = loadTable(p.id, tablesDir);
      db.prepare("INSERT INTO table_versions (device_id, version, source, table_json, entries, created_at) VALUES (?, 1, 'shipped', NULL, ?, ?)")
        .run(p.id, Object.keys(table.entries).length, table.createdAt);
      db.prepare('UPDATE devices SET current_version = COALESCE(current_version, 1) WHERE id = ?').run(p.id);
    }
  })();
}

/**
 * Register the device profiles found in the data directory (added by hand or
 * written for registered devices) as non-built-in devices. Invalid files are
 * skipped and reported, never fatal.
 */
export function seedLocalDevices(db: Db, profilesDir: string, onSkip?: (why: string) => void): void {
  if (!exists(profilesDir)) return;
  for (const f of readdirSync(profilesDir).filter((x) => x.endsWith('.json')).sort()) {
    try {
      const p = validateDeviceProfile(JSON.parse(readFileSync(join(profilesDir, f), 'utf8')), join(profilesDir, f));
      if (`${p.id}.json` !== f) throw new Error(`id "${p.id}" does not match the file name`);
      insertDevice(db, p, {});
    } catch (e) {
      onSkip?.(`${join(profilesDir, f)}: skipped (${(e as Error).message})`);
    }
  }
}
