// The strategies against synthetic rewards with a known optimum, and the RL
// controller's own contract (batches, failed trials, exact resume, no tensor
// leaks). Deterministic: every strategy and every target is seeded; nothing
// here measures time.
//
// Fair comparison: each strategy gets the same number of samples N
// (UPDATES x BATCH); a learner must make its LAST architectures (the last two
// batches, 16 samples) better on average than random search's BEST of all N
// samples - the extreme value of N uniform draws, a much higher bar than
// random's mean.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BLOCK_DECISIONS, type Decisions } from '../../src/space/sampler.ts';
import { createRng } from '../../src/space/rng.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { createStrategy } from '../../src/search/strategies/index.ts';
import type { SearchStrategy, StrategyName, StrategyOptions } from '../../src/search/strategy.ts';

const BATCH = 8;
const UPDATES = 20;
const N = UPDATES * BATCH;
const LAST = 2 * BATCH;

type Reward = (d: Decisions) => number;

/** Fraction of the 56 decisions equal to the target's: 1 at the target architecture only. */
function matchReward(target: Decisions): Reward {
  return (d) => {
    let hit = 0;
    let n = 0;
    d.forEach((b, bi) => b.forEach((v, di) => {
      n++;
      if (v === target[bi][di]) hit++;
    }));
    return hit / n;
  };
}

/** Hidden optimum shared by every block (one best choice per decision type, like "ir, k5, e6 everywhere"). */
function sharedTarget(seed: number): Decisions {
  const rng = createRng(seed);
  const perType = BLOCK_DECISIONS.map((d) => rng.int(d.choices.length));
  return SKELETON_SMALL.blocks.map(() => [...perType]);
}

/** Hidden optimum drawn independently for every block and decision (no structure to share). */
function perBlockTarget(seed: number): Decisions {
  const rng = createRng(seed);
  return SKELETON_SMALL.blocks.map(() => BLOCK_DECISIONS.map((d) => rng.int(d.choices.length)));
}

