// Accuracy and cross-entropy of a model over an image array, in batches,
// inference mode (BN moving statistics, no dropout).

import * as tf from '@tensorflow/tfjs';
import { fillBatch, type ImageGeometry } from './augment.ts';
import { createInferenceRunner } from '../engine/inference_model.ts';

export interface EvalResult {
  accuracy: number;
  /** mean cross-entropy (no label smoothing) */
  loss: number;
  count: number;
}

export function evaluateModel(
  model: tf.LayersModel, images: Uint8Array, labels: Uint8Array, g: ImageGeometry, count: number, batchSize: number,
): EvalResult {
  if (count === 0) return { accuracy: NaN, loss: NaN, count: 0 };
  let correct = 0;
  let lossSum = 0;
  const px = g.height * g.width * g.channels;
  const buf = new Float32Array(Math.min(batchSize, count) * px);
  // batch norm folded into the convolutions (weights of this moment), one forward pass per batch
  const runner = createInferenceRunner(model);
  try {
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const idx = Array.from({ length: n }, (_, i) => start + i);
      const view = buf.subarray(0, n * px);
      fillBatch(images, g, idx, view);
      const probs = tf.tidy(() => runner.predict(tf.tensor4d(view, [n, g.height, g.width, g.channels])));
      const p = probs.dataSync() as Float32Array;
      const k = probs.shape[1] as number;
      probs.dispose();
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
        const y = labels[start + i];
        if (best === y) correct++;
        lossSum -= Math.log(Math.max(p[i * k + y], 1e-7));
      }
    }
  } finally {
    runner.dispose();
  }
  return { accuracy: correct / count, loss: lossSum / count, count };
}

/**
 * Batch-norm recalibration (as in Once-for-All): re-estimates every BN
 * layer's moving mean/variance for the current weights as the plain average
 * of per-batch statistics over the first `count` training images (forward in
 * training mode, no augmentation). Short proxy runs otherwise end with
 * moving averages that lag the weights, and inference-mode accuracy
 * collapses although training-mode accuracy is fine.
 */
export function recalibrateBatchNorm(model: tf.LayersModel, images: Uint8Array, g: ImageGeometry, count: number, batchSize: number): void {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as Array<{ momentum: number }>;
  if (bns.length === 0 || count === 0) return;
  const saved = bns.map((l) => l.momentum);
  const px = g.height * g.width * g.channels;
  const buf = new Float32Array(Math.min(batchSize, count) * px);
  try {
    for (let k = 0, start = 0; start < count; k++, start += batchSize) {
      const n = Math.min(batchSize, count - start);
      for (const l of bns) l.momentum = k / (k + 1);
      fillBatch(images, g, Array.from({ length: n }, (_, i) => start + i), buf.subarray(0, n * px));
      tf.tidy(() => {
        model.apply(tf.tensor4d(buf.subarray(0, n * px), [n, g.height, g.width, g.channels]), { training: true });
      });
    }
  } finally {
    bns.forEach((l, i) => { l.momentum = saved[i]; });
  }
}
