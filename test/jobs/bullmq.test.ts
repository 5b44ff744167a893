// The BullMQ executor against a real redis-server (its own child process,
// test/helpers/redis.ts) and two real `nas worker` processes training tiny
// trials on the synthetic dataset. Worker stdout lines (trial-started /
// trial-finished per job) show which worker ran what, and how many times.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createTrialExecutor, LocalExecutor } from '../../src/jobs/executor-factory.ts';
import { BullMqExecutor } from '../../src/jobs/bullmq-executor.ts';
import { trialJobId } from '../../src/jobs/bullmq-wire.ts';
import { archId, fromWire, parseArchString, toCanonicalJson } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { defaultTrainConfig } from '../../src/train/config.ts';
import type { TrialRequest } from '../../src/train/protocol.ts';
import { redisSkipReason, type RedisServer, startRedis } from '../helpers/redis.ts';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/trial_worker.ts', import.meta.url));
const QUEUE = 'nas-test-trials';
const arch = toCanonicalJson(parseArchString('stem_k3_s1_c8 ir_r1_k3_s2_e3_c8 ds_r1_k3_s2_c16 head_c16', { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head }));
const config = defaultTrainConfig({ epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 0.01, warmupEpochs: 0, restartOnChance: false });
const trial = (id: string, extra: Partial<TrialRequest> = {}): TrialRequest =>
  ({ id, arch, dataset: 'synthetic', datasetOptions: { synthetic: { perClass: 12, size: 12 } }, config, ...extra });

class WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  id = '';
  private waiters: { re: RegExp; resolve: (l: string) => void }[] = [];

  constructor(readonly name: string, redisUrl: string, queue = QUEUE, extra: string[] = []) {
    // Own process group: killing it kills the worker and its training processes, like losing the machine.
    this.child = spawn(process.execPath, [BIN, 'worker', '--redis', redisUrl, '--queue', queue, '--concurrency', '1',
      '--lock-duration-ms', '3000', '--stalled-interval-ms', '1500', '--trial-worker', FIXTURE, ...extra], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir(), // not the checkout: nothing may resolve against the current directory env: { ...process.env, NAS_TEST_SLOW_MS: '5000' },
    });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.lines.push(line);
        const m = / ready worker=(\S+)/.exec(line);
        if (m) this.id = m[1]!;
        this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
  }

  waitFor(re: RegExp): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }

  started(jobId: string): number {
    return this.lines.filter((l) => l.includes(` trial-started job=${jobId} `)).length;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

const skip = redisSkipReason();

describe('distributed trials on BullMQ (redis-server + two nas workers)', { skip, timeout: 240_000 }, () => {
  let redis: RedisServer;
  let a: WorkerProcess;
  let b: WorkerProcess;
  const extraWorkers: WorkerProcess[] = [];
  const workers = () => [a, b];
  const startedTotal = (jobId: string) => a.started(jobId) + b.started(jobId);
  const executors: BullMqExecutor[] = [];
  const executor = (extra: Partial<ConstructorParameters<typeof BullMqExecutor>[0]> = {}) => {
    const e = new BullMqExecutor({ redisUrl: redis.url, queueName: QUEUE, concurrency: 2, reconcileIntervalMs: 1000, retryDelayMs: 200, ...extra });
    executors.push(e);
    return e;
  };

  before(async () => {
    redis = await startRedis();
    a = new WorkerProcess('a', redis.url);
    b = new WorkerProcess('b', redis.url);
    await Promise.all(workers().map((w) => w.waitFor(/ ready worker=/)));
  });

  after(async () => {
    await Promise.allSettled(executors.map((e) => e.close()));
    for (const w of [...workers(), ...extraWorkers]) w?.kill();
    await redis?.stop();
  });

  it('two workers share the trials of one run: every result comes back once, each job is trained once', async () => {
    const ex = executor();
    // the first two wait before training (fixture): the first worker is busy when the second looks for work
    const ids = ['slow-s1:arch-a', 'slow-s1:arch-b', 's1:arch-c', 's1:arch-d'];
    const epochs = new Map<string, number>();
    const outcomes = await Promise.all(ids.map((id) => ex.run(trial(id), () => epochs.set(id, (epochs.get(id) ?? 0) + 1))));
    assert.deepEqual(outcomes.map((o) => (o.ok ? 'ok' : o.error.message)), ids.map(() => 'ok'));
    assert.deepEqual(outcomes.map((o) => o.id).sort(), [...ids].sort());
    for (const o of outcomes) assert.ok(o.ok && o.result.epochs.length === 1 && o.result.valAccuracy >= 0 && o.result.valAccuracy <= 1);
    for (const id of ids) assert.equal(startedTotal(trialJobId(id)), 1, `${id} trained once`);
    assert.ok(a.lines.some((l) => l.includes(' trial-started ')) && b.lines.some((l) => l.includes(' trial-started ')), 'both workers trained trials');
    assert.deepEqual(new Set(outcomes.map((o) => o.worker)), new Set([a.id, b.id]));
    assert.deepEqual(outcomes.map((o) => o.attempts), ids.map(() => 1));
    assert.deepEqual([...epochs.keys()].sort(), [...ids].sort(), 'epoch progress arrived for every trial');
  });

  it('the same (search, arch) added twice, by two executors, trains once and both get its result', async () => {
    const e1 = executor();
    const e2 = executor();
    const req = trial('s2:arch-dup');
    const [o1, o2, o3] = await Promise.all([e1.run(req), e2.run(req), e1.run(req)]);
    assert.ok(o1.ok && o2.ok && o3.ok);
    assert.equal(o1.result.valAccuracy, o2.result.valAccuracy);
    assert.deepEqual(o1.result.lossCurve, o2.result.lossCurve);
    // after completion (a resumed search): the stored result, no training
    const o4 = await executor().run(req);
    assert.ok(o4.ok);
    assert.deepEqual(o4.result.lossCurve, o1.result.lossCurve);
    assert.equal(startedTotal(trialJobId(req.id)), 1);
    // keyed by (search, architecture): two trial ids of one architecture share one job
    const byArch = executor({ jobIdOf: (r) => `s5:${archId(fromWire(r.arch))}` });
    const [t1, t2] = await Promise.all([byArch.run(trial('s5-t0001')), byArch.run(trial('s5-t0002'))]);
    assert.ok(t1.ok && t2.ok);
    assert.deepEqual([t1.id, t2.id], ['s5-t0001', 's5-t0002']);
    assert.deepEqual(t1.result.lossCurve, t2.result.lossCurve);
    assert.equal(startedTotal(trialJobId(`s5:${archId(fromWire(arch))}`)), 1);
  });

  it('a trial failing every attempt comes back ok: false with the reason; bad input is not retried', async () => {
    const ex = executor({ attempts: 2 });
    // one after the other: a worker that dies of the crash takes down whatever else it was running (a crash too)
    const bad = await ex.run(trial('s3:bad-data', { dataset: 'no-such-set' }));
    const crash = await ex.run(trial('crash-1'));
    assert.ok(!crash.ok);
    assert.equal(crash.kind, 'crash');
    assert.equal(crash.attempts, 2);
    assert.match(crash.error.message, /died \(exit code 7\) during trial crash-1: fatal: deliberate crash.*\(after 2 attempts\)/);
    assert.equal(crash.exitCode, 7);
    assert.equal(startedTotal(trialJobId('crash-1')), 2);
    assert.ok(!bad.ok);
    assert.equal(bad.kind, 'error');
    assert.equal(bad.error.status, 400);
    assert.match(bad.error.message, /unknown dataset "no-such-set"/);
    assert.equal(bad.attempts, 1);
    assert.equal(startedTotal(trialJobId('s3:bad-data')), 1);
  });

  it('redis-server restarted (empty) mid-run: the executor and workers reconnect and every trial completes', async () => {
    const warnings: string[] = [];
    const ex = executor({ onWarning: (m) => warnings.push(m) });
    const ids = ['slow-r1', 'slow-r2', 'slow-r3'];
    const done = Promise.all(ids.map((id) => ex.run(trial(id))));
    await Promise.all(workers().map((w) => w.waitFor(/ trial-started job=slow-r/)));
    await redis.restart(1000);
    const outcomes = await done;
    assert.deepEqual(outcomes.map((o) => (o.ok ? 'ok' : o.error.message)), ids.map(() => 'ok'));
    assert.ok(ex.readded >= 1, `lost jobs were added again (warnings: ${warnings.join(' | ')})`);
  });

  it('a worker killed mid-trial (SIGKILL): its job is given to the other worker and completes there', async () => {
    const ex = executor();
    const req = trial('slow-k1');
    const jobId = trialJobId(req.id);
    const outcome = ex.run(req);
    const first = await Promise.race(workers().map((w) => w.waitFor(new RegExp(` trial-started job=${jobId} `)).then(() => w)));
    const other = first === a ? b : a;
    first.kill();
    const o = await outcome;
    assert.ok(o.ok, o.ok ? '' : o.error.message);
    assert.equal(o.attempts, 1, 'the lost attempt is not counted; the one that finished is');
    assert.equal(o.worker, other.id);
    assert.equal(other.started(jobId), 1);
    assert.ok(other.lines.some((l) => l.includes(` trial-finished job=${jobId} ok`)));
  });

  it('no worker on the queue: the executor says so; closing it resolves the waiting trial as failed', async () => {
    const warnings: string[] = [];
    const ex = executor({ queueName: 'nas-test-nobody', onWarning: (m) => warnings.push(m) });
    const outcome = ex.run(trial('s4:arch-waits'));
    while (!warnings.some((w) => /no worker is connected to queue "nas-test-nobody"/.test(w))) await new Promise((r) => setTimeout(r, 200));
    await ex.close();
    const o = await outcome;
    assert.ok(!o.ok);
    assert.match(o.error.message, /closed before the trial finished/);
    await assert.rejects(ex.run(trial('s4:after-close')), /closed/);
  });

  it('a trial whose workers keep dying is stored failed after the stall limit, with the reason', async () => {
    const queue = 'nas-test-stalls';
    const spawnWorker = (name: string) => {
      const w = new WorkerProcess(name, redis.url, queue, ['--max-stalled-count', '0']);
      extraWorkers.push(w);
      return w;
    };
    const ex = executor({ queueName: queue });
    const req = trial('slow-lost');
    const jobId = trialJobId(req.id);
    const c = spawnWorker('c');
    const outcome = ex.run(req);
    await c.waitFor(new RegExp(` trial-started job=${jobId} `));
    c.kill();
    // the next worker's stall check finds the job without a live lock: with --max-stalled-count 0 that is the limit
    const d = spawnWorker('d');
    const o = await outcome;
    assert.ok(!o.ok);
    assert.equal(o.kind, 'crash');
    assert.match(o.error.message, /stalled more than allowable limit \(the worker running it was lost/);
    assert.equal(o.attempts, 1);
    assert.equal(d.started(jobId), 0, 'not trained again past the limit');
  });

  it('SIGTERM stops a worker cleanly (exit 0) after its running trials', async () => {
    const live = workers().find((w) => w.child.exitCode === null && w.child.signalCode === null)!;
    const exited = new Promise<number | null>((r) => live.child.once('exit', (code) => r(code)));
    live.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(live.lines.some((l) => / stopped$/.test(l)), live.lines.slice(-3).join('\n'));
  });
});

describe('nas worker: bad input', () => {
  it('a bad --redis URL, queue name or concurrency is one error line and exit 2', () => {
    for (const [args, re] of [
      [['--redis', 'localhost:6379'], /--redis must be a redis:\/\/ or rediss:\/\/ URL/],
      [['--redis', 'redis://127.0.0.1:1', '--queue', 'a:b'], /queue name must be/],
      [['--redis', 'redis://127.0.0.1:1', '--concurrency', '0'], /--concurrency must be a positive integer, got "0"/],
    ] as [string[], RegExp][]) {
      const r = spawnSync(process.execPath, [BIN, 'worker', ...args], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});

describe('createTrialExecutor', () => {
  it('gives the local pool by default and a BullMQ executor for a redis URL; bad values are 400 errors', async () => {
    const local = createTrialExecutor({ concurrency: 1 });
    assert.ok(local instanceof LocalExecutor);
    assert.equal(local.concurrency, 1);
    await local.close();
    const remote = createTrialExecutor({ queue: 'redis://127.0.0.1:1', queueName: 'q-x', concurrency: 3 });
    assert.ok(remote instanceof BullMqExecutor);
    assert.equal(remote.concurrency, 3);
    assert.equal(remote.queueName, 'q-x');
    await remote.close();
    assert.throws(() => createTrialExecutor({ queue: 'amqp://x' }), (e: Error & { status?: number }) => e.status === 400 && /--queue/.test(e.message));
    assert.throws(() => createTrialExecutor({ queue: 'redis://127.0.0.1:1', queueName: 'a:b' }), (e: Error & { status?: number }) => e.status === 400 && /queue name/.test(e.message));
  });

  it('job ids: the trial id, with ":" and "%" encoded (BullMQ reserves ":"), distinct ids stay distinct', () => {
    assert.equal(trialJobId('search-1:0123abcd'), 'search-1%3A0123abcd');
    assert.notEqual(trialJobId('a:b'), trialJobId('a%3Ab'));
    assert.equal(trialJobId('42'), 't%42');
    assert.throws(() => trialJobId(''), /empty/);
  });
});
