import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracy, kendallTau, median, sampleProblems, summarize } from '../../src/latency/stats.ts';

describe('latency statistics', () => {
  it('median and relative IQR', () => {
    assert.equal(median([3, 1, 2]), 2);
    const s = summarize([1, 2, 3, 4, 5]);
    assert.equal(s.medianMs, 3);
    assert.equal(s.relIqr, 2 / 3);
  });

  it('rejects negative, NaN, empty and wildly inconsistent samples', () => {
    assert.match(sampleProblems([1, -2, 3]).join(), /negative/);
    assert.match(sampleProblems([1, Number.NaN, 3]).join(), /not finite/);
    assert.match(sampleProblems([1, '2' as unknown as number]).join(), /not finite/);
    assert.match(sampleProblems([]).join(), /no samples/);
    assert.match(sampleProblems([1, 1, 10, 10, 1, 10]).join(), /inconsistent/);
    assert.deepEqual(sampleProblems([1, 1.05, 0.98, 1.02]), []);
  });

  it('Kendall tau: 1 for the same order, -1 reversed, tau-b with ties', () => {
    assert.equal(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
    assert.equal(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    const t = kendallTau([1, 2, 3], [1, 1, 2]);
    assert.ok(Math.abs(t - 2 / Math.sqrt(6)) < 1e-12);
  });

  it('accuracy fractions and RMSPE', () => {
    const a = accuracy([1.04, 1.08, 1.2, 0.5], [1, 1, 1, 1]);
    assert.equal(a.within5, 0.25);
    assert.equal(a.within10, 0.5);
    assert.ok(Math.abs(a.rmspe - Math.sqrt((0.04 ** 2 + 0.08 ** 2 + 0.2 ** 2 + 0.5 ** 2) / 4)) < 1e-12);
  });
});
