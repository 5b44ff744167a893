// Pareto front of trained trials: accuracy up, predicted latency down.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { paretoFront } from '../../src/search/report.ts';

describe('paretoFront', () => {
  it('keeps the non-dominated points, sorted by latency; identical points once', () => {
    const pts = [
      { id: 'a', accuracy: 0.9, latencyMs: 10 },
      { id: 'b', accuracy: 0.8, latencyMs: 5 },
      { id: 'c', accuracy: 0.7, latencyMs: 6 }, // dominated by b
      { id: 'd', accuracy: 0.95, latencyMs: 20 },
      { id: 'e', accuracy: 0.9, latencyMs: 12 }, // dominated by a
      { id: 'f', accuracy: 0.8, latencyMs: 5 }, // same as b
      { id: 'g', accuracy: null, latencyMs: 1 }, // untrained
    ];
    assert.deepEqual(paretoFront(pts).map((p) => p.id), ['b', 'a', 'd']);
  });

  it('no front point is dominated and every other point is dominated by one (random sets)', () => {
    fc.assert(fc.property(fc.array(fc.record({ accuracy: fc.double({ min: 0, max: 1, noNaN: true }), latencyMs: fc.double({ min: 0.1, max: 50, noNaN: true }) }), { maxLength: 30 }), (pts) => {
      const front = paretoFront(pts);
      const dominates = (q: typeof pts[0], p: typeof pts[0]) => q.accuracy >= p.accuracy && q.latencyMs <= p.latencyMs && (q.accuracy > p.accuracy || q.latencyMs < p.latencyMs);
      for (const p of front) assert.ok(!pts.some((q) => dominates(q, p)));
      for (const p of pts) if (!front.includes(p)) assert.ok(front.some((q) => dominates(q, p) || (q.accuracy === p.accuracy && q.latencyMs === p.latencyMs)));
    }));
  });
});
