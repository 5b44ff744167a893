// Crash safety of supernet training: `nas supernet train` is killed with
// SIGKILL after some checkpoints, then `nas supernet train` again (same
// dataset) continues the interrupted supernet from its last checkpoint and
// finishes it. The resumed run starts at the checkpointed step (not at 0) and
// ends with the weights an uninterrupted run with the same seed ends with: a
// step depends only on (seed, step index) and the checkpointed state.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';
import { readCheckpointMeta } from '../../src/supernet/checkpoint.ts';

const BIN = join(PACKAGE_ROOT, 'bin', 'nas.js');
const STEPS = 10;
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nas-sn-kill-'));
  dirs.push(d);
  return d;
}

const trainArgs = (dataDir: string) => [BIN, '--data-dir', dataDir, 'supernet', 'train', '--dataset', 'synthetic', '--steps', String(STEPS),
  '--batch-size', '8', '--random-subnets', '1', '--checkpoint-minutes', '0.0001', '--seed', '5'];

function run(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  // one thread: the native kernels then sum in a fixed order, so two runs agree to the last bit
  const child = spawn(process.execPath, args, { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NAS_THREADS: '1' } });
  let out = '';
  child.stdout!.on('data', (b) => { out += b; });
  child.stderr!.on('data', (b) => { out += b; });
  return { child, done: new Promise((res) => child.on('exit', (code, signal) => res({ code, signal, out }))) };
}

interface Row { id: string; status: string; step: number; checkpoint: string | null }

function readSupernets(dataDir: string): Row[] {
  const file = join(dataDir, 'nas.sqlite');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'supernets'`).get()) return [];
    return db.prepare(`SELECT s.id, s.status, s.step, a.path AS checkpoint FROM supernets s LEFT JOIN artifacts a ON a.id = s.checkpoint_artifact_id ORDER BY s.created_at`).all() as Row[];
  } finally {
    db.close();
  }
}

/** The final checkpoint: its step and every stored tensor (master weights, optimizer moments) by name, as raw float32 bytes. */
function finalCheckpoint(dataDir: string): { step: number; optimizerSteps: Record<string, number>; tensors: Map<string, Buffer> } {
  const [row] = readSupernets(dataDir);
  assert.ok(row?.checkpoint, 'a checkpoint is stored');
  const all = readFileSync(join(dataDir, row.checkpoint));
  const meta = readCheckpointMeta(new Uint8Array(all));
  // the weights blob: uint32 header length | JSON [{layer, shapes}] | float32 data in header order
  const body = all.subarray(4 + all.readUInt32LE(0));
  const hl = body.readUInt32LE(0);
  const header = JSON.parse(body.subarray(4, 4 + hl).toString('utf8')) as { layer: string; shapes: number[][] }[];
  const tensors = new Map<string, Buffer>();
  let off = 4 + hl;
  for (const e of header) {
    const n = e.shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0) * 4;
    tensors.set(e.layer, body.subarray(off, off + n));
    off += n;
  }
  return { step: meta.step, optimizerSteps: meta.optimizerSteps, tensors };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 mid-training, then nas supernet train again', () => {
  it(`${STEPS} steps on synthetic: resumes at the last checkpoint and ends with the uninterrupted run's weights`, { timeout: 300_000 }, async () => {
    const refDir = tmp();
    const ref = await run(trainArgs(refDir)).done;
    assert.equal(ref.code, 0, ref.out);
    const want = finalCheckpoint(refDir);
    assert.equal(want.step, STEPS);

    const dir = tmp();
    const victim = run(trainArgs(dir));
    // kill once a few steps are checkpointed (and the run is not finished)
    let killedAt = -1;
    for (let i = 0; i < 1200 && killedAt < 0; i++) {
      const [row] = readSupernets(dir);
      if (row && row.step >= 3 && row.status === 'running') {
        victim.child.kill('SIGKILL');
        killedAt = row.step;
      }
      await sleep(100);
    }
    const v = await victim.done;
    assert.ok(killedAt >= 3, `the victim was killed mid-run (it exited ${v.code}/${v.signal}):\n${v.out}`);
    assert.equal(v.signal, 'SIGKILL');
    const [left] = readSupernets(dir);
    assert.equal(left!.status, 'running', 'a killed run leaves its row running, with its last checkpoint');
    assert.ok(left!.step >= killedAt && left!.step < STEPS);

    const resumed = await run(trainArgs(dir)).done;
    assert.equal(resumed.code, 0, resumed.out);
    assert.match(resumed.out, new RegExp(`resuming at step ${left!.step} of ${STEPS}`));
    const rows = readSupernets(dir);
    assert.equal(rows.length, 1, 'the interrupted supernet was continued, not a new one started');
    assert.equal(rows[0]!.status, 'succeeded');
    const got = finalCheckpoint(dir);
    assert.equal(got.step, STEPS);
    assert.deepEqual(got.optimizerSteps, want.optimizerSteps);
    assert.deepEqual([...got.tensors.keys()].sort(), [...want.tensors.keys()].sort());
    const differ = [...want.tensors].filter(([k, b]) => !got.tensors.get(k)!.equals(b)).map(([k]) => k);
    assert.deepEqual(differ, [], 'final weights and optimizer moments equal the uninterrupted run\'s to the bit');
  });
});
