// No tensor leaks on the fast path: the number of live tensors and of WASM
// heap allocations stays constant from epoch to epoch of model.fit (the
// first epoch may allocate optimizer state; later epochs must not grow).

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.ts';
import { buildModel } from '../../src/space/builder.ts';
import type { ArchSpec } from '../../src/space/types.ts';

const SPEC: ArchSpec = {
  version: 1,
  stem: { channels: 8, kernel: 3, stride: 1, activation: 'relu6' },
  blocks: [
    { op: 'ir', repeats: 2, kernel: 3, stride: 2, expansion: 3, channels: 8, seRatio: 0.25, skip: true, activation: 'hswish' },
    { op: 'ds', repeats: 1, kernel: 5, stride: 2, expansion: 1, channels: 12, seRatio: 0, skip: true, activation: 'relu' },
  ],
  head: { channels: 16, activation: 'relu6', dropout: 0.1 },
};

for (const choice of ['fast', 'fast-js'] as const) {
  describe(`${choice}: tensor count is stable across training epochs`, () => {
    it('model.fit over 4 epochs', async () => {
      const r = await initBackend({ backend: choice });
      const model = buildModel(SPEC, { inputShape: { height: 12, width: 12, channels: 1 }, numClasses: 3, seed: 1 });
      model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const x = tf.randomNormal([24, 12, 12, 1], 0, 1, 'float32', 5);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 24 }, (_, i) => i % 3), 'int32'), 3);
      const counts: number[] = [];
      const dataIds: number[] = [];
      await model.fit(x, y, {
        epochs: 4, batchSize: 8, verbose: 0,
        callbacks: { onEpochEnd: async () => { counts.push(tf.memory().numTensors); dataIds.push(tf.engine().backend.numDataIds()); } },
      });
      assert.equal(tf.getBackend(), r.tfBackend);
      assert.equal(counts.length, 4);
      assert.deepEqual(counts.slice(2), [counts[1], counts[1]], `numTensors per epoch: ${counts.join(', ')}`);
      assert.deepEqual(dataIds.slice(2), [dataIds[1], dataIds[1]], `backend data ids per epoch: ${dataIds.join(', ')}`);
      model.dispose();
      tf.dispose([x, y]);
    });
  });
}