/** Runs a strategy for n samples, batch by batch, observing each batch in reverse order; returns the rewards in proposal order. */
function run(name: StrategyName, reward: Reward, n: number, opts: Partial<StrategyOptions> = {}): { rewards: number[]; s: SearchStrategy } {
  const s = createStrategy(name, { skeleton: SKELETON_SMALL, seed: 5, batchSize: BATCH, ...opts });
  const rewards: number[] = [];
  while (rewards.length < n) {
    const props = s.propose(Math.min(BATCH, n - rewards.length));
    assert.ok(props.length > 0, `${name} stalled`);
    rewards.push(...props.map((p) => reward(p.decisions)));
    for (const p of [...props].reverse()) s.observe({ proposalId: p.proposalId, reward: reward(p.decisions) });
  }
  return { rewards, s };
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

describe('strategies learn a synthetic reward with a known optimum', () => {
  const shared = matchReward(sharedTarget(2024));
  const perBlock = matchReward(perBlockTarget(2025));
  const random = (r: Reward) => run('random', r, N).rewards;

  it(`rl: mean of its last ${LAST} samples beats random search's best of ${N} (optimum shared across blocks)`, (t) => {
    const { rewards, s } = run('rl', shared, N);
    const base = random(shared);
    const last = mean(rewards.slice(-LAST));
    assert.equal(s.stats().updates, UPDATES);
    assert.ok(last > Math.max(...base), `rl last ${last.toFixed(3)} vs random best ${Math.max(...base).toFixed(3)}`);
    assert.ok(last > mean(base) + 0.2, `rl last ${last.toFixed(3)} vs random mean ${mean(base).toFixed(3)}`);
    const curve = s.stats().rewardCurve;
    t.diagnostic(`rl last ${LAST} mean ${last.toFixed(3)}; random best ${Math.max(...base).toFixed(3)}, mean ${mean(base).toFixed(3)}; curve ${curve.map((r) => r.toFixed(2)).join(' ')}`);
    assert.ok(mean(curve.slice(-2)) > mean(curve.slice(0, 2)) + 0.2, `reward curve ${curve.map((r) => r.toFixed(2)).join(' ')}`);
    s.dispose();
  });

  for (const [label, reward, seed] of [['optimum shared across blocks', shared, 5], ['optimum drawn per block', perBlock, 6]] as const) {
    it(`rl with PPO: mean of its last ${LAST} samples beats random search's best of ${N} (${label})`, (t) => {
      const { rewards, s } = run('rl', reward, N, { algorithm: 'ppo', seed });
      const base = random(reward);
      const last = mean(rewards.slice(-LAST));
      const curve = s.stats().rewardCurve;
      t.diagnostic(`ppo last ${LAST} mean ${last.toFixed(3)}; random best ${Math.max(...base).toFixed(3)}, mean ${mean(base).toFixed(3)}; curve ${curve.map((r) => r.toFixed(2)).join(' ')}`);
      assert.equal(s.stats().updates, UPDATES);
      assert.ok(last > Math.max(...base), `ppo last ${last.toFixed(3)} vs random best ${Math.max(...base).toFixed(3)}`);
      s.dispose();
    });
  }

  it('PPO takes several clipped steps per batch: it moves further from one batch than one REINFORCE step does', () => {
    const probe = (algorithm: 'ppo' | 'reinforce') => {
      const s = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 11, batchSize: BATCH, algorithm });
      const ps = s.propose(BATCH);
      for (const p of ps) s.observe({ proposalId: p.proposalId, reward: shared(p.decisions) });
      const state = s.getState() as { policy: { adamSteps: number } };
      s.dispose();
      return state.policy.adamSteps;
    };
    assert.equal(probe('reinforce'), 1);
    assert.equal(probe('ppo'), 4);
    assert.throws(() => createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 1, algorithm: 'a2c' }), /algorithm must be one of reinforce, ppo/);
  });

  for (const [label, reward] of [['optimum shared across blocks', shared], ['optimum drawn per block', perBlock]] as const) {
    it(`evolution: mean of its last ${LAST} samples beats random search's best of ${N} (${label})`, (t) => {
      const { rewards } = run('evolution', reward, N, { population: 16, sampleSize: 4 });
      const base = random(reward);
      const last = mean(rewards.slice(-LAST));
      t.diagnostic(`evolution last ${LAST} mean ${last.toFixed(3)}; random best ${Math.max(...base).toFixed(3)}, mean ${mean(base).toFixed(3)}`);
      assert.ok(last > Math.max(...base), `evolution last ${last.toFixed(3)} vs random best ${Math.max(...base).toFixed(3)}`);
    });
  }

  it('random search does not learn (its last samples are no better than its own mean + noise)', () => {
    const base = random(shared);
    assert.ok(Math.abs(mean(base.slice(-LAST)) - mean(base)) < 0.1);
  });
});

