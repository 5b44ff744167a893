// The search use case (runSearch) with its trials on BullMQ: a real
// redis-server, two real `nas worker` processes with the default training
// process, a tiny random search on the synthetic dataset. The runner sees
// only the TrialExecutor that createTrialExecutor gives for a redis:// URL.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { NasEvent } from '../../src/app/events.ts';
import { runSearch } from '../../src/app/search.ts';
import { setDataDir } from '../../src/config/paths.ts';
import { BullMqExecutor } from '../../src/jobs/bullmq-executor.ts';
import { trialJobId } from '../../src/jobs/bullmq-wire.ts';
import { createTrialExecutor } from '../../src/jobs/executor-factory.ts';
import { type Db, openDb } from '../../src/store/db.ts';
import { listTrials } from '../../src/store/trials.ts';
import { redisSkipReason, type RedisServer, startRedis } from '../helpers/redis.ts';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));
const QUEUE = 'nas-test-search';

function startWorker(redisUrl: string): { child: ChildProcess; lines: string[]; ready: Promise<void> } {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', redisUrl, '--queue', QUEUE, '--concurrency', '1'], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir(),
  });
  const lines: string[] = [];
  let buf = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const onData = (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      if (/ ready worker=/.test(line)) onReady();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return { child, lines, ready };
}

describe('runSearch over BullMQ workers', { skip: redisSkipReason(), timeout: 240_000 }, () => {
  let redis: RedisServer;
  let workers: ReturnType<typeof startWorker>[] = [];
  let dir: string;
  let db: Db;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nas-bullmq-search-'));
    setDataDir(dir);
    db = openDb(join(dir, 'nas.sqlite'));
    redis = await startRedis();
    workers = [startWorker(redis.url), startWorker(redis.url)];
    await Promise.all(workers.map((w) => w.ready));
  });

  after(async () => {
    for (const w of workers) {
      try {
        process.kill(-w.child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await redis?.stop();
    db?.close();
    setDataDir(undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a 4-trial random search: every trained trial ran once on a worker, results stored, search succeeded', async () => {
    const executor = createTrialExecutor({ queue: redis.url, queueName: QUEUE, concurrency: 2 });
    assert.ok(executor instanceof BullMqExecutor);
    const events: NasEvent[] = [];
    try {
      const r = await runSearch({
        dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', maxTrials: 4, maxParallelTrials: 2, seed: 11,
        proxy: { epochs: 1, batchSize: 16, bnRecalibrationImages: 0 },
      }, { onEvent: (e) => events.push(e), deps: { db, executor } });
      assert.equal(r.status, 'succeeded', r.error ?? '');
      const trials = listTrials(db, r.searchId);
      assert.equal(trials.length, 4);
      const trained = trials.filter((t) => t.status === 'succeeded');
      assert.ok(trained.length >= 1);
      for (const t of trained) assert.ok(t.accuracy !== null && t.accuracy >= 0 && t.accuracy <= 1);
      const started = workers.flatMap((w) => w.lines.filter((l) => l.includes(' trial-started ')));
      for (const t of trained) assert.equal(started.filter((l) => l.includes(` job=${trialJobId(t.id)} `)).length, 1, t.id);
      assert.equal(started.length, trained.length, 'nothing else was trained');
      assert.equal(events.filter((e) => e.type === 'trial-finished').length, 4);
    } finally {
      await executor.close();
    }
  });
});
