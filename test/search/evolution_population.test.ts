// Aging evolution keeps only scored members: a hard-mode skip (a floor
// reward given without training) or a failed trial never enters the
// population, so it can never push out a trained member.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runSearch } from '../../src/app/search.ts';
import { setDataDir } from '../../src/config/paths.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { fastestArch } from '../../src/search/fastest.ts';
import { createStrategy, createStrategy as realCreate } from '../../src/search/strategies/index.ts';
import type { Observation, SearchStrategy } from '../../src/search/strategy.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { latestCheckpoint } from '../../src/store/checkpoints.ts';
import { type Db, openDb } from '../../src/store/db.ts';
import { listTrials } from '../../src/store/trials.ts';
import { FakeExecutor } from './fakes.ts';

interface EvoState { population: { proposalId: string; reward: number }[] }

describe('aging evolution population', () => {
  it('an unscored observation (scored: false) or a failure never joins; scored ones do', () => {
    const s = createStrategy('evolution', { skeleton: SKELETON_SMALL, seed: 1, population: 4, sampleSize: 2 });
    const ps = s.propose(4);
    s.observe({ proposalId: ps[0]!.proposalId, reward: 0, scored: false });
    s.observe({ proposalId: ps[1]!.proposalId, reward: null });
    s.observe({ proposalId: ps[2]!.proposalId, reward: 0.7 });
    s.observe({ proposalId: ps[3]!.proposalId, reward: 0.2, scored: true });
    const pop = (s.getState() as EvoState).population;
    assert.deepEqual(pop.map((m) => m.proposalId), [ps[2]!.proposalId, ps[3]!.proposalId]);
    // the two missing members are replaced by new random samples, not by children yet
    assert.equal(s.propose(10).length, 2 + 0 + (pop.length >= 2 ? 8 : 0));
    s.dispose();
  });

  describe('through the runner in hard mode, with many candidates skipped', () => {
    let dir: string;
    let db: Db;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'nas-evo-pop-'));
      setDataDir(dir);
      db = openDb(join(dir, 'nas.sqlite'));
    });
    after(() => {
      db.close();
      setDataDir(undefined);
      rmSync(dir, { recursive: true, force: true });
    });

    it('after every observation, every population member is a trained trial', async () => {
      // a target at which about two thirds of random candidates are predicted over 1.5 T (skipped untrained)
      const input = { height: 12, width: 12, channels: 1 };
      const predictor = loadPredictor('node-tflite-wasm');
      const rng = createRng(5);
      const lat = Array.from({ length: 60 }, () => predictor.predict(sampleArch(SKELETON_SMALL, rng), input, 3).latencyMs).sort((a, b) => a - b);
      const target = Math.max(lat[20]! / 1.5, fastestArch(SKELETON_SMALL, predictor, input, 3).latencyMs);
      const seen = new Map<string, Observation>();
      let checks = 0;
      const violations: string[] = [];
      // the real strategy, watched: what the runner tells it, and its population after each observation
      const createStrategy: typeof realCreate = (name, opts) => {
        const inner = realCreate(name, opts);
        return {
          name: inner.name,
          propose: (n: number) => inner.propose(n),
          getState: () => inner.getState(),
          setState: (st: unknown) => inner.setState(st),
          stats: () => inner.stats(),
          dispose: () => inner.dispose(),
          observe(obs: Observation) {
            inner.observe(obs);
            seen.set(obs.proposalId, obs);
            for (const m of (inner.getState() as EvoState).population) {
              const o = seen.get(m.proposalId);
              if (!o || o.reward === null || o.scored === false) violations.push(`${m.proposalId}: ${JSON.stringify(o)}`);
            }
            checks++;
          },
        } satisfies SearchStrategy;
      };
      const r = await runSearch({
        dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: target, mode: 'hard', strategy: 'evolution', maxTrials: 12, seed: 3,
        strategyOptions: { population: 4, sampleSize: 2 },
      }, { deps: { db, executor: new FakeExecutor({ concurrency: 1 }), createStrategy } });
      const trials = listTrials(db, r.searchId);
      const skipped = trials.filter((t) => t.status === 'skipped');
      assert.ok(skipped.length >= 8, `the target should make many candidates skip (skipped ${skipped.length} of ${trials.length})`);
      assert.ok(skipped.every((t) => seen.get(t.proposalId)?.scored === false), 'the runner reports skips as unscored');
      assert.equal(checks, trials.length);
      assert.deepEqual(violations, []);
      assert.equal((latestCheckpoint(db, r.searchId)!.state as EvoState).population.length, 4);
    });
  });
});
