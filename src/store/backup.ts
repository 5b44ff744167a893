// Online backup and restore of the SQLite store.
//
// Backup uses SQLite's backup API (better-sqlite3 `db.backup()`), which copies
// a consistent snapshot while a server keeps reading and writing the store;
// the copy is written beside the target and renamed into place, then checked
// like a restore would check it.
//
// Restore checks the file first (an SQLite database, intact, a mobile-nas
// store: `schema_version` rows 1..N whose migration names are this
// version's, N no newer than this version knows), refuses while another
// process has the store open (switching the store out of WAL mode needs
// every other connection closed), keeps the previous store as `<store>.bak`
// and swaps the new file in with one rename, so the store path always holds
// a complete store.

import Database from 'better-sqlite3';
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadMigrations, type Migration, StoreError } from './db.ts';

export interface StoreFileInfo {
  file: string;
  schemaVersion: number;
  sizeBytes: number;
}

const SQLITE_MAGIC = 'SQLite format 3\u0000';

function readHeader(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return buf.subarray(0, n).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** Checks that `file` is an intact mobile-nas store of a schema this version knows; returns its version. */
export function validateStoreFile(file: string, migrations: Migration[] = loadMigrations()): StoreFileInfo {
  if (!existsSync(file)) throw new StoreError(`no such file: ${file}`, 404);
  if (!statSync(file).isFile()) throw new StoreError(`not a file: ${file}`, 400);
  if (readHeader(file) !== SQLITE_MAGIC) throw new StoreError(`${file} is not an SQLite database`, 422);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new StoreError(`${file} is damaged (integrity check: ${String(integrity)})`, 422);
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (!hasTable) throw new StoreError(`${file} is not a mobile-nas store (it has no schema_version table)`, 422);
    const rows = db.prepare('SELECT version, name FROM schema_version ORDER BY version').all() as { version: number; name: string }[];
    if (rows.length === 0) throw new StoreError(`${file} is not a mobile-nas store (no migration recorded)`, 422);
    rows.forEach((r, i) => {
      if (r.version !== i + 1) throw new StoreError(`${file} is not a mobile-nas store (schema versions are not 1..${rows.length})`, 422);
    });
    const version = rows.length;
    if (version > migrations.length) {
      throw new StoreError(`${file} was written by a newer mobile-nas (schema ${version}, this version knows up to ${migrations.length}); upgrade mobile-nas before restoring it`, 409);
    }
    for (const r of rows) {
      const known = migrations[r.version - 1]!;
      if (known.name !== r.name) {
        throw new StoreError(`${file} is not a store of this mobile-nas (its migration ${String(r.version).padStart(3, '0')} is "${r.name}", this version's is "${known.name}")`, 422);
      }
    }
    return { file, schemaVersion: version, sizeBytes: statSync(file).size };
  } finally {
    db.close();
  }
}

export interface BackupOptions {
  /** the store file (dataPaths().store) */
  store: string;
  /** the backup file to write */
  to: string;
  /** replace an existing file at `to` */
  force?: boolean;
  migrations?: Migration[];
}

/** Copies the store (online: other processes may keep using it) to `to`. */
export async function backupStore(opts: BackupOptions): Promise<StoreFileInfo> {
  const store = resolve(opts.store);
  const to = resolve(opts.to);
  if (!existsSync(store)) throw new StoreError(`no store at ${store} (nothing to back up)`, 404);
  if (to === store) throw new StoreError('the backup file must not be the store itself', 400);
  if (existsSync(to) && !opts.force) throw new StoreError(`${to} exists; choose another file or pass --force to replace it`, 409);
  mkdirSync(dirname(to), { recursive: true });
  const tmp = `${to}.partial-${process.pid}`;
  const db = new Database(store, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(tmp);
    const copy = new Database(tmp);
    try {
      copy.pragma('journal_mode = DELETE'); // one self-contained file
    } finally {
      copy.close();
    }
    const info = validateStoreFile(tmp, opts.migrations);
    renameSync(tmp, to);
    return { ...info, file: to };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    db.close();
  }
}

export interface RestoreOptions {
  /** the store file to replace (dataPaths().store) */
  store: string;
  /** the backup to restore */
  from: string;
  migrations?: Migration[];
}

export interface RestoreResult extends StoreFileInfo {
  /** where the previous store was kept (absent when there was none) */
  previous?: string;
}

/** Replaces the store with a validated backup; the previous store stays as `<store>.bak`. */
export function restoreStore(opts: RestoreOptions): RestoreResult {
  const store = resolve(opts.store);
  const from = resolve(opts.from);
  if (from === store) throw new StoreError('the backup file must not be the store itself', 400);
  const info = validateStoreFile(from, opts.migrations);
  mkdirSync(dirname(store), { recursive: true });
  const tmp = `${store}.restore-${process.pid}`;
  copyFileSync(from, tmp);
  let current: Database.Database | undefined;
  try {
    const incoming = new Database(tmp);
    try {
      incoming.pragma('journal_mode = DELETE');
    } finally {
      incoming.close();
    }
    const bak = `${store}.bak`;
    let previous: string | undefined;
    if (existsSync(store)) {
      current = new Database(store, { fileMustExist: true });
      current.pragma('busy_timeout = 0');
      try {
        // Leaving WAL mode checkpoints the WAL into the file and needs every other connection closed.
        current.pragma('journal_mode = DELETE');
        current.exec('BEGIN EXCLUSIVE');
      } catch (e) {
        throw new StoreError(`the store ${store} is in use by another process (a running server or worker?); stop it before restoring (${(e as Error).message})`, 409);
      }
      rmSync(bak, { force: true });
      linkSync(store, bak);
      previous = bak;
    }
    renameSync(tmp, store);
    for (const side of ['-wal', '-shm']) rmSync(`${store}${side}`, { force: true });
    return { ...info, file: store, previous };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    if (current?.inTransaction) current.exec('ROLLBACK');
    current?.close();
  }
}
