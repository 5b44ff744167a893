// A crash of the whole service loses no work: `nas serve` (a real child
// process in its own process group) runs a 6-trial search on the synthetic
// dataset; once at least 2 trials have finished, the group (server, job
// process, training workers) is killed with SIGKILL. A new server on the same
// data directory resumes the search to the end: exactly the budget of
// trials, no architecture trained twice, every trial finished before the kill
// unchanged, status succeeded. And a search whose every trial fails ends
// `failed` over the API, never `succeeded`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADMIN = 'nas_crash-test-admin-0123456789abcdef';
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Server { child: ChildProcess; base: string; log: () => string; exited: Promise<void> }

async function startServer(dataDir: string, port: number, env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, ['bin/nas.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NAS_ADMIN_KEY: ADMIN, NAS_LOG_LEVEL: 'warn', NAS_THREADS: '1', ...env },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out = (out + c.toString()).slice(-20_000); });
  child.stderr!.on('data', (c: Buffer) => { out = (out + c.toString()).slice(-20_000); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nas serve exited (${child.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    if (i > 600) throw new Error(`nas serve did not answer /healthz:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base, log: () => out, exited };
}

/** SIGKILL the server's whole process group (server, job process, training workers). */
async function killGroup(s: Server): Promise<void> {
  try { process.kill(-s.child.pid!, 'SIGKILL'); } catch { /* already gone */ }
  await s.exited;
}

async function api(s: Server, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${s.base}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as Json };
}

async function poll(s: Server, id: string, token: string, until: (v: Json) => boolean, what: string, limitMs = 240_000): Promise<Json> {
  const t0 = Date.now();
  for (;;) {
    const r = await api(s, 'GET', `/v1/searches/${id}`, token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (until(r.body)) return r.body;
    if (TERMINAL.includes(r.body.status)) return r.body; // the caller's assertions say what went wrong
    // a bound so a hang fails the test with the server's log rather than stalling the suite (not a timing assertion)
    if (Date.now() - t0 > limitMs) throw new Error(`search ${id}: ${what} did not happen; last state ${JSON.stringify(r.body).slice(0, 1500)}\n${s.log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const recipe = { subset: 48, validationSubset: 24, epochs: 1, batchSize: 16, bnRecalibrationImages: 0 };
const dirs: string[] = [];
const servers: Server[] = [];
after(async () => {
  for (const s of servers) await killGroup(s);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('nas serve killed mid-search (SIGKILL of the process group)', () => {
  it('the restarted server finishes the search: budget trials, none trained twice, finished ones unchanged', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nas-crash-'));
    dirs.push(dataDir);
    const port = await freePort();
    const a = await startServer(dataDir, port);
    servers.push(a);
    const key = await api(a, 'POST', '/v1/keys', ADMIN, { name: 'crash-test' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const token = key.body.token as string;
    const budget = 6;
    const created = await api(a, 'POST', '/v1/searches', token, {
      dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', seed: 3,
      budget: { maxTrials: budget, maxParallelTrials: 2 }, proxy: recipe,
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;

    const finished = (v: Json) => (v.trials as Json[]).filter((t) => t.status === 'succeeded' || t.status === 'failed');
    const mid = await poll(a, id, token, (v) => finished(v).length >= 2, '2 finished trials');
    assert.ok(!TERMINAL.includes(mid.status), `the search ended before the kill (${mid.status}); nothing to resume: ${JSON.stringify(mid).slice(0, 800)}`);
    await killGroup(a);
    // the trials as stored at the kill (read again through the new server: the kill may land between poll and write)
    const b = await startServer(dataDir, port);
    servers.push(b);
    const atKill = finished((await api(b, 'GET', `/v1/searches/${id}`, token)).body);
    assert.ok(atKill.length >= 2, `${atKill.length} finished trials stored at the kill`);
    for (const t of finished(mid)) {
      assert.deepEqual(atKill.find((x) => x.id === t.id), t, `trial ${t.id} seen before the kill is stored as seen`);
    }

    const end = await poll(b, id, token, (v) => TERMINAL.includes(v.status), 'the end of the search');
    assert.equal(end.status, 'succeeded', `${end.error ?? ''}\n${b.log()}`);
    const trials = end.trials as Json[];
    assert.equal(trials.length, budget, `trials: ${trials.map((t) => `${t.seq}:${t.archId}:${t.status}`).join(', ')}`);
    assert.equal(new Set(trials.map((t) => t.id)).size, budget, 'trial ids are unique');
    assert.equal(new Set(trials.map((t) => t.seq)).size, budget, 'trial sequence numbers are unique');
    // an architecture is trained at most once: repeats are only ever served from the cache
    const trained = trials.filter((t) => t.status === 'succeeded' || t.status === 'failed');
    assert.equal(new Set(trained.map((t) => t.archId)).size, trained.length, `an architecture trained twice: ${trained.map((t) => t.archId).join(', ')}`);
    assert.ok(trials.every((t) => ['succeeded', 'failed', 'skipped', 'cached'].includes(t.status)), `unfinished trials: ${JSON.stringify(trials.filter((t) => !TERMINAL.includes(t.status)))}`);
    for (const t of atKill) {
      const now = trials.find((x) => x.id === t.id);
      assert.ok(now, `trial ${t.id} finished before the kill is gone`);
      assert.deepEqual({ accuracy: now.accuracy, reward: now.reward, status: now.status, archId: now.archId, seq: now.seq },
        { accuracy: t.accuracy, reward: t.reward, status: t.status, archId: t.archId, seq: t.seq }, `trial ${t.id} changed after the restart`);
    }
    assert.ok(end.progress.succeeded >= 1);
    assert.ok(end.attempts >= 2, `the job was started again after the kill (attempts ${end.attempts})`);
    await killGroup(b);
    // the store itself: one row per proposal, cached rows point at a trained trial of the same architecture
    const db = new Database(join(dataDir, 'nas.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT id, proposal_id AS proposalId, arch_id AS archId, status, cached_from AS cachedFrom FROM trials WHERE search_id = ?').all(id) as Json[];
      assert.equal(rows.length, budget);
      assert.equal(new Set(rows.map((r) => r.proposalId)).size, budget, 'proposal ids are unique');
      for (const r of rows.filter((x) => x.status === 'cached')) {
        const from = rows.find((x) => x.id === r.cachedFrom);
        assert.ok(from && from.archId === r.archId && from.status !== 'cached', `cached trial ${r.id} points at ${r.cachedFrom}`);
      }
    } finally {
      db.close();
    }
    console.log(`crash: ${finished(mid).length} trials finished when killed (${atKill.length} stored), ${trials.length} at the end: ${trials.map((t) => t.status).join(', ')}; job attempts ${end.attempts}`);
  });
});

describe('a search whose every trial fails', () => {
  it('ends failed over the API, with the trials\' error, never succeeded', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nas-crash-'));
    dirs.push(dataDir);
    // the training workers cannot select a backend (NAS_BACKEND names none): every trial fails in its
    // worker, while the server and the search itself (validation, latency prediction) work
    const s = await startServer(dataDir, await freePort(), { NAS_BACKEND: 'no-such-backend' });
    servers.push(s);
    const created = await api(s, 'POST', '/v1/searches', ADMIN, {
      dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', seed: 5,
      budget: { maxTrials: 2, maxParallelTrials: 2 }, proxy: recipe,
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const end = await poll(s, created.body.id, ADMIN, (v) => TERMINAL.includes(v.status), 'the end of the search');
    assert.equal(end.status, 'failed', JSON.stringify(end).slice(0, 1500));
    assert.match(end.error ?? '', /no trial trained successfully/);
    const trials = end.trials as Json[];
    assert.ok(trials.length >= 1 && trials.every((t) => t.status === 'failed' && (t.error ?? '') !== ''), JSON.stringify(trials));
    assert.equal(end.best, null);
    assert.equal(end.progress.succeeded, 0);
    await killGroup(s);
  });
});
