import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { backupStore, restoreStore, validateStoreFile } from '../../src/store/backup.ts';
import { type Migration, openDb } from '../../src/store/db.ts';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'nas-backup-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Our own two migrations: the test does not depend on the shipped schema's contents.
const migrations: Migration[] = [
  { version: 1, name: 'search', sql: 'CREATE TABLE searches (id TEXT PRIMARY KEY, note TEXT NOT NULL);' },
  { version: 2, name: 'service', sql: 'CREATE TABLE keys (id INTEGER PRIMARY KEY, label TEXT);' },
];
let n = 0;
function freshStore(rows: string[]): string {
  const dir = join(root, `s${++n}`);
  const file = join(dir, 'nas.sqlite');
  const db = openDb(file, { migrations });
  for (const r of rows) db.prepare('INSERT INTO searches (id, note) VALUES (?, ?)').run(r, `note ${r}`);
  db.close();
  return file;
}
const ids = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM searches ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
};
const status = (code: number, re: RegExp) => (e: Error & { status?: number }) => e.status === code && re.test(e.message);

describe('store backup and restore', () => {
  it('backs up online (another connection writing) and restores, keeping the previous store as .bak', async () => {
    const store = freshStore(['a', 'b']);
    const live = openDb(store, { migrations });
    live.prepare('INSERT INTO searches (id, note) VALUES (?, ?)').run('c', 'written in WAL, not yet checkpointed');
    const to = join(root, 'backups', 'one.sqlite');
    const info = await backupStore({ store, to, migrations });
    assert.equal(info.schemaVersion, 2);
    assert.ok(info.sizeBytes > 0);
    assert.deepEqual(ids(to), ['a', 'b', 'c']);
    // an existing backup is not overwritten without force
    await assert.rejects(backupStore({ store, to, migrations }), status(409, /exists/));
    live.prepare('DELETE FROM searches').run();
    // the store is open elsewhere: refused, nothing changed
    assert.throws(() => restoreStore({ store, from: to, migrations }), status(409, /in use by another process/));
    assert.deepEqual(ids(store), []);
    live.close();
    const r = restoreStore({ store, from: to, migrations });
    assert.equal(r.previous, `${store}.bak`);
    assert.deepEqual(ids(store), ['a', 'b', 'c']);
    assert.deepEqual(ids(`${store}.bak`), []);
    // the restored store opens and migrates as usual
    openDb(store, { migrations }).close();
    await backupStore({ store, to, migrations, force: true });
    assert.deepEqual(ids(to), ['a', 'b', 'c']);
  });

  it('refuses files that are not an intact mobile-nas store of a known schema, leaving the store as it was', () => {
    const store = freshStore(['keep']);
    const bad = (name: string) => join(root, name);
    writeFileSync(bad('text.sqlite'), 'hello, not a database');
    const other = new Database(bad('other.sqlite'));
    other.exec('CREATE TABLE t (x)');
    other.close();
    const newer = freshStore(['n']);
    const db = new Database(newer);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (3, ?, ?)').run('future', new Date().toISOString());
    db.close();
    const renamed = freshStore(['r']);
    const db2 = new Database(renamed);
    db2.prepare("UPDATE schema_version SET name = 'something_else' WHERE version = 2").run();
    db2.close();
    const cases: [string, number, RegExp][] = [
      [bad('missing.sqlite'), 404, /no such file/],
      [bad('text.sqlite'), 422, /not an SQLite database/],
      [bad('other.sqlite'), 422, /no schema_version table/],
      [newer, 409, /newer mobile-nas \(schema 3, this version knows up to 2\)/],
      [renamed, 422, /migration 002 is "something_else", this version's is "service"/],
    ];
    for (const [from, code, re] of cases) {
      assert.throws(() => validateStoreFile(from, migrations), status(code, re), from);
      assert.throws(() => restoreStore({ store, from, migrations }), status(code, re), from);
      assert.deepEqual(ids(store), ['keep']);
      assert.ok(!existsSync(`${store}.bak`));
    }
  });

  it('restores into an empty data directory (no previous store)', () => {
    const from = freshStore(['x']);
    const store = join(root, 'empty', 'nas.sqlite');
    const r = restoreStore({ store, from, migrations });
    assert.equal(r.previous, undefined);
    assert.deepEqual(ids(store), ['x']);
  });

  it('nas admin backup / restore on the shipped schema; a bad file is one error line and exit 2', () => {
    const dataDir = join(root, 'cli-data');
    mkdirSync(dataDir, { recursive: true });
    openDb(join(dataDir, 'nas.sqlite')).close();
    const nas = (...args: string[]) => spawnSync(process.execPath, [BIN, 'admin', ...args, '--data-dir', dataDir], { encoding: 'utf8' });
    const file = join(root, 'cli-backup.sqlite');
    const b = nas('backup', file, '--json');
    assert.equal(b.status, 0, b.stderr);
    const info = JSON.parse(b.stdout);
    assert.ok(info.schemaVersion >= 1 && info.file === file);
    const r = nas('restore', file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /previous store kept as .*nas\.sqlite\.bak/);
    writeFileSync(join(root, 'junk.sqlite'), 'junk');
    const bad = nas('restore', join(root, 'junk.sqlite'));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error: .*junk\.sqlite is not an SQLite database\n$/);
    const again = nas('backup', file);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^error: .* exists; choose another file or pass --force/);
  });
});
