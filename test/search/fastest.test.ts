// The fastest architecture of the space by the predictor (the bound a
// latency target is checked against).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPredictor } from '../../src/latency/index.ts';
import { fastestArch } from '../../src/search/fastest.ts';
import { archFromDecisions, BLOCK_DECISIONS, sampleDecisions } from '../../src/space/sampler.ts';
import { skeletonFor } from '../../src/space/skeleton.ts';
import { createRng } from '../../src/space/rng.ts';

for (const [device, input] of [['node-tflite-wasm', { height: 28, width: 28, channels: 1 }], ['node-tfjs-wasm', { height: 32, width: 32, channels: 3 }]] as const) {
  describe(`fastestArch ${device} ${input.height}x${input.width}x${input.channels}`, () => {
    const predictor = loadPredictor(device, { calibration: 'off' });
    const skeleton = skeletonFor(input);
    const f = fastestArch(skeleton, predictor, input, 10);
    const lat = (d: number[][]) => predictor.predict(archFromDecisions(skeleton, d), input, 10).latencyMs;

    it('is its own prediction, no slower than the all-smallest start', () => {
      assert.equal(lat(f.decisions), f.latencyMs);
      assert.ok(f.latencyMs <= lat(skeleton.blocks.map(() => BLOCK_DECISIONS.map(() => 0))));
    });

    it('is a local minimum: no single decision change is faster', () => {
      for (let b = 0; b < skeleton.blocks.length; b++) {
        for (let d = 0; d < BLOCK_DECISIONS.length; d++) {
          for (let c = 0; c < BLOCK_DECISIONS[d]!.choices.length; c++) {
            const cand = f.decisions.map((r) => [...r]);
            cand[b]![d] = c;
            assert.ok(lat(cand) >= f.latencyMs - 1e-12, `block ${b} decision ${BLOCK_DECISIONS[d]!.name} choice ${c}`);
          }
        }
      }
    });

    it('no random architecture of 300 is faster', () => {
      const rng = createRng(42);
      for (let i = 0; i < 300; i++) assert.ok(lat(sampleDecisions(skeleton, rng)) >= f.latencyMs);
    });
  });
}
