// The search use case on the synthetic dataset with an in-process fake
// executor: trials stored, cache hits, failures, budgets, hard-mode skips.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import { runSearch, resumeSearch } from '../../src/app/search.ts';
import { setDataDir } from '../../src/config/paths.ts';
import { type Db, openDb } from '../../src/store/db.ts';
import { latestCheckpoint } from '../../src/store/checkpoints.ts';
import { listTrials } from '../../src/store/trials.ts';
import { getSearch } from '../../src/store/searches.ts';
import { sampleDecisions } from '../../src/space/sampler.ts';
import { SKELETON_SMALL, skeletonFor } from '../../src/space/skeleton.ts';
import { fastestArch } from '../../src/search/fastest.ts';
import { MAX_PROPOSALS_PER_TRIAL } from '../../src/search/runner.ts';
import { type CalibratedPredictor, loadPredictor } from '../../src/latency/index.ts';
import { archId } from '../../src/space/archspec.ts';
import { createRng } from '../../src/space/rng.ts';
import type { SearchOptionsInput } from '../../src/search/options.ts';
import { FakeExecutor, ScriptedStrategy } from './fakes.ts';

let dir: string;
let db: Db;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nas-runner-'));
  setDataDir(dir);
  db = openDb(join(dir, 'nas.sqlite'));
});
after(() => {
  db.close();
  setDataDir(undefined);
  rmSync(dir, { recursive: true, force: true });
});

const base = (o: Partial<SearchOptionsInput> = {}): SearchOptionsInput => ({
  dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 5, strategy: 'random', maxTrials: 6, seed: 3, ...o,
});

function collect() {
  const events: NasEvent[] = [];
  return { events, onEvent: (e: NasEvent) => events.push(e) };
}

