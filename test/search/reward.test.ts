// MnasNet's reward in its soft and hard forms, hard-mode skipping, BlockQNN shaping.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { exponents, reward, shapedAccuracy, skipReason, trialReward } from '../../src/search/reward.ts';
import { resolveSearchOptions } from '../../src/search/options.ts';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

describe('reward ACC x (LAT/T)^w', () => {
  it('soft, w = -0.07: alpha = beta = -0.07 (MnasNet)', () => {
    assert.deepEqual(exponents('soft', -0.07), { alpha: -0.07, beta: -0.07 });
    const s = { mode: 'soft' as const, w: -0.07, latencyTargetMs: 80 };
    close(reward(0.75, 80, s), 0.75);
    close(reward(0.75, 160, s), 0.75 * 2 ** -0.07); // 2x slower costs ~4.7%
    close(reward(0.75, 40, s), 0.75 * 0.5 ** -0.07); // 2x faster gains ~5%
    assert.ok(Math.abs(reward(1, 160, s) - 0.9526) < 1e-4);
  });

  it('hard: alpha = 0 (ACC up to T), beta = -1 above (ACC x T/LAT)', () => {
    assert.deepEqual(exponents('hard', -1), { alpha: 0, beta: -1 });
    const h = { mode: 'hard' as const, w: -1, latencyTargetMs: 10 };
    close(reward(0.8, 5, h), 0.8);
    close(reward(0.8, 10, h), 0.8);
    close(reward(0.8, 20, h), 0.4);
  });

  it('monotone: more accurate is better, slower is never better (any w <= 0, both modes)', () => {
    fc.assert(fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0.01, max: 100, noNaN: true }), fc.double({ min: 0.01, max: 100, noNaN: true }),
      fc.double({ min: -2, max: 0, noNaN: true }), fc.constantFrom('soft' as const, 'hard' as const),
      (a1, a2, l1, l2, w, mode) => {
        const s = { mode, w, latencyTargetMs: 10 };
        const [lo, hi] = a1 <= a2 ? [a1, a2] : [a2, a1];
        assert.ok(reward(lo, l1, s) <= reward(hi, l1, s) + 1e-12);
        const [fast, slow] = l1 <= l2 ? [l1, l2] : [l2, l1];
        assert.ok(reward(a1, slow, s) <= reward(a1, fast, s) + 1e-12);
      }));
  });

  it('bad inputs are errors, not NaN', () => {
    const s = { mode: 'soft' as const, w: -0.07, latencyTargetMs: 10 };
    assert.throws(() => reward(1.5, 1, s), /accuracy/);
    assert.throws(() => reward(0.5, 0, s), /latency/);
    assert.throws(() => reward(0.5, NaN, s), /latency/);
  });
});

describe('hard-mode skip', () => {
  it('only in hard mode, only above skipFactor x T, with a reason', () => {
    const hard = { mode: 'hard' as const, skipFactor: 1.5, latencyTargetMs: 10 };
    assert.equal(skipReason(15, hard), null);
    assert.match(skipReason(15.01, hard)!, /over 1.5 x target \(15.000 ms\) in hard mode: not trained, reward 0/);
    assert.equal(skipReason(1000, { ...hard, mode: 'soft' }), null);
  });
});

describe('options', () => {
  it('w defaults by mode; bad values name the option', () => {
    const base = { dataset: 'synthetic', deviceId: 'd', latencyTargetMs: 5 };
    assert.equal(resolveSearchOptions(base).w, -0.07);
    assert.equal(resolveSearchOptions({ ...base, mode: 'hard' }).w, -1);
    assert.equal(resolveSearchOptions({ ...base, w: -0.15 }).w, -0.15);
    assert.throws(() => resolveSearchOptions({ ...base, w: 0.5 }), /w must be/);
    assert.throws(() => resolveSearchOptions({ ...base, latencyTargetMs: -1 }), /latency target/);
    assert.throws(() => resolveSearchOptions({ ...base, strategy: 'bogus' as never }), /unknown strategy "bogus"/);
    assert.throws(() => resolveSearchOptions({ ...base, maxTrials: 0 }), /max trials/);
    assert.throws(() => resolveSearchOptions({ ...base, proxy: { epochs: 0 } }), /proxy epochs/);
  });
});

describe('BlockQNN early-stop shaping (off by default)', () => {
  it('ACC_early - mu ln(MACs), clamped to [0, 1]; used by trialReward only when on', () => {
    close(shapedAccuracy(0.6, Math.E ** 10, { epochs: 1, macsPenalty: 0.01 }), 0.5);
    assert.equal(shapedAccuracy(0.01, 1e9, { epochs: 1, macsPenalty: 0.01 }), 0);
    const off = resolveSearchOptions({ dataset: 'synthetic', deviceId: 'd', latencyTargetMs: 10 });
    assert.equal(off.earlyStop, null);
    close(trialReward(0.6, 10, 1e6, off), 0.6);
    const on = resolveSearchOptions({ dataset: 'synthetic', deviceId: 'd', latencyTargetMs: 10, earlyStop: { epochs: 1, macsPenalty: 0.01 } });
    close(trialReward(0.6, 10, Math.E ** 10, on), 0.5);
  });
});
