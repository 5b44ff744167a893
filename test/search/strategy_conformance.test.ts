// One conformance suite over every search strategy (RL controller, random
// search, aging evolution): valid proposals on both skeletons, unique ids,
// out-of-order observations, protocol errors, state round trip through JSON,
// seeded determinism, failed trials, option and state validation.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { archFromDecisions, BLOCK_DECISIONS, type Decisions } from '../../src/space/sampler.ts';
import { createRng, type Rng } from '../../src/space/rng.ts';
import { SKELETON_224, SKELETON_SMALL, type Skeleton } from '../../src/space/skeleton.ts';
import { createStrategy, STRATEGY_NAMES } from '../../src/search/strategies/index.ts';
import type { Proposal, SearchStrategy, StrategyName, StrategyOptions } from '../../src/search/strategy.ts';

const live: SearchStrategy[] = [];
after(() => live.forEach((s) => s.dispose()));

function make(name: StrategyName, opts: Partial<StrategyOptions> = {}): SearchStrategy {
  const s = createStrategy(name, { skeleton: SKELETON_SMALL, seed: 11, batchSize: 4, population: 6, sampleSize: 3, ...opts });
  live.push(s);
  return s;
}

/** A deterministic reward with structure: the share of decisions equal to (block + decision) mod choices. */
function reward(d: Decisions): number {
  let hit = 0;
  let n = 0;
  d.forEach((b, bi) => b.forEach((v, di) => {
    n++;
    if (v === (bi + di) % BLOCK_DECISIONS[di].choices.length) hit++;
  }));
  return hit / n;
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

interface DriveLog {
  proposals: Proposal[];
  outstanding: Proposal[];
}

/**
 * Runs `steps` rounds against a strategy: ask for up to `ask` proposals, then
 * observe a random subset (at least one) of the outstanding ones in shuffled
 * order. `fail(i)` makes the i-th observation a failed trial (null reward).
 * Fails when the strategy stalls (no proposals while nothing is outstanding).
 */
function drive(s: SearchStrategy, steps: number, rng: Rng, log: DriveLog = { proposals: [], outstanding: [] },
  fail: (i: number) => boolean = () => false, ask = 3): DriveLog {
  let observed = log.proposals.length - log.outstanding.length;
  for (let step = 0; step < steps; step++) {
    const got = s.propose(ask);
    assert.ok(got.length <= ask, `propose(${ask}) returned ${got.length}`);
    log.proposals.push(...got);
    log.outstanding.push(...got);
    assert.ok(log.outstanding.length > 0, `${s.name} stalled: no proposals and nothing outstanding`);
    const k = 1 + rng.int(log.outstanding.length);
    const order = shuffle(log.outstanding, rng);
    for (const p of order.slice(0, k)) {
      s.observe({ proposalId: p.proposalId, reward: fail(observed++) ? null : reward(p.decisions) });
    }
    const done = new Set(order.slice(0, k).map((p) => p.proposalId));
    log.outstanding = log.outstanding.filter((p) => !done.has(p.proposalId));
  }
  return log;
}

for (const name of STRATEGY_NAMES) {
  describe(`strategy conformance: ${name}`, () => {
    for (const skeleton of [SKELETON_SMALL, SKELETON_224] as Skeleton[]) {
      it(`proposals decode to valid architectures on ${skeleton.name}`, () => {
        const s = make(name, { skeleton });
        const log = drive(s, 12, createRng(1));
        assert.ok(log.proposals.length >= 12);
        for (const p of log.proposals) {
          const arch = archFromDecisions(skeleton, p.decisions);
          assert.equal(arch.blocks.length, skeleton.blocks.length);
        }
      });
    }

    it('proposal ids are unique, also across a state restore', () => {
      const s = make(name);
      const log = drive(s, 15, createRng(2));
      const t = make(name);
      t.setState(JSON.parse(JSON.stringify(s.getState())));
      drive(t, 10, createRng(3), log);
      const ids = log.proposals.map((p) => p.proposalId);
      assert.equal(new Set(ids).size, ids.length);
    });

    it('observe of an unknown or repeated proposal id throws (409) and changes nothing', () => {
      const s = make(name);
      const [p] = s.propose(1);
      assert.throws(() => s.observe({ proposalId: 'no-such-id', reward: 0.5 }), (e: Error & { status?: number }) => e.status === 409 && /unknown/.test(e.message));
      s.observe({ proposalId: p.proposalId, reward: 0.5 });
      const before = JSON.stringify(s.getState());
      assert.throws(() => s.observe({ proposalId: p.proposalId, reward: 0.5 }), (e: Error & { status?: number }) => e.status === 409 && /already observed/.test(e.message));
      assert.equal(JSON.stringify(s.getState()), before);
    });

    it('a non-finite reward is refused with status 400', () => {
      const s = make(name);
      const [p] = s.propose(1);
      assert.throws(() => s.observe({ proposalId: p.proposalId, reward: Number.NaN }), (e: Error & { status?: number }) => e.status === 400 && /finite/.test(e.message));
      s.observe({ proposalId: p.proposalId, reward: 0.1 }); // still outstanding after the refusal
    });

    it('getState -> JSON -> setState in a fresh instance continues identically (with proposals outstanding)', () => {
      const a = make(name);
      const log = drive(a, 9, createRng(4));
      const extra = a.propose(2); // outstanding at the checkpoint, e.g. mid-batch
      log.proposals.push(...extra);
      log.outstanding.push(...extra);
      assert.ok(log.outstanding.length > 0, 'checkpoint should have outstanding proposals');
      const saved = JSON.stringify(a.getState());
      const b = make(name);
      b.setState(JSON.parse(saved));
      assert.equal(JSON.stringify(b.getState()), saved);
      const logA = drive(a, 14, createRng(5), { proposals: [], outstanding: [...log.outstanding] });
      const logB = drive(b, 14, createRng(5), { proposals: [], outstanding: [...log.outstanding] });
      assert.deepEqual(logB.proposals, logA.proposals);
      assert.deepEqual(b.stats(), a.stats());
      assert.equal(JSON.stringify(b.getState()), JSON.stringify(a.getState()));
      assert.ok(a.stats().updates > 0, 'the continued run should complete updates/generations');
    });

    it('is deterministic given the seed; another seed gives other proposals', () => {
      const run = (seed: number) => drive(make(name, { seed }), 10, createRng(6)).proposals;
      assert.deepEqual(run(21), run(21));
      assert.notDeepEqual(run(21).map((p) => p.decisions), run(22).map((p) => p.decisions));
    });

    it('tolerates failed trials (null rewards), even a run of only failures', () => {
      const s = make(name);
      drive(s, 20, createRng(7), undefined, (i) => i % 3 === 1);
      const st = s.stats();
      assert.ok(st.rewardCurve.every((r) => Number.isFinite(r)), `reward curve ${JSON.stringify(st.rewardCurve)}`);
      const t = make(name);
      const log = drive(t, 12, createRng(8), undefined, () => true);
      assert.ok(log.proposals.length >= 12);
      assert.deepEqual(t.stats().rewardCurve, []);
    });

    it('stats report updates and a reward curve of finite means', () => {
      const s = make(name);
      drive(s, 30, createRng(9));
      const st = s.stats();
      assert.ok(st.updates >= 2, `updates ${st.updates}`);
      assert.ok(st.rewardCurve.length >= 2);
      for (const r of st.rewardCurve) assert.ok(r >= 0 && r <= 1);
    });

    it('setState refuses a state of another strategy or a malformed one (400) and keeps its own', () => {
      const s = make(name);
      drive(s, 5, createRng(10));
      const before = JSON.stringify(s.getState());
      const other = STRATEGY_NAMES.find((n) => n !== name)!;
      const bad: unknown[] = [null, 42, { ...JSON.parse(before), strategy: other }, { ...JSON.parse(before), version: 999 },
        { ...JSON.parse(before), rng: -1 }, { ...JSON.parse(before), ledger: { nextId: 'x', pending: [] } },
        { ...JSON.parse(before), ledger: { nextId: 99, pending: [['x-1', 0]] } }];
      for (const state of bad) {
        assert.throws(() => s.setState(state), (e: Error & { status?: number }) => e.status === 400, JSON.stringify(state)?.slice(0, 80));
        assert.equal(JSON.stringify(s.getState()), before);
      }
    });

    it('createStrategy refuses bad options with a RangeError (status 400) naming the option', () => {
      const cases: [Partial<StrategyOptions>, RegExp][] = [
        [{ seed: -1 }, /seed/], [{ seed: 1.5 }, /seed/], [{ batchSize: 0 }, /batchSize/], [{ skeleton: undefined as unknown as Skeleton }, /skeleton/],
      ];
      if (name === 'evolution') cases.push([{ population: 1 }, /population/], [{ sampleSize: 7, population: 6 }, /sampleSize/]);
      if (name === 'rl') cases.push([{ learningRate: 0 }, /learningRate/], [{ hiddenSize: 4 }, /hiddenSize/], [{ entropyWeight: -1 }, /entropyWeight/]);
      for (const [opts, re] of cases) {
        assert.throws(() => make(name, opts), (e: Error & { status?: number }) => e instanceof RangeError && e.status === 400 && re.test(e.message), JSON.stringify(opts));
      }
    });
  });
}

it('createStrategy refuses an unknown strategy name', () => {
  assert.throws(() => createStrategy('bayes' as StrategyName, { skeleton: SKELETON_SMALL, seed: 1 }),
    (e: Error & { status?: number }) => e.status === 400 && /unknown search strategy "bayes"/.test(e.message));
});
