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

/** Bytes of activations a training-mode forward keeps alive, per batch, at most (see recalibrationBatch). */
export const RECALIBRATION_ACTIVATION_BYTES = 384 * 2 ** 20;

/**
 * The batch for a training-mode forward of `model`: `requested`, or fewer
 * images when every layer's output (all kept until the batch ends) would pass
 * RECALIBRATION_ACTIVATION_BYTES (measured: the largest small-32 subnet grew
 * the heap by about 2/3 of this estimate). A wide network
 * at 256 images needs gigabytes, and the WASM backend's heap then fails to
 * grow: it corrupted memory instead of throwing (the largest supernet subnet
 * crashed, or scored garbage, at 256 and at 32).
 */
export function recalibrationBatch(model: tf.LayersModel, requested: number): number {
  let floats = 0;
  for (const l of model.layers) {
    const shapes = (Array.isArray(l.outputShape[0]) ? l.outputShape : [l.outputShape]) as (number | null)[][];
    for (const s of shapes) floats += s.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
  }
  const perImageBytes = floats * 4;
  return Math.max(1, Math.min(requested, Math.floor(RECALIBRATION_ACTIVATION_BYTES / perImageBytes)));
}

/**
 * Batch-norm recalibration (as in Once-for-All): re-estimates every BN
 * layer's moving mean/variance for the current weights as the plain average
 * of per-batch statistics over the first `count` training images (forward in
 * training mode, no augmentation). Short proxy runs otherwise end with
 * moving averages that lag the weights, and inference-mode accuracy
 * collapses although training-mode accuracy is fine.
 */
export function recalibrateBatchNorm(model: tf.LayersModel, images: Uint8Array, g: ImageGeometry, count: number, requestedBatch: number): void {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as Array<{ momentum: number }>;
  if (bns.length === 0 || count === 0) return;
  const batchSize = recalibrationBatch(model, requestedBatch);
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
