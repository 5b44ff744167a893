// Jobs in child processes (the service's default): the real search use case
// runs in a forked child on a temporary store, its events reach the parent's
// bus in order and the job row ends with the outcome; cancel reaches the
// child; a child that dies, with no attempt left to retry it, fails its job
// with a message saying so (retries and the rows a job owns: test/jobs/run-crash.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSearch } from '../../src/app/search.ts';
import { dataPaths } from '../../src/config/paths.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { killJobProcesses, processHandlers } from '../../src/jobs/process.ts';
import { openDb } from '../../src/store/db.ts';
import { findSearch } from '../../src/store/searches.ts';

async function setup(maxTrials: number, maxAttempts?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobs-proc-'));
  const db = openDb(dataPaths(dataDir).store);
  const search = await createSearch(db, {
    dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', maxTrials, maxParallelTrials: 1,
    proxy: { subset: 48, validationSubset: 24 },
  }, { owner: null, deps: { db, datasetOptions: { cacheDir: join(dataDir, 'datasets') } } });
  const queue = new InProcessQueue({ db, concurrency: 1, maxAttempts, handlers: processHandlers({ dataDir }) });
  return { dataDir, db, search, queue };
}

describe('jobs in child processes', () => {
  it('runs a real search in a child: events in order on the parent bus, job and search rows succeeded', { timeout: 180_000 }, async () => {
    const { db, search, queue } = await setup(2);
    const types: string[] = [];
    queue.events.subscribe(search.id, (e) => types.push(e.type));
    await queue.start();
    const id = await queue.enqueue('search', { searchId: search.id }, null, { searchId: search.id });
    await queue.idle();
    const job = await queue.get(id);
    assert.equal(job?.status, 'succeeded', job?.error ?? '');
    assert.equal(findSearch(db, search.id)?.status, 'succeeded');
    assert.equal(types[0], 'stage-changed');
    assert.equal(types[1], 'search-started');
    assert.equal(types.filter((t) => t === 'trial-finished').length, 2, types.join(','));
    assert.equal(types.at(-1), 'done');
    await queue.close();
    db.close();
  });

  it('delivers cancel to the child (the search stops and keeps its trials) and fails the job of a child that dies', { timeout: 180_000 }, async () => {
    const { db, search, queue } = await setup(50, 1);
    const trials: string[] = [];
    queue.events.subscribe(search.id, (e) => { if (e.type === 'trial-finished') trials.push(e.trialId); });
    await queue.start();
    const id = await queue.enqueue('search', { searchId: search.id }, null, { searchId: search.id });
    for (let i = 0; i < 1200 && trials.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(trials.length >= 1, 'a trial finished');
    await queue.cancel(id);
    await queue.idle();
    assert.equal((await queue.get(id))?.status, 'cancelled');
    const s = findSearch(db, search.id)!;
    assert.equal(s.status, 'cancelled');

    // resume it, then kill its process: the job fails naming the cause, the search keeps its trials
    const again = await queue.enqueue('search', { searchId: search.id }, null, { searchId: search.id });
    for (let i = 0; i < 600 && (await queue.get(again))?.status !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    killJobProcesses();
    await queue.idle();
    const j = await queue.get(again);
    assert.equal(j?.status, 'failed');
    assert.match(j?.error ?? '', /process exited \(signal SIGKILL\)/);
    await queue.close();
    db.close();
  });
});
