// Op-level parity of the fast path (WASM + native addon kernels) against the
// tfjs CPU backend: every conv/depthwise configuration of the search space,
// forward and both gradients, plus the replaced Tile/Sum/Mean kernels.

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type BackendChoice, initBackend } from '../../src/engine/backend.ts';
import { fastBackendInfo } from '../../src/engine/fast_backend.ts';
import { compare, convCases, convForwardAndGrads, label } from './parity_cases.ts';

/** Defines the suite for 'fast' (native addon when built) or 'fast-js' (JS kernels). */
export function kernelParitySuite(choice: BackendChoice & ('fast' | 'fast-js')): void {
describe(`${choice} path kernels match the tfjs cpu backend`, () => {
  before(async () => {
    await initBackend({ backend: choice });
  });

  for (const c of convCases()) {
    it(`${label(c)}: forward, dx, dW`, async () => {
      await compare(label(c), 'wasm', convForwardAndGrads(c));
    });
  }

  it('broadcast Tile, outer-axis Sum and Mean, and their general cases', async () => {
    await compare('reductions', 'wasm', () => {
      const x = tf.randomNormal([4, 5, 6, 7], 0, 1, 'float32', 3);
      const v = tf.randomNormal([1, 1, 1, 7], 0, 1, 'float32', 4);
      return [
        tf.tile(v, [2, 3, 4, 1]), tf.tile(x, [1, 2, 1, 2]),
        x.sum([0, 1, 2]), x.mean([0, 1, 2], true), x.sum(0), x.mean([0, 1]), x.sum([1, 2]), x.mean(-1), x.sum(),
      ];
    });
  });

  it('the project kernels actually ran', () => {
    const info = fastBackendInfo();
    assert.ok(info, 'fast backend installed');
    const { native, js, matmul } = info.stats;
    if (choice === 'fast-js' || !info.native) assert.ok(js > 0 && native === 0, `js kernels ran (${js}), native did not (${native})`);
    else assert.ok(native > 0 && matmul === 0, `native kernels ran (${native})`);
  });
});
}
