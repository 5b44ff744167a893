// The accuracy predictor learns a known function of the architecture from
// samples (rank agreement on held-out samples measured and stored), and a
// stored predictor predicts exactly what the fitted one does.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.ts';
import { createRng } from '../../src/space/rng.ts';
import { archFromDecisions, BLOCK_DECISIONS, sampleDecisions, type Decisions } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { AccuracyPredictor, encodeDecisions } from '../../src/supernet/predictor.ts';

/** A smooth "accuracy": per block, a weight per choice of each decision, plus a little noise. */
function truth(seed: number): (d: Decisions) => number {
  const rng = createRng(seed);
  const w = SKELETON_SMALL.blocks.map(() => BLOCK_DECISIONS.map((dec) => dec.choices.map(() => rng.next() * 0.01)));
  return (d) => 0.6 + d.reduce((s, b, bi) => s + b.reduce((t, c, k) => t + w[bi]![k]![c]!, 0), 0);
}

before(async () => { await initBackend({}); });

describe('accuracy predictor', () => {
  it('ranks held-out architectures like the function it was fitted on, and survives a JSON round trip', async () => {
    const f = truth(4);
    const rng = createRng(9);
    const noise = createRng(10);
    const samples = Array.from({ length: 300 }, () => {
      const decisions = sampleDecisions(SKELETON_SMALL, rng);
      return { decisions, accuracy: f(decisions) + (noise.next() - 0.5) * 0.002 };
    });
    const p = await AccuracyPredictor.train(SKELETON_SMALL, samples, { seed: 2, epochs: 120 });
    try {
      assert.equal(p.fit.samples, 300);
      assert.equal(p.fit.heldOut, 60);
      assert.ok(p.fit.kendallTau > 0.6, `held-out tau ${p.fit.kendallTau}`);
      const fresh = Array.from({ length: 20 }, () => sampleDecisions(SKELETON_SMALL, rng));
      const again = AccuracyPredictor.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
      try {
        assert.deepEqual(again.predictDecisions(fresh), p.predictDecisions(fresh));
        assert.equal(again.predict(SKELETON_SMALL, archFromDecisions(SKELETON_SMALL, fresh[0]!)), p.predictDecisions([fresh[0]!])[0]);
      } finally {
        again.dispose();
      }
    } finally {
      p.dispose();
    }
  });

  it('encodes one hot per decision, ignoring expansion outside ir blocks; refuses too few samples', async () => {
    const d = SKELETON_SMALL.blocks.map(() => [1, 0, 2, 0, 0, 1, 1, 0]); // ds: expansion irrelevant
    const e = encodeDecisions(d);
    assert.equal(e.reduce((a, b) => a + b, 0), SKELETON_SMALL.blocks.length * BLOCK_DECISIONS.length);
    const e2 = encodeDecisions(SKELETON_SMALL.blocks.map(() => [1, 0, 0, 0, 0, 1, 1, 0]));
    assert.deepEqual(Array.from(e), Array.from(e2), 'a ds block encodes the same whatever its (unused) expansion choice');
    await assert.rejects(AccuracyPredictor.train(SKELETON_SMALL, [{ decisions: d, accuracy: 0.5 }]), /at least 10/);
  });
});
