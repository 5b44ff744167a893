// npm run bench:load [-- --seconds 15 --connections 200 --sse 200]
//
// The service under load. `nas serve` runs as a child process on 127.0.0.1
// (loopback only) with a temporary data directory, request logs at "warn"
// (one JSON line per request would measure the terminal, not the service).
// Before the load: a tiny model is trained and exported through the run use
// case (src/app/run.ts: synthetic data, a fixed base architecture, .tflite
// only), owned by the bench's API key, and a search is started over HTTP
// (synthetic data, random strategy, 1000 trials of a tiny proxy recipe, so
// it is still running, training in the service's job process, throughout).
// Then `--sse` EventSource-like connections to GET /v1/searches/{id}/events
// are opened and held for the whole run while autocannon (programmatic API)
// drives `--connections` concurrent connections for `--seconds` each, one
// route after the other: GET /v1/searches/{id}, POST /v1/latency/predict,
// GET /v1/models/{id}/download?format=tflite.
//
// Rate limits: the service limits uploads only (POST /v1/datasets, device
// measurements, src/http/ratelimit.ts); none of the loaded routes has a
// limiter, so one user key drives all the load and a 429 would be a finding.
//
// Server memory: `nas_process_resident_memory_bytes` from the child's
// /metrics before the load (after the model and the search exist) and after.
// Replaces the "## Service under load (bench:load)" section of BENCHMARKS.md.

import autocannon, { type Result } from 'autocannon';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRun } from '../src/app/run.ts';
import { setDataDir, dataPaths } from '../src/config/paths.ts';
import { loadPredictor } from '../src/latency/index.ts';
import { openDb } from '../src/store/db.ts';
import { useTrainingBackend } from '../src/train/backend.ts';
import { commandLine, machineLine, writeBenchmarksSection } from './common.ts';

const HEADING = '## Service under load (bench:load)';
const BIN = fileURLToPath(new URL('../bin/nas.js', import.meta.url));
const DEVICE = 'node-tflite-wasm';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${process.argv[i + 1]}`);
  return v;
}
const SECONDS = flag('seconds', 15);
const CONNECTIONS = flag('connections', 200);
const SSE = flag('sse', 200);

async function startServer(dir: string, admin: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir, '--jobs', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir(), env: { ...process.env, NAS_ADMIN_KEY: admin, NAS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  const base = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    child.once('exit', (code) => reject(new Error(`nas serve exited (${code}) before listening:\n${out}`)));
  });
  return { child, base };
}

async function api<T>(base: string, path: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text.slice(0, 400)}`);
  return JSON.parse(text) as T;
}

async function rssBytes(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^nas_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!m) throw new Error('no nas_process_resident_memory_bytes in /metrics');
  return Number(m[1]);
}

interface SseStats { opened: number; connectMs: number[]; events: number; errors: string[]; closedEarly: number; requests: ClientRequest[] }

