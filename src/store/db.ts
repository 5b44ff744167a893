// The SQLite store (better-sqlite3): one file under the data directory, WAL
// journal, numbered migrations. Migrations are SQL files in
// src/store/migrations named NNN_name.sql, applied in order inside one
// transaction each; `schema_version` records each one applied. A store
// written by a newer schema (a version this code does not know) is refused,
// never migrated down.

import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shippedPaths } from '../config/paths.ts';

export type Db = Database.Database;

export class StoreError extends Error {
  readonly status: number;
  constructor(message: string, status = 500) {
    super(message);
    this.name = 'StoreError';
    this.status = status;
  }
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations shipped with the package, ordered by version. */
export function loadMigrations(dir: string = shippedPaths.migrations): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(f);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, f), 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreError(`migrations must be numbered 001, 002, ... without gaps; found ${String(m.version).padStart(3, '0')}_${m.name}.sql at position ${i + 1}`);
  });
  return out;
}

export interface OpenOptions {
  /** migrations to apply (default: the shipped ones) */
  migrations?: Migration[];
  readonly?: boolean;
}

/** Open (creating if needed) the store at `file` and bring its schema up to date. */
export function openDb(file: string, opts: OpenOptions = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { readonly: opts.readonly ?? false });
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  try {
    migrate(db, opts.migrations ?? loadMigrations());
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

export function migrate(db: Db, migrations: Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const current = schemaVersion(db);
  const known = migrations.length;
  if (current > known) {
    throw new StoreError(`this store was written by a newer version of mobile-nas (schema ${current}, this version knows up to ${known}); upgrade mobile-nas instead of opening it with an older one`, 409);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
  }
}
