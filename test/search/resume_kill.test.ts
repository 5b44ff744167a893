// Crash safety of a search: `nas search` on the synthetic dataset is killed
// with SIGKILL (its whole process group: the CLI and its training workers)
// while a trial is training, then `nas search resume` finishes it. The
// stored trials must be exactly those of an uninterrupted run with the same
// seed (same architectures in the same order: the strategy continued with the
// state it had), none duplicated, completed ones untouched, the interrupted
// ones run again, the count equal to the budget.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';

const BIN = join(PACKAGE_ROOT, 'bin', 'nas.js');
const TRIALS = 8;
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nas-kill-'));
  dirs.push(d);
  return d;
}

const searchArgs = (dataDir: string) => [BIN, '--data-dir', dataDir, 'search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm',
  '--target-ms', '5', '--strategy', 'random', '--trials', String(TRIALS), '--parallel', '2', '--seed', '11'];

function run(args: string[], detached = false): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const child = spawn(process.execPath, args, { cwd: tmpdir(), detached, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NAS_THREADS: '1' } });
  let out = '';
  child.stdout!.on('data', (b) => { out += b; });
  child.stderr!.on('data', (b) => { out += b; });
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((res) => child.on('exit', (code, signal) => res({ code, signal, out })));
  return { child, done };
}

interface Row { id: string; seq: number; arch_id: string; proposal_id: string; status: string; finished_at: string | null; started_at: string | null; accuracy: number | null }

function readTrials(dataDir: string): Row[] {
  const file = join(dataDir, 'nas.sqlite');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'trials'`).get();
    return hasTable ? (db.prepare('SELECT id, seq, arch_id, proposal_id, status, finished_at, started_at, accuracy FROM trials ORDER BY seq').all() as Row[]) : [];
  } finally {
    db.close();
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FINAL = new Set(['succeeded', 'failed', 'skipped', 'cached']);

describe('kill -9 mid-search, then nas search resume', () => {
  it(`${TRIALS} trials, random strategy, synthetic: exact trial set of an uninterrupted run, no duplicates`, { timeout: 240_000 }, async () => {
    // the reference: the same search, uninterrupted
    const refDir = tmp();
    const ref = await run(searchArgs(refDir)).done;
    assert.equal(ref.code, 0, ref.out);
    const refTrials = readTrials(refDir);
    assert.equal(refTrials.length, TRIALS);

    // the victim: killed (whole process group) once 2 trials completed and one is training
    const dir = tmp();
    const victim = run(searchArgs(dir), true);
    const pgid = victim.child.pid!;
    let before: Row[] = [];
    const deadline = Date.now() + 180_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'the search never reached 2 completed trials with one training');
      const exited = await Promise.race([victim.done.then(() => true), sleep(50).then(() => false)]);
      assert.ok(!exited, 'the search finished before it could be killed mid-trial');
      let rows: Row[];
      try {
        rows = readTrials(dir);
      } catch {
        continue; // store being created
      }
      if (rows.filter((r) => FINAL.has(r.status)).length >= 2 && rows.some((r) => r.status === 'running')) {
        process.kill(-pgid, 'SIGKILL');
        break;
      }
    }
    const killed = await victim.done;
    assert.equal(killed.signal, 'SIGKILL');
    for (let i = 0; i < 100 && groupAlive(pgid); i++) await sleep(50);
    assert.ok(!groupAlive(pgid), 'training workers survived the kill of their process group');
    before = readTrials(dir);
    const completed = before.filter((r) => FINAL.has(r.status));
    const interrupted = before.filter((r) => !FINAL.has(r.status));
    assert.ok(completed.length >= 2 && completed.length < TRIALS, `completed ${completed.length}`);
    assert.ok(interrupted.some((r) => r.status === 'running'), 'no trial was training at the kill');

    const searchId = before[0]!.id.replace(/-t\d+$/, '');
    const resumed = await run([BIN, '--data-dir', dir, 'search', 'resume', searchId]).done;
    assert.equal(resumed.code, 0, resumed.out);
    assert.match(resumed.out, /\(resumed\)/);

    const afterRows = readTrials(dir);
    assert.equal(afterRows.length, TRIALS, 'trial count equals the budget');
    assert.deepEqual(afterRows.map((r) => r.seq), Array.from({ length: TRIALS }, (_, i) => i + 1));
    assert.equal(new Set(afterRows.map((r) => r.proposal_id)).size, TRIALS, 'duplicate proposal ids');
    for (const r of afterRows) assert.ok(FINAL.has(r.status), `trial ${r.id} left ${r.status}`);
    // the same architectures, in the same order, as the uninterrupted run
    assert.deepEqual(afterRows.map((r) => r.arch_id), refTrials.map((r) => r.arch_id));
    assert.deepEqual(afterRows.map((r) => r.proposal_id), refTrials.map((r) => r.proposal_id));
    // completed trials untouched (not run twice), interrupted ones run again under their proposal ids
    for (const c of completed) {
      const a = afterRows.find((r) => r.id === c.id)!;
      assert.deepEqual({ ...a }, { ...c }, `completed trial ${c.id} changed on resume`);
    }
    for (const i of interrupted) {
      const a = afterRows.find((r) => r.id === i.id)!;
      assert.equal(a.proposal_id, i.proposal_id);
      assert.ok(FINAL.has(a.status));
    }
  });
});