describe('runSearch (fake executor, synthetic)', () => {
  it('random strategy, 6 trials: all stored with spec, cost, latency, reward; best and Pareto; checkpoint', async () => {
    const ex = new FakeExecutor();
    const { events, onEvent } = collect();
    const r = await runSearch(base(), { onEvent, deps: { db, executor: ex } });
    assert.equal(r.status, 'succeeded');
    const trials = listTrials(db, r.searchId);
    assert.equal(trials.length, 6);
    assert.equal(new Set(trials.map((t) => t.proposalId)).size, 6);
    for (const t of trials) {
      assert.ok(['succeeded', 'cached'].includes(t.status), t.status);
      assert.ok(t.latencyMs > 0 && t.macs > 0 && t.params > 0);
      assert.ok(t.accuracy! >= 0.5 && t.reward! > 0);
    }
    assert.equal(ex.requests.length, trials.filter((t) => t.status === 'succeeded').length);
    assert.ok(r.report.best);
    assert.equal(getSearch(db, r.searchId).bestTrialId, r.report.best!.id);
    const maxReward = Math.max(...trials.filter((t) => t.latencyMs <= 5).map((t) => t.reward!));
    assert.equal(r.report.best!.reward, maxReward);
    assert.ok(r.report.pareto.length >= 1);
    for (const p of r.report.pareto) {
      assert.ok(!trials.some((q) => q.accuracy! > p.accuracy! && q.latencyMs < p.latencyMs), 'pareto point dominated');
    }
    assert.ok(latestCheckpoint(db, r.searchId));
    assert.equal(events.filter((e) => e.type === 'trial-finished').length, 6);
    assert.equal(events[0]!.type, 'search-started');
    assert.equal(events.at(-1)!.type, 'done');
  });

  it('a repeated architecture is stored as cached, not trained, counted as a cache hit, and costs no budget', async () => {
    const rng = createRng(5);
    const a = sampleDecisions(SKELETON_SMALL, rng);
    const b = sampleDecisions(SKELETON_SMALL, rng);
    const ex = new FakeExecutor({ concurrency: 1 });
    const { events, onEvent } = collect();
    // budget 2 trained trials: a, (a cached), (a cached), b -> two trained, two cache hits on top
    const r = await runSearch(base({ maxTrials: 2 }), {
      onEvent, deps: { db, executor: ex, createStrategy: () => new ScriptedStrategy([a, a, a, b]) },
    });
    const trials = listTrials(db, r.searchId);
    assert.deepEqual(trials.map((t) => t.status), ['succeeded', 'cached', 'cached', 'succeeded']);
    assert.equal(r.stoppedBy, 'max-trials');
    assert.equal(ex.requests.length, 2);
    assert.equal(trials[1]!.cachedFrom, trials[0]!.id);
    assert.equal(trials[1]!.reward, trials[0]!.reward);
    const last = events.filter((e) => e.type === 'trial-finished').at(-1) as Extract<NasEvent, { type: 'trial-finished' }>;
    assert.equal(last.cacheHits, 2);
    assert.equal(last.trialsDone, 4);
    assert.equal(r.report.counts.cached, 2);
  });

  it('a strategy that only repeats itself is stopped by the proposal bound (50 per budgeted trial)', async () => {
    const a = sampleDecisions(SKELETON_SMALL, createRng(6));
    const ex = new FakeExecutor({ concurrency: 1 });
    const r = await runSearch(base({ maxTrials: 2 }), { deps: { db, executor: ex, createStrategy: () => new ScriptedStrategy([a]) } });
    assert.equal(r.stoppedBy, 'max-proposals');
    assert.equal(ex.requests.length, 1);
    assert.equal(r.report.counts.total, 2 * MAX_PROPOSALS_PER_TRIAL);
    assert.equal(r.report.counts.cached, 2 * MAX_PROPOSALS_PER_TRIAL - 1);
    // maxProposals bounds the samples themselves, cached repeats included (strategies compared at equal samples)
    const capped = await runSearch(base({ maxTrials: 2, maxProposals: 7 }), { deps: { db, executor: new FakeExecutor({ concurrency: 1 }), createStrategy: () => new ScriptedStrategy([a]) } });
    assert.equal(capped.stoppedBy, 'max-proposals');
    assert.equal(capped.report.counts.total, 7);
    assert.equal(capped.report.search.options.maxProposals, 7);
    await assert.rejects(runSearch(base({ maxProposals: 0 }), { deps: { db, executor: new FakeExecutor() } }), /max proposals must be a positive integer, got 0/);
  });

  it('a strategy that waits for its batch (RL-like) is waited for, not stopped', async () => {
    const rng = createRng(8);
    const script = Array.from({ length: 7 }, () => sampleDecisions(SKELETON_SMALL, rng));
    const strategy = new ScriptedStrategy(script, 3);
    const r = await runSearch(base({ maxTrials: 7 }), { deps: { db, executor: new FakeExecutor({ concurrency: 2 }), createStrategy: () => strategy } });
    assert.equal(r.stoppedBy, 'max-trials');
    assert.equal(listTrials(db, r.searchId).length, 7);
    assert.equal(strategy.observed.length, 7);
  });

  it('a failed trial is stored with its error and the search continues', async () => {
    let first = true;
    const ex = new FakeExecutor({ fail: () => { const f = first; first = false; return f; } });
    const r = await runSearch(base({ maxTrials: 4 }), { deps: { db, executor: ex } });
    const trials = listTrials(db, r.searchId);
    assert.equal(trials.length, 4);
    const failed = trials.filter((t) => t.status === 'failed');
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.error!, /fake training failure/);
    assert.equal(failed[0]!.reward, null);
    assert.equal(r.status, 'succeeded');
  });

  it('a search whose trials all fail ends failed, never succeeded', async () => {
    const { events, onEvent } = collect();
    const r = await runSearch(base({ maxTrials: 3 }), { onEvent, deps: { db, executor: new FakeExecutor({ fail: () => true }) } });
    assert.equal(r.status, 'failed');
    assert.match(r.error!, /no trial trained successfully \(3 failed/);
    assert.equal(getSearch(db, r.searchId).status, 'failed');
    assert.equal(events.at(-1)!.type, 'failed');
    assert.equal(r.report.best, null);
  });

  it('max failed trials stops proposing', async () => {
    const r = await runSearch(base({ maxTrials: 20, maxFailedTrials: 2 }), { deps: { db, executor: new FakeExecutor({ concurrency: 1, fail: () => true }) } });
    assert.equal(r.stoppedBy, 'max-failed-trials');
    assert.equal(listTrials(db, r.searchId).length, 2);
  });

  it('wall-time budget stops proposing (and carries over on resume)', async () => {
    const r = await runSearch(base({ maxTrials: 50, maxWallMs: 1 }), { deps: { db, executor: new FakeExecutor({ concurrency: 1 }) } });
    assert.equal(r.stoppedBy, 'wall-time');
    const n = listTrials(db, r.searchId).length;
    assert.ok(n >= 1 && n < 50, `trials ${n}`);
    assert.ok(getSearch(db, r.searchId).elapsedMs >= 1);
  });

  it('hard mode: architectures predicted over skipFactor x T are skipped (reward 0, reason), not trained', async () => {
    const ex = new FakeExecutor();
    // a target low enough that random samples exceed 1.1 x T: twice the fastest architecture of the space
    const input = { height: 12, width: 12, channels: 1 };
    const T = 2 * fastestArch(skeletonFor(input), loadPredictor('node-tflite-wasm'), input, 3).latencyMs;
    const r = await runSearch(base({ mode: 'hard', latencyTargetMs: T, skipFactor: 1.1, maxTrials: 12 }), { deps: { db, executor: ex } });
    const trials = listTrials(db, r.searchId);
    const skipped = trials.filter((t) => t.status === 'skipped');
    assert.ok(skipped.length >= 1, 'expected skipped trials');
    for (const t of skipped) {
      assert.ok(t.latencyMs > 1.1 * T);
      assert.equal(t.reward, 0);
      assert.match(t.reason!, /hard mode: not trained/);
    }
    const trainedIds = new Set(ex.requests.map((q) => q.id));
    for (const t of skipped) assert.ok(!trainedIds.has(t.id));
    for (const t of trials.filter((t) => t.status === 'succeeded')) assert.ok(t.latencyMs <= 1.1 * T);
  });

  it('cancel stops after the trials in flight; resume finishes the budget without rerunning any', async () => {
    const cancel = { cancelled: false };
    const ex = new FakeExecutor({ concurrency: 1 });
    const onEvent = (e: NasEvent) => { if (e.type === 'trial-finished' && e.trialsDone >= 2) cancel.cancelled = true; };
    const r = await runSearch(base({ maxTrials: 6 }), { onEvent, cancel, deps: { db, executor: ex } });
    assert.equal(r.status, 'cancelled');
    assert.equal(listTrials(db, r.searchId).length, 2);
    const r2 = await resumeSearch(r.searchId, { deps: { db, executor: ex } });
    assert.equal(r2.status, 'succeeded');
    const trials = listTrials(db, r.searchId);
    assert.equal(trials.length, 6);
    const trainedIds = ex.requests.map((q) => q.id);
    assert.equal(new Set(trainedIds).size, trainedIds.length, 'a trial was trained twice');
  });

  it('a predictor given in its deps is the one that prices every candidate (searches compared side by side share one unit)', async () => {
    const own = loadPredictor('node-tflite-wasm');
    // the same predictor at half speed: every stored latency must be its price, not a freshly loaded predictor's
    const priced = new Map<string, { slow: number; own: number }>();
    const slow = {
      ...own,
      predict: (...a: Parameters<typeof own.predict>) => {
        const p = own.predict(...a);
        priced.set(archId(a[0]), { slow: 2 * p.latencyMs, own: p.latencyMs });
        return { ...p, latencyMs: 2 * p.latencyMs };
      },
    } as CalibratedPredictor;
    const r = await runSearch(base({ maxTrials: 3 }), { deps: { db, executor: new FakeExecutor(), predictor: slow } });
    assert.equal(r.status, 'succeeded');
    const trials = listTrials(db, r.searchId);
    assert.ok(trials.length >= 3);
    for (const t of trials) {
      const p = priced.get(t.archId);
      assert.ok(p, `trial ${t.archId} was priced by another predictor`);
      assert.ok(Math.abs(t.latencyMs - p.slow) < 1e-9 && p.slow > 1.5 * p.own, `${t.latencyMs} vs ${JSON.stringify(p)}`);
    }
  });

  it('a target below the fastest architecture is refused, naming the fastest predicted latency', async () => {
    await assert.rejects(runSearch(base({ latencyTargetMs: 0.001 }), { deps: { db, executor: new FakeExecutor() } }),
      (e: Error & { status?: number }) => e.status === 400 && /below the fastest architecture .* \d+\.\d{3} ms predicted/.test(e.message));
  });
});
