// Migration 001 and the search repositories: searches, trials, strategy
// checkpoints, artifacts; rows validated at the edge.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Db, loadMigrations, openDb, schemaVersion } from '../../src/store/db.ts';
import { claimSearch, finishSearch, getSearch, thisRunner, insertSearch, listSearches, markSearchRunning, runningSearchIds, setSearchBest } from '../../src/store/searches.ts';
import { countTrials, finishTrial, getTrial, insertTrial, listTrials, markTrialRunning, resetInterruptedTrials, type NewTrial } from '../../src/store/trials.ts';
import { KEEP_CHECKPOINTS, latestCheckpoint, saveCheckpoint } from '../../src/store/checkpoints.ts';
import { artifactFile, getArtifact, putArtifact, readArtifact } from '../../src/store/artifacts.ts';
import { resolveSearchOptions } from '../../src/search/options.ts';

let dir: string;
let db: Db;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nas-store-'));
  db = openDb(join(dir, 'nas.sqlite'));
});
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const opts = () => resolveSearchOptions({ dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 2, maxTrials: 5 });
const trial = (searchId: string, proposalId: string, archId = `arch-${proposalId}`): NewTrial => ({
  searchId, archId, spec: { version: 1 }, decisions: [[0, 1, 2]], proposalId, latencyMs: 1.5, coverage: 0.9, macs: 1000, params: 200, evaluator: 'proxy',
});

describe('migration 001_search', () => {
  it('is the first shipped migration and creates the four tables', () => {
    const m = loadMigrations();
    assert.equal(m[0]!.version, 1);
    assert.equal(m[0]!.name, 'search');
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
    for (const t of ['searches', 'trials', 'strategy_checkpoints', 'artifacts']) assert.ok(tables.includes(t), t);
    assert.equal(schemaVersion(db), m.length);
  });

  it('reopening applies nothing twice', () => {
    const file = join(dir, 'twice.sqlite');
    openDb(file).close();
    const again = openDb(file);
    assert.equal(schemaVersion(again), loadMigrations().length);
    again.close();
  });

  it('refuses bad statuses and non-JSON options at the SQL level', () => {
    assert.throws(() => db.prepare(`INSERT INTO searches (id, status, options, created_at, updated_at) VALUES ('x', 'weird', '{}', 't', 't')`).run(), /CHECK/);
    assert.throws(() => db.prepare(`INSERT INTO searches (id, status, options, created_at, updated_at) VALUES ('y', 'queued', 'not json', 't', 't')`).run(), /CHECK/);
  });
});

describe('searches repository', () => {
  it('insert, get, list, status transitions, best', () => {
    const s = insertSearch(db, opts(), 'key-1');
    assert.equal(s.status, 'queued');
    assert.equal(s.owner, 'key-1');
    assert.deepEqual(s.options, opts());
    markSearchRunning(db, s.id);
    assert.ok(runningSearchIds(db).includes(s.id));
    setSearchBest(db, s.id, 'trial-x');
    finishSearch(db, s.id, 'failed', 'boom');
    const g = getSearch(db, s.id);
    assert.equal(g.status, 'failed');
    assert.equal(g.error, 'boom');
    assert.equal(g.bestTrialId, 'trial-x');
    assert.ok(g.finishedAt);
    assert.ok(listSearches(db, { owner: 'key-1' }).some((x) => x.id === s.id));
    assert.ok(!listSearches(db, { owner: 'someone-else' }).some((x) => x.id === s.id));
  });

  it('claim: refused (409) while another live process runs it, taken over from a dead one', () => {
    const s = insertSearch(db, opts());
    claimSearch(db, s.id);
    assert.equal(getSearch(db, s.id).runner, thisRunner());
    claimSearch(db, s.id); // the same process may claim again
    db.prepare('UPDATE searches SET runner = ? WHERE id = ?').run(`${hostname()}:${process.ppid}`, s.id);
    assert.throws(() => claimSearch(db, s.id), (e: Error & { status?: number }) => e.status === 409 && /being run by process/.test(e.message));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    db.prepare('UPDATE searches SET runner = ? WHERE id = ?').run(`${hostname()}:${dead}`, s.id);
    claimSearch(db, s.id);
    assert.equal(getSearch(db, s.id).runner, thisRunner());
    finishSearch(db, s.id, 'succeeded');
    assert.equal(getSearch(db, s.id).runner, null);
  });

  it('unknown id: 404 naming it', () => {
    assert.throws(() => getSearch(db, 'nope'), (e: Error & { status?: number }) => e.status === 404 && /nope/.test(e.message));
  });

  it('a row whose stored options no longer validate is refused loudly', () => {
    db.prepare(`INSERT INTO searches (id, status, options, created_at, updated_at) VALUES ('bad-opts', 'queued', '{"dataset":"x"}', 't', 't')`).run();
    assert.throws(() => getSearch(db, 'bad-opts'), /stored search options are invalid/);
  });
});

