import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { PIXEL_OFFSET, PIXEL_SCALE } from '../../src/train/augment.ts';
import { RECALIBRATION_ACTIVATION_BYTES, recalibrateBatchNorm, recalibrationBatch } from '../../src/train/evaluate.ts';

describe('batch-norm recalibration', () => {
  it('sets moving mean/variance to the average of per-batch statistics and restores momentum', async () => {
    await tf.setBackend('cpu');
    const input = tf.input({ shape: [2, 2, 1] });
    const bn = tf.layers.batchNormalization({ momentum: 0.99 });
    const model = tf.model({ inputs: input, outputs: bn.apply(input) as tf.SymbolicTensor });
    // 4 images of 2x2x1: batch 1 = pixels {0, 50}, batch 2 = pixels {100, 250}
    const images = Uint8Array.from([0, 0, 0, 0, 50, 50, 50, 50, 100, 100, 100, 100, 250, 250, 250, 250]);
    recalibrateBatchNorm(model, images, { height: 2, width: 2, channels: 1 }, 4, 2);
    const [, , mm, mv] = model.getWeights().map((w) => w.dataSync()[0]);
    const x = (v: number) => v * PIXEL_SCALE + PIXEL_OFFSET;
    const m1 = (x(0) + x(50)) / 2;
    const m2 = (x(100) + x(250)) / 2;
    const v1 = ((x(0) - m1) ** 2 + (x(50) - m1) ** 2) / 2;
    const v2 = ((x(100) - m2) ** 2 + (x(250) - m2) ** 2) / 2;
    assert.ok(Math.abs(mm - (m1 + m2) / 2) < 1e-5, `moving mean ${mm}`);
    // tfjs-layers may store the biased or unbiased batch variance; both are averages over the two batches
    const biased = (v1 + v2) / 2;
    const unbiased = ((v1 * 8) / 7 + (v2 * 8) / 7) / 2;
    assert.ok(Math.abs(mv - biased) < 1e-4 || Math.abs(mv - unbiased) < 1e-4, `moving variance ${mv} vs ${biased} / ${unbiased}`);
    assert.equal((bn as unknown as { momentum: number }).momentum, 0.99);
    model.dispose();
  });

  it('bounds the batch by the activations a training-mode forward keeps, so a wide network cannot exhaust the heap', async () => {
    await tf.setBackend('cpu');
    const build = (side: number, filters: number) => {
      const input = tf.input({ shape: [side, side, 3] });
      const conv = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
      const bn = tf.layers.batchNormalization().apply(conv) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: tf.layers.reLU().apply(bn) as tf.SymbolicTensor });
    };
    const small = build(8, 4);
    assert.equal(recalibrationBatch(small, 256), 256, 'a small network keeps the requested batch');
    // 224x224x3 input + 3 layers of 224x224x96 floats: about 58 MiB per image
    const wide = build(224, 96);
    const perImageBytes = 224 * 224 * (3 + 3 * 96) * 4;
    const b = recalibrationBatch(wide, 256);
    assert.equal(b, Math.floor(RECALIBRATION_ACTIVATION_BYTES / perImageBytes));
    assert.ok(b >= 1 && b < 256, `batch ${b}`);
    assert.equal(recalibrationBatch(wide, 2), 2, 'never more than requested');
    small.dispose();
    wide.dispose();
  });
});