/** n EventSource-like connections held open until closeAll(); events counted, any failure recorded. */
function openStreams(base: string, path: string, token: string, n: number): { stats: SseStats; ready: Promise<void>; closeAll(): void } {
  const stats: SseStats = { opened: 0, connectMs: [], events: 0, errors: [], closedEarly: 0, requests: [] };
  let closing = false;
  const url = new URL(path, base);
  const ready = Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve) => {
    const t0 = performance.now();
    const req = httpRequest(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        stats.errors.push(`status ${res.statusCode}`);
        res.resume();
        resolve();
        return;
      }
      stats.opened++;
      stats.connectMs.push(performance.now() - t0);
      resolve();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          if (buf.startsWith('event: ')) stats.events++;
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => {
        if (!closing) stats.closedEarly++;
      });
    });
    req.on('error', (e) => {
      if (!closing) stats.errors.push(e.message);
      resolve();
    });
    req.end();
    stats.requests.push(req);
  }))).then(() => undefined);
  return {
    stats, ready,
    closeAll() {
      closing = true;
      for (const r of stats.requests) r.destroy();
    },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const mib = (b: number) => (b / 2 ** 20).toFixed(0);

const loadBefore = os.loadavg()[0]!;
const dir = mkdtempSync(join(os.tmpdir(), 'nas-bench-load-'));
const admin = `nas_bench-${randomBytes(16).toString('hex')}`;
setDataDir(dir);
const { child, base } = await startServer(dir, admin);
try {
  const key = await api<{ id: string; token: string }>(base, '/v1/keys', admin, { name: 'bench-load' });

  // a real model to download: the run use case on tiny synthetic data, from a fixed base architecture
  process.stdout.write('training and exporting a tiny model (run use case)...\n');
  await useTrainingBackend();
  const db = openDb(dataPaths(dir).store);
  const run = await runRun({
    dataset: 'synthetic', deviceId: DEVICE, latencyTargetMs: 1000, mode: 'soft', scaleUpSlack: 1, formats: ['tflite'],
    baseArch: 'stem_k3_s1_c8 ir_r1_k3_s2_e3_c16 ds_r1_k3_s2_c24 head_c32',
    proxy: { epochs: 1, batchSize: 16, bnRecalibrationImages: 0 }, final: { epochs: 1, batchSize: 16 },
  }, { owner: key.id, deps: { db, datasetOptions: { synthetic: { size: 20, perClass: 24 } }, predictor: loadPredictor(DEVICE, { calibration: 'off' }) } });
  db.close();
  if (run.status !== 'succeeded') throw new Error(`the model run ${run.status}: ${run.error}`);
  const tfliteBytes = run.files.find((f) => f.format === 'tflite' && f.name.endsWith('.tflite'));
  process.stdout.write(`model ${run.modelId} (${run.files.length} files)\n`);

  // a search that keeps running through the load
  const search = await api<{ id: string }>(base, '/v1/searches', key.token, {
    dataset: 'synthetic', deviceId: DEVICE, latencyTargetMs: 1000, strategy: 'random',
    budget: { maxTrials: 1000, maxParallelTrials: 1 }, proxy: { subset: 64, validationSubset: 32, epochs: 1, batchSize: 16 },
  });
  for (let i = 0; i < 120; i++) {
    const s = await api<{ status: string }>(base, `/v1/searches/${search.id}`, key.token);
    if (s.status === 'running') break;
    if (s.status !== 'queued') throw new Error(`search ${search.id} is ${s.status} before the load`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const rssBefore = await rssBytes(base);

  process.stdout.write(`opening ${SSE} SSE streams...\n`);
  const sse = openStreams(base, `/v1/searches/${search.id}/events`, key.token, SSE);
  await sse.ready;

  const auth = { Authorization: `Bearer ${key.token}` };
  const routes: { name: string; opts: Parameters<typeof autocannon>[0] }[] = [
    { name: `GET /v1/searches/{id}`, opts: { url: `${base}/v1/searches/${search.id}`, headers: auth } },
    {
      name: 'POST /v1/latency/predict',
      opts: {
        url: `${base}/v1/latency/predict`, method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ deviceId: DEVICE, arch: 'mnasnet-a1', input: '224x224x3', classes: 1000 }),
      },
    },
    { name: 'GET /v1/models/{id}/download?format=tflite', opts: { url: `${base}/v1/models/${run.modelId}/download?format=tflite`, headers: auth } },
  ];
  const results: { name: string; r: Result }[] = [];
  for (const route of routes) {
    process.stdout.write(`${route.name}: ${CONNECTIONS} connections for ${SECONDS} s...\n`);
    const r = await autocannon({ ...route.opts, connections: CONNECTIONS, duration: SECONDS, timeout: 30 });
    results.push({ name: route.name, r });
    process.stdout.write(`  ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}\n`);
  }
  const stillOpen = sse.stats.opened - sse.stats.closedEarly;
  const searchAfter = await api<{ status: string; trialCounts?: Record<string, number> }>(base, `/v1/searches/${search.id}`, key.token);
  const rssAfter = await rssBytes(base);
  sse.closeAll();
  const loadAfter = os.loadavg()[0]!;

  const rows = results.map(({ name, r }) =>
    `| ${name} | ${CONNECTIONS} | ${SECONDS} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r['2xx']} | ${r.non2xx} | ${r.errors + r.timeouts} |`);
  const sseErrors = sse.stats.errors.length + sse.stats.closedEarly;
  const section = [
    HEADING,
    '',
    `Command: \`${commandLine('bench:load')}\` (${new Date().toISOString().slice(0, 10)})`,
    '',
    machineLine(loadBefore, loadAfter),
    '',
    `\`nas serve\` as a child on 127.0.0.1 (temporary data directory, request logs at warn), while a search trains its trials in the service's job process (synthetic data, random strategy, 1 trial at a time; it was \`${searchAfter.status}\` at the end). ` +
    `autocannon ${CONNECTIONS} concurrent connections per route, one route after the other, with ${SSE} SSE streams held open on GET /v1/searches/{id}/events the whole time. ` +
    `The model downloaded is a real export of the run use case (${tfliteBytes ? `.tflite from \`${tfliteBytes.name}\`` : 'tflite'}). ` +
    'Rate limits are not what is measured: the service limits uploads only (datasets, device measurements); none of these routes has a limiter, and one user key drives them all.',
    '',
    '| route | connections | seconds | requests/s | p50 ms | p99 ms | 2xx | non-2xx | errors + timeouts |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `SSE GET /v1/searches/{id}/events: ${sse.stats.opened} of ${SSE} streams opened (time to headers p50 ${pct(sse.stats.connectMs, 50).toFixed(0)} ms, p99 ${pct(sse.stats.connectMs, 99).toFixed(0)} ms), ` +
    `${stillOpen} still open after ${routes.length * SECONDS} s of load, ${sse.stats.events} events received in all (${(sse.stats.events / Math.max(1, sse.stats.opened)).toFixed(1)} per stream: the state snapshot, trial events, heartbeats are comments and not counted), ` +
    `${sseErrors} errors${sse.stats.errors.length ? ` (${[...new Set(sse.stats.errors)].slice(0, 3).join('; ')})` : ''}.`,
    '',
    `Server RSS (/metrics \`nas_process_resident_memory_bytes\`): ${mib(rssBefore)} MiB before the load, ${mib(rssAfter)} MiB after (streams still open).`,
    '',
  ].join('\n');
  writeBenchmarksSection(HEADING, section);
  process.stdout.write(`\n${section}\n`);
  const bad = results.filter(({ r }) => r.non2xx + r.errors + r.timeouts > 0).length + (sseErrors > 0 ? 1 : 0);
  if (bad > 0) process.exitCode = 1;
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