describe('trials repository', () => {
  it('seq per search, UNIQUE(search, proposal id), lifecycle, counts', () => {
    const s = insertSearch(db, opts());
    const a = insertTrial(db, trial(s.id, 'p1'));
    const b = insertTrial(db, trial(s.id, 'p2'));
    assert.equal(a.seq, 1);
    assert.equal(b.seq, 2);
    assert.equal(a.status, 'pending');
    assert.throws(() => insertTrial(db, trial(s.id, 'p1')), /UNIQUE/);
    markTrialRunning(db, a.id);
    assert.equal(getTrial(db, a.id).status, 'running');
    finishTrial(db, a.id, { status: 'succeeded', accuracy: 0.8, reward: 0.79, wallMs: 1234, epochAccuracies: [0.7, 0.8] });
    const got = getTrial(db, a.id);
    assert.equal(got.accuracy, 0.8);
    assert.deepEqual(got.epochAccuracies, [0.7, 0.8]);
    assert.deepEqual(got.decisions, [[0, 1, 2]]);
    // a result is stored once
    assert.throws(() => finishTrial(db, a.id, { status: 'failed', accuracy: null, reward: null, wallMs: 1 }), /already stored/);
    markTrialRunning(db, b.id);
    assert.equal(resetInterruptedTrials(db, s.id), 1);
    assert.equal(getTrial(db, b.id).status, 'pending');
    assert.deepEqual(countTrials(db, s.id), { total: 2, succeeded: 1, failed: 0, skipped: 0, cached: 0, unfinished: 1 });
    assert.deepEqual(listTrials(db, s.id).map((t) => t.proposalId), ['p1', 'p2']);
  });

  it('trials go with their search (ON DELETE CASCADE)', () => {
    const s = insertSearch(db, opts());
    insertTrial(db, trial(s.id, 'p1'));
    saveCheckpoint(db, s.id, { a: 1 }, { updates: 0, rewardCurve: [] });
    db.prepare('DELETE FROM searches WHERE id = ?').run(s.id);
    assert.equal(listTrials(db, s.id).length, 0);
    assert.equal(latestCheckpoint(db, s.id), null);
  });
});

describe('strategy checkpoints', () => {
  it('latest wins; only the last few are kept', () => {
    const s = insertSearch(db, opts());
    for (let i = 1; i <= 6; i++) saveCheckpoint(db, s.id, { step: i }, { updates: i, rewardCurve: [i] });
    const c = latestCheckpoint(db, s.id)!;
    assert.deepEqual(c.state, { step: 6 });
    assert.deepEqual(c.stats, { updates: 6, rewardCurve: [6] });
    const n = (db.prepare('SELECT COUNT(*) AS n FROM strategy_checkpoints WHERE search_id = ?').get(s.id) as { n: number }).n;
    assert.equal(n, KEEP_CHECKPOINTS);
  });
});

describe('artifacts', () => {
  it('stored under the data dir with path relative to it, sha256 and size; corruption detected', () => {
    const bytes = new TextEncoder().encode('hello artifact');
    const a = putArtifact(db, 'weights', 'model.bin', bytes, dir);
    assert.ok(!a.path.startsWith('/'));
    assert.match(a.path, /^artifacts\/weights\//);
    assert.equal(a.sizeBytes, bytes.byteLength);
    assert.equal(a.sha256, createHash('sha256').update('hello artifact').digest('hex'));
    assert.deepEqual(getArtifact(db, a.id), a);
    assert.deepEqual(readArtifact(db, a.id, dir), bytes);
    writeFileSync(artifactFile(a, dir), 'tampered!!!!!!');
    assert.throws(() => readArtifact(db, a.id, dir), /does not match its stored checksum/);
  });

  it('refuses names that could escape the folder', () => {
    assert.throws(() => putArtifact(db, 'weights', '../x', new Uint8Array(1), dir), (e: Error & { status?: number }) => e.status === 400);
  });
});
