// The significance of a rank correlation, as bench:fidelity reports it for a
// few architectures: exact by enumeration for small n, the normal
// approximation above.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { KENDALL_EXACT_MAX_N, kendallTauP, normalCdf } from '../../bench/stats.ts';

describe('kendallTauP', () => {
  it('is exact for small n: 4 points in the same order are 2 of the 24 orderings as extreme (p = 1/12)', () => {
    const r = kendallTauP([1, 2, 3, 4], [10, 20, 30, 40]);
    assert.equal(r.tau, 1);
    assert.equal(r.exact, true);
    assert.ok(Math.abs(r.p - 2 / 24) < 1e-12, String(r.p));
    // reversed: as extreme, the same p
    assert.ok(Math.abs(kendallTauP([1, 2, 3, 4], [4, 3, 2, 1]).p - 2 / 24) < 1e-12);
  });

  it('no association gives p = 1 (every ordering is at least as extreme)', () => {
    // tau = 0 for these 5 pairs
    const r = kendallTauP([1, 2, 3, 4, 5], [3, 5, 1, 2, 4]);
    assert.equal(r.tau, 0);
    assert.equal(r.p, 1);
  });

  it('uses the normal approximation above KENDALL_EXACT_MAX_N, and agrees with the exact value at the boundary to within a few points', () => {
    const n = KENDALL_EXACT_MAX_N;
    const a = Array.from({ length: n }, (_, i) => i);
    const b = [1, 0, 3, 2, 5, 4, 7, 6].slice(0, n);
    const exact = kendallTauP(a, b);
    // the approximation at the same tau and n
    const z = exact.tau / Math.sqrt((2 * (2 * n + 5)) / (9 * n * (n - 1)));
    const approx = 2 * (1 - normalCdf(Math.abs(z)));
    assert.ok(exact.exact && exact.p < 0.05, JSON.stringify(exact));
    assert.ok(Math.abs(exact.p - approx) < 0.01, `exact ${exact.p}, approximation ${approx}`);
    const big = Array.from({ length: 30 }, (_, i) => i);
    const r = kendallTauP(big, big.map((x) => (x % 2 ? x - 1 : x + 1)));
    assert.equal(r.exact, false);
    assert.ok(r.p < 1e-6, String(r.p));
  });
});
