// Every strategy through the runner (fake executor, synthetic): the budget is
// met, the reward curve is stored, and a search cancelled midway then resumed
// stores exactly the trials of an uninterrupted run with the same seed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import { resumeSearch, runSearch } from '../../src/app/search.ts';
import { setDataDir } from '../../src/config/paths.ts';
import { type Db, openDb } from '../../src/store/db.ts';
import { listTrials } from '../../src/store/trials.ts';
import type { SearchOptionsInput } from '../../src/search/options.ts';
import type { StrategyName } from '../../src/search/strategy.ts';
import { FakeExecutor } from './fakes.ts';

let dir: string;
let db: Db;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nas-runner-strat-'));
  setDataDir(dir);
  db = openDb(join(dir, 'nas.sqlite'));
});
after(() => {
  db.close();
  setDataDir(undefined);
  rmSync(dir, { recursive: true, force: true });
});

const TRIALS = 10;
const opts = (strategy: StrategyName): SearchOptionsInput => ({
  dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1, strategy, maxTrials: TRIALS, seed: 7,
  strategyOptions: { batchSize: 4, population: 4, sampleSize: 2 },
});

for (const strategy of ['random', 'evolution', 'rl'] as const) {
  describe(`runner with strategy ${strategy}`, () => {
    it(`${TRIALS} trials; cancel after 5 + resume = the uninterrupted run's trials`, async () => {
      const events: NasEvent[] = [];
      const ref = await runSearch(opts(strategy), { onEvent: (e) => events.push(e), deps: { db, executor: new FakeExecutor({ concurrency: 1 }) } });
      assert.equal(ref.status, 'succeeded');
      const refTrials = listTrials(db, ref.searchId);
      assert.equal(refTrials.length, TRIALS);
      const updates = events.filter((e) => e.type === 'controller-updated');
      assert.ok(updates.length >= 1, 'no controller-updated event');
      assert.equal(ref.report.rewardCurve.length, updates.length);

      const cancel = { cancelled: false };
      const onEvent = (e: NasEvent) => { if (e.type === 'trial-finished' && e.trialsDone >= 5) cancel.cancelled = true; };
      const first = await runSearch(opts(strategy), { onEvent, cancel, deps: { db, executor: new FakeExecutor({ concurrency: 1 }) } });
      assert.equal(first.status, 'cancelled');
      assert.equal(listTrials(db, first.searchId).length, 5);
      const resumed = await resumeSearch(first.searchId, { deps: { db, executor: new FakeExecutor({ concurrency: 1 }) } });
      assert.equal(resumed.status, 'succeeded');
      const trials = listTrials(db, first.searchId);
      assert.deepEqual(trials.map((t) => t.archId), refTrials.map((t) => t.archId));
      assert.deepEqual(trials.map((t) => t.proposalId), refTrials.map((t) => t.proposalId));
      assert.deepEqual(trials.map((t) => t.reward), refTrials.map((t) => t.reward));
      assert.deepEqual(resumed.report.rewardCurve, ref.report.rewardCurve);
    });
  });
}
