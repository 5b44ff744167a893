// Accuracy and cross-entropy of a model over an image array, in batches,
// inference mode (BN moving statistics, no dropout).

import * as tf from '@tensorflow/tfjs';
import { fillBatch, type ImageGeometry } from './augment.ts';

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
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const idx = Array.from({ length: n }, (_, i) => start + i);
    const view = buf.subarray(0, n * px);
    fillBatch(images, g, idx, view);
    const probs = tf.tidy(() => {
      const xs = tf.tensor4d(view, [n, g.height, g.width, g.channels]);
      return model.predict(xs) as tf.Tensor;
    });
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
  return { accuracy: correct / count, loss: lossSum / count, count };
}