describe('rl controller contract', () => {
  const reward = matchReward(sharedTarget(7));

  it('propose(n) hands out at most the rest of the batch, then waits for all its observations', () => {
    const s = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 1, batchSize: 5 });
    const a = s.propose(3);
    const b = s.propose(3);
    assert.equal(a.length, 3);
    assert.equal(b.length, 2);
    assert.deepEqual(s.propose(4), []);
    for (const p of [...b, ...a.slice(1)]) s.observe({ proposalId: p.proposalId, reward: reward(p.decisions) });
    assert.deepEqual(s.propose(4), [], 'one observation still missing');
    assert.equal(s.stats().updates, 0);
    s.observe({ proposalId: a[0].proposalId, reward: reward(a[0].decisions) });
    assert.equal(s.stats().updates, 1);
    assert.equal(s.propose(9).length, 5);
    s.dispose();
  });

  it('failed trials are left out of the update; a batch of only failures makes no update', () => {
    const s = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 1, batchSize: 4 });
    const ps = s.propose(4);
    const rewards = [0.2, null, 0.6, null];
    ps.forEach((p, i) => s.observe({ proposalId: p.proposalId, reward: rewards[i] }));
    assert.equal(s.stats().updates, 1);
    assert.ok(Math.abs(s.stats().rewardCurve[0] - 0.4) < 1e-12, 'batch mean over the successful trials');
    for (const p of s.propose(4)) s.observe({ proposalId: p.proposalId, reward: null });
    assert.equal(s.stats().updates, 1);
    assert.equal(s.stats().skippedBatches, 1);
    assert.equal(s.stats().failed, 4 + 2);
    s.dispose();
  });

  it('a checkpoint mid-batch restored in a fresh instance gives the same update and the same next batches', () => {
    const opts = { skeleton: SKELETON_SMALL, seed: 3, batchSize: 6 };
    const a = createStrategy('rl', opts);
    for (const p of a.propose(6)) a.observe({ proposalId: p.proposalId, reward: reward(p.decisions) });
    const batch = a.propose(6);
    for (const p of batch.slice(0, 2)) a.observe({ proposalId: p.proposalId, reward: reward(p.decisions) });
    const saved = JSON.stringify(a.getState());
    const b = createStrategy('rl', opts);
    b.setState(JSON.parse(saved));
    for (const s of [a, b]) for (const p of batch.slice(2).reverse()) s.observe({ proposalId: p.proposalId, reward: reward(p.decisions) });
    assert.equal(b.stats().updates, 2);
    const stateA = a.getState() as { policy: unknown };
    const stateB = b.getState() as { policy: unknown };
    assert.deepEqual(stateB.policy, stateA.policy, 'weights and Adam moments after the update');
    assert.deepEqual(b.propose(6), a.propose(6));
    assert.deepEqual(b.stats(), a.stats());
    a.dispose();
    b.dispose();
  });

  it('keeps tf.memory().numTensors flat across updates and frees everything on dispose', () => {
    const before = tf.memory().numTensors;
    const s = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 9, batchSize: 4 });
    const cycle = () => { for (const p of s.propose(4)) s.observe({ proposalId: p.proposalId, reward: reward(p.decisions) }); };
    cycle();
    const afterOne = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) cycle();
    s.getState();
    assert.equal(tf.memory().numTensors, afterOne);
    assert.equal(s.stats().updates, 5);
    s.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('refuses (400) a state of another policy size or whose pending proposals do not match its batch', () => {
    const a = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 1, hiddenSize: 16 });
    const b = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 1, hiddenSize: 24 });
    assert.throws(() => b.setState(a.getState()), (e: Error & { status?: number }) => e.status === 400 && /hiddenSize/.test(e.message));
    a.propose(3);
    const state = a.getState() as Record<string, unknown>;
    const c = createStrategy('rl', { skeleton: SKELETON_SMALL, seed: 1, hiddenSize: 16 });
    c.setState(JSON.parse(JSON.stringify(state)));
    for (const bad of [{ ...state, batch: null }, { ...state, ledger: { nextId: 3, pending: [] } }]) {
      assert.throws(() => c.setState(bad), (e: Error & { status?: number }) => e.status === 400 && /do not match the current batch/.test(e.message));
    }
    assert.deepEqual(c.getState(), a.getState());
    c.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('rl controller on the WASM backend (the training engine\'s fast path)', () => {
  it('samples, updates without leaking tensors and resumes exactly with tfjs-backend-wasm active', async () => {
    const { initBackend } = await import('../../src/engine/backend.ts');
    const info = await initBackend({ backend: 'fast-js' });
    assert.equal(tf.getBackend(), 'wasm', info.reason.join('; '));
    const reward = matchReward(sharedTarget(3));
    const opts = { skeleton: SKELETON_SMALL, seed: 4, batchSize: 4 };
    const before = tf.memory().numTensors;
    const a = createStrategy('rl', opts);
    const cycle = (s: SearchStrategy) => s.propose(4).map((p) => {
      s.observe({ proposalId: p.proposalId, reward: reward(p.decisions) });
      return p;
    });
    cycle(a);
    const afterOne = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) cycle(a);
    assert.equal(tf.memory().numTensors, afterOne);
    const b = createStrategy('rl', opts);
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    assert.deepEqual(cycle(b), cycle(a));
    assert.deepEqual(b.getState(), a.getState());
    assert.equal(a.stats().updates, 5);
    a.dispose();
    b.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
