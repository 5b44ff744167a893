// A whole `nas run` job in its child process (the service's default), its
// process killed with SIGKILL as a crash would: the job, its search and its
// model row always end in one consistent state. A cancel asked before the
// kill wins (all cancelled); a crash is retried from the run's checkpoints
// while the queue's attempts allow (the run then succeeds); with no attempt
// left every open row ends failed, naming the crash. Waits are on events
// (progress of a stage), never on time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import { insertRunModel, resolveRunOptions } from '../../src/app/run.ts';
import { createSearch } from '../../src/app/search.ts';
import { dataPaths } from '../../src/config/paths.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { killJobProcesses, processHandlers } from '../../src/jobs/process.ts';
import { openDb } from '../../src/store/db.ts';
import { getModel } from '../../src/store/models.ts';
import { findSearch } from '../../src/store/searches.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const tiny = { subset: 48, validationSubset: 24, epochs: 1, batchSize: 16, bnRecalibrationImages: 0 };

/** A search and a run model on synthetic data, queued as a 'run' job on a child-process queue. */
async function setup(o: { maxTrials: number; finalEpochs: number; maxAttempts?: number }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'run-crash-'));
  dirs.push(dataDir);
  const db = openDb(dataPaths(dataDir).store);
  const datasetOptions = { cacheDir: join(dataDir, 'datasets') };
  const search = await createSearch(db, {
    dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', maxTrials: o.maxTrials, maxParallelTrials: 1, proxy: tiny,
  }, { owner: null, deps: { db, datasetOptions } });
  const options = resolveRunOptions({
    dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, mode: 'soft', scaleUpSlack: 1, formats: ['tflite'],
    search: { strategy: 'random', maxTrials: o.maxTrials }, proxy: tiny, final: { epochs: o.finalEpochs, batchSize: 16, bnRecalibrationImages: 0 },
  });
  const model = await insertRunModel(db, options, { searchId: search.id, deps: { datasetOptions } });
  const queue = new InProcessQueue({ db, concurrency: 1, maxAttempts: o.maxAttempts, handlers: processHandlers({ dataDir }) });
  const events: NasEvent[] = [];
  queue.events.subscribe(search.id, (e) => events.push(e));
  await queue.start();
  const jobId = await queue.enqueue('run', { searchId: search.id, modelId: model.id }, null, { searchId: search.id });
  /** resolves at the first event matching `f` (bounded so a hang fails with what was seen) */
  const seen = async (f: (e: NasEvent) => boolean, what: string) => {
    for (let i = 0; i < 6000; i++) {
      if (events.some(f)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`no ${what}; events: ${events.map((e) => e.type).join(', ')}`);
  };
  /** the job's end (a retried job goes back to the queue first) */
  const ended = async () => {
    for (let i = 0; i < 6000; i++) {
      const j = (await queue.get(jobId))!;
      if (['succeeded', 'failed', 'cancelled'].includes(j.status)) return j;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`job ${jobId} did not end`);
  };
  return { db, queue, search, model, jobId, events, seen, ended };
}

const inFinalTraining = (e: NasEvent) => e.type === 'progress' && e.stage === 'final-training' && e.unit === 'epoch';

describe('a run job whose process is killed (SIGKILL)', () => {
  it('a cancel asked before the kill wins: job, model and the search view all end cancelled', { timeout: 300_000 }, async () => {
    const { db, queue, search, model, jobId, seen } = await setup({ maxTrials: 1, finalEpochs: 1000 });
    await seen(inFinalTraining, 'final-training progress');
    // the cancel is recorded, and the process dies before it could act on it
    void queue.cancel(jobId);
    killJobProcesses();
    await queue.idle();
    const job = (await queue.get(jobId))!;
    assert.equal(job.status, 'cancelled', job.error ?? '');
    assert.match(job.error ?? '', /cancelled \(the job's process exited \(signal SIGKILL\)/);
    const m = getModel(db, model.id);
    assert.equal(m.status, 'cancelled', `model ${m.status} in stage ${m.stage}: ${m.error}`);
    assert.equal(m.stage, 'final-training');
    // the search stage had finished before: its own record stays
    assert.equal(findSearch(db, search.id)!.status, 'succeeded');
    await queue.close();
    db.close();
  });

  it('is retried from its checkpoints while attempts allow, and the run then succeeds', { timeout: 300_000 }, async () => {
    const { db, queue, model, jobId, events, seen, ended } = await setup({ maxTrials: 1, finalEpochs: 150 });
    await seen(inFinalTraining, 'final-training progress');
    killJobProcesses();
    const job = await ended();
    await queue.idle();
    assert.equal(job.status, 'succeeded', job.error ?? '');
    assert.equal(job.attempts, 2);
    assert.ok(events.some((e) => e.type === 'log' && /signal SIGKILL.*retrying from its last checkpoint \(attempt 2 of 3\)/.test(e.message)));
    const m = getModel(db, model.id);
    assert.equal(m.status, 'succeeded');
    assert.equal(m.stage, 'done');
    // the second attempt resumed after the search: one stage-changed 'search' in all
    assert.equal(events.filter((e) => e.type === 'stage-changed' && e.stage === 'search').length, 1);
    await queue.close();
    db.close();
  });

  it('with no attempt left, every open row ends failed naming the crash (killed mid-search: job, search and model)', { timeout: 300_000 }, async () => {
    const { db, queue, search, model, jobId, seen } = await setup({ maxTrials: 200, finalEpochs: 1, maxAttempts: 1 });
    await seen((e) => e.type === 'trial-finished', 'a finished trial');
    killJobProcesses();
    await queue.idle();
    const job = (await queue.get(jobId))!;
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', /process exited \(signal SIGKILL\)/);
    const s = findSearch(db, search.id)!;
    assert.equal(s.status, 'failed', 'the search row is not left running');
    assert.match(s.error ?? '', /SIGKILL/);
    const m = getModel(db, model.id);
    assert.equal(m.status, 'failed', 'the model row is not left running');
    assert.equal(m.stage, 'search');
    assert.match(m.error ?? '', /SIGKILL/);
    await queue.close();
    db.close();
  });
});
