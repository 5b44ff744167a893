// The in-process job runner against a real SQLite store: bounded concurrency,
// events on the bus, failures and cancellation recorded, and restart
// semantics (a job left 'running' by a stopped process resumes; a graceful
// shutdown puts a running job back in the queue). Handlers are small fakes.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { now, type NasEvent } from '../../src/app/events.ts';
import { EventBus } from '../../src/jobs/bus.ts';
import { defaultJobConcurrency, InProcessQueue } from '../../src/jobs/inprocess.ts';
import type { JobHandler } from '../../src/jobs/queue.ts';
import { openDb, type Db } from '../../src/store/db.ts';
import { JobsRepo } from '../../src/store/jobs.ts';

function tempStore(): string {
  return join(mkdtempSync(join(tmpdir(), 'jobs-')), 'nas.sqlite');
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('InProcessQueue', () => {
  it('runs jobs in FIFO order, never more than `concurrency` at once, and records results', async () => {
    const db = openDb(tempStore());
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    const handler: JobHandler = async (job) => {
      active++;
      maxActive = Math.max(maxActive, active);
      order.push((job.payload as { n: number }).n);
      await new Promise((r) => setTimeout(r, 10));
      active--;
      return { status: 'succeeded', result: { doubled: (job.payload as { n: number }).n * 2 } };
    };
    const q = new InProcessQueue({ db, handlers: { search: handler }, concurrency: 1 });
    await q.start();
    const ids = [];
    for (let n = 0; n < 4; n++) ids.push(await q.enqueue('search', { n }, 'key_a', { searchId: `s${n}` }));
    await until(async () => (await q.list({ status: ['succeeded'] })).length === 4, 'all jobs to succeed');
    assert.equal(maxActive, 1);
    assert.deepEqual(order, [0, 1, 2, 3]);
    const j = await q.get(ids[2]!);
    assert.deepEqual(j?.result, { doubled: 4 });
    assert.equal(j?.attempts, 1);
    assert.equal(j?.owner, 'key_a');
    assert.ok(j?.finishedAt);
    assert.equal((await q.list({ owner: 'key_b' })).length, 0);
    await q.close();
    db.close();
  });

  it('runs two at once with concurrency 2', async () => {
    const db = openDb(tempStore());
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    const q = new InProcessQueue({ db, concurrency: 2, handlers: { run: async () => { active++; maxActive = Math.max(maxActive, active); await gate.promise; active--; return { status: 'succeeded' }; } } });
    await q.start();
    for (let n = 0; n < 3; n++) await q.enqueue('run', {}, null);
    await until(() => active === 2, 'two running');
    assert.equal((await q.list({ status: ['queued'] })).length, 1);
    gate.resolve();
    await until(async () => (await q.list({ status: ['succeeded'] })).length === 3, 'all done');
    assert.equal(maxActive, 2);
    await q.close();
    db.close();
  });

  it('publishes the use case\'s events under the search id; a throwing handler fails the job with its message and one failed event', async () => {
    const db = openDb(tempStore());
    const bus = new EventBus();
    const seen: NasEvent[] = [];
    bus.subscribe('s1', (e) => seen.push(e));
    const q = new InProcessQueue({ db, bus, concurrency: 1, handlers: {
      search: async (job, { onEvent }) => {
        onEvent({ type: 'search-started', searchId: job.searchId!, strategy: 'random', trialsBudget: 2, resumed: false, at: now() });
        throw new Error('dataset "nope" is not known');
      },
    } });
    await q.start();
    const id = await q.enqueue('search', {}, 'k', { searchId: 's1' });
    await until(async () => (await q.get(id))?.status === 'failed', 'the job to fail');
    assert.equal((await q.get(id))?.error, 'dataset "nope" is not known');
    assert.deepEqual(seen.map((e) => e.type), ['stage-changed', 'search-started', 'failed']);
    await q.close();
    db.close();
  });

  it('finishes the job row before publishing the use case\'s terminal event (a reader after the event sees the end)', async () => {
    const db = openDb(tempStore());
    const q = new InProcessQueue({ db, concurrency: 1, handlers: {
      search: async (job, { onEvent }) => {
        onEvent({ type: 'done', searchId: job.searchId!, status: 'succeeded', bestTrialId: 't1', at: now() });
        await new Promise((r) => setTimeout(r, 20));
        return { status: 'succeeded', result: { best: 't1' } };
      },
    } });
    const statusAtDone: (string | undefined)[] = [];
    q.events.subscribe('d', (e) => { if (e.type === 'done') statusAtDone.push(new JobsRepo(db).bySearch('d')?.status); });
    await q.start();
    const id = await q.enqueue('search', {}, null, { searchId: 'd' });
    await q.idle();
    assert.deepEqual(statusAtDone, ['succeeded']);
    assert.deepEqual((await q.get(id))?.result, { best: 't1' });
    await q.close();
    db.close();
  });

  it('in a whole-run (kind run) job, the search stage\'s done is a log line; only the run\'s done (with its model) ends the stream', async () => {
    const db = openDb(tempStore());
    const types: string[] = [];
    const q = new InProcessQueue({ db, concurrency: 1, handlers: {
      run: async (job, { onEvent }) => {
        const searchId = job.searchId!;
        onEvent({ type: 'done', searchId, status: 'succeeded', bestTrialId: 't3', at: now() });
        assert.equal(new JobsRepo(db).get(job.id)?.status, 'running');
        onEvent({ type: 'stage-changed', searchId, stage: 'export', at: now() });
        onEvent({ type: 'done', searchId, status: 'succeeded', bestTrialId: 't3', modelId: 'mdl_1', at: now() });
        return { status: 'succeeded' };
      },
    } });
    q.events.subscribe('p', (e) => types.push(e.type === 'log' ? `log:${e.message}` : e.type));
    await q.start();
    const id = await q.enqueue('run', {}, null, { searchId: 'p' });
    await q.idle();
    assert.deepEqual(types, ['stage-changed', 'log:search finished; best trial t3', 'stage-changed', 'done']);
    assert.equal((await q.get(id))?.status, 'succeeded');
    await q.close();
    db.close();
  });

  it('cancels a queued job at once and asks a running one to stop (it keeps what it has)', async () => {
    const db = openDb(tempStore());
    const started = deferred();
    const events: string[] = [];
    const q = new InProcessQueue({ db, concurrency: 1, handlers: {
      search: async (_job, { cancel }) => {
        started.resolve();
        while (!cancel.cancelled) await new Promise((r) => setTimeout(r, 5));
        return { status: 'cancelled', result: { trialsDone: 3 } };
      },
    } });
    q.events.subscribeAll((e) => events.push(`${e.searchId}:${e.type}`));
    await q.start();
    const a = await q.enqueue('search', {}, null, { searchId: 'a' });
    const b = await q.enqueue('search', {}, null, { searchId: 'b' });
    await started.promise;
    assert.equal((await q.cancel(b))?.status, 'cancelled');
    assert.equal((await q.get(a))?.status, 'running');
    await q.cancel(a);
    await until(async () => (await q.get(a))?.status === 'cancelled', 'a cancelled');
    assert.deepEqual((await q.get(a))?.result, { trialsDone: 3 });
    assert.ok(events.includes('a:cancelled') && events.includes('b:cancelled'));
    assert.equal(await q.cancel('job_missing'), undefined);
    await q.close();
    db.close();
  });

  it('resumes a job left running by a process that stopped (resume: true, attempts 2)', async () => {
    const file = tempStore();
    const db1 = openDb(file);
    const first = deferred();
    const q1 = new InProcessQueue({ db: db1, concurrency: 1, handlers: { search: async () => { first.resolve(); return new Promise(() => {}); } } });
    await q1.start();
    const id = await q1.enqueue('search', { budget: 5 }, 'k', { searchId: 's9' });
    await first.promise;
    assert.equal(new JobsRepo(db1).get(id)?.status, 'running');
    // the process "dies": q1 is abandoned without close(); a new process opens the same store
    const db2 = openDb(file);
    const calls: { resume: boolean; attempts: number; payload: unknown }[] = [];
    const q2 = new InProcessQueue({ db: db2, concurrency: 1, handlers: { search: async (job, ctx) => { calls.push({ resume: ctx.resume, attempts: job.attempts, payload: job.payload }); return { status: 'succeeded' }; } } });
    await q2.start();
    await until(async () => (await q2.get(id))?.status === 'succeeded', 'the resumed job');
    assert.deepEqual(calls, [{ resume: true, attempts: 2, payload: { budget: 5 } }]);
    await q2.close();
    db2.close();
    db1.close();
  });

  it('a graceful close puts a running job back in the queue (not cancelled) and the next start resumes it', async () => {
    const file = tempStore();
    const db = openDb(file);
    const started = deferred();
    const q = new InProcessQueue({ db, concurrency: 1, handlers: { search: async (_j, { cancel }) => { started.resolve(); while (!cancel.cancelled) await new Promise((r) => setTimeout(r, 5)); return { status: 'cancelled' }; } } });
    await q.start();
    const id = await q.enqueue('search', {}, null, { searchId: 'g' });
    await started.promise;
    await q.close();
    assert.equal((await q.get(id))?.status, 'queued');
    let resumed = false;
    const q2 = new InProcessQueue({ db, concurrency: 1, handlers: { search: async (_j, ctx) => { resumed = ctx.resume; return { status: 'succeeded' }; } } });
    await q2.start();
    await until(async () => (await q2.get(id))?.status === 'succeeded', 'resumed after restart');
    assert.equal(resumed, true);
    await q2.close();
    db.close();
  });

  it('abandon() (the process is going away) leaves a running job\'s row untouched, whatever its handler reports after', async () => {
    const db = openDb(tempStore());
    const started = deferred();
    const finish = deferred();
    const q = new InProcessQueue({ db, concurrency: 1, handlers: { search: async (job, { onEvent }) => {
      started.resolve();
      await finish.promise;
      onEvent({ type: 'failed', searchId: job.searchId!, error: 'worker killed', at: now() });
      throw new Error('worker killed');
    } } });
    const seen: string[] = [];
    q.events.subscribeAll((e) => seen.push(e.type));
    await q.start();
    const id = await q.enqueue('search', {}, null, { searchId: 'ab' });
    const next = await q.enqueue('search', {}, null, { searchId: 'ab2' });
    await started.promise;
    q.abandon();
    finish.resolve();
    await q.idle();
    assert.equal((await q.get(id))?.status, 'running');
    assert.equal((await q.get(next))?.status, 'queued');
    assert.ok(!seen.includes('failed'));
    db.close();
  });

  it('fails a job interrupted more often than maxAttempts instead of restarting it forever', async () => {
    const db = openDb(tempStore());
    const repo = new JobsRepo(db);
    const job = repo.insert({ kind: 'search', payload: {}, owner: null, searchId: 'crashy' });
    db.prepare("UPDATE jobs SET status = 'running', attempts = 3 WHERE id = ?").run(job.id);
    let called = false;
    const q = new InProcessQueue({ db, maxAttempts: 3, handlers: { search: async () => { called = true; return { status: 'succeeded' }; } } });
    await q.start();
    const rec = await q.get(job.id);
    assert.equal(rec?.status, 'failed');
    assert.match(rec?.error ?? '', /interrupted 3 times/);
    assert.equal(called, false);
    await q.close();
    db.close();
  });

  it('refuses a kind it has no handler for, with a 400', async () => {
    const db: Db = openDb(tempStore());
    const q = new InProcessQueue({ db, handlers: { search: async () => ({ status: 'succeeded' }) } });
    await assert.rejects(q.enqueue('run', {}, null), (e: Error & { status?: number }) => e.status === 400 && /kind 'run'/.test(e.message));
    db.close();
  });

  it('sizes default concurrency to the cores: 1 job on 2 cores', () => {
    assert.equal(defaultJobConcurrency(2), 1);
    assert.equal(defaultJobConcurrency(16), 2);
  });
});

describe('EventBus', () => {
  it('delivers to the search\'s subscribers and drops one that throws without breaking the publisher', () => {
    const bus = new EventBus();
    const got: string[] = [];
    bus.subscribe('x', () => { throw new Error('socket gone'); });
    const off = bus.subscribe('x', (e) => got.push(e.type));
    bus.subscribe('y', (e) => got.push(`y:${e.type}`));
    const e: NasEvent = { type: 'log', searchId: 'x', level: 'info', message: 'hi', at: now() };
    bus.publish(e);
    bus.publish(e);
    assert.deepEqual(got, ['log', 'log']);
    assert.equal(bus.subscriberCount('x'), 1);
    off();
    assert.equal(bus.subscriberCount('x'), 0);
  });
});
