// Shared helpers of the export tests: models with non-trivial BN statistics,
// deterministic inputs, comparison figures.

import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../src/space/builder.ts';
import { parseArchString } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import type { ArchSpec, InputShape } from '../../src/space/types.ts';
import { createRng, type Rng } from '../../src/space/rng.ts';

export function arch(text: string): ArchSpec {
  return parseArchString(text, { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head });
}

/** Random BN statistics (gamma, beta, mean, variance) so that folding is exercised. */
export function randomizeBatchNorm(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (!layer.name.endsWith('_bn')) continue;
    const ws = layer.getWeights();
    const n = ws[0].shape[0];
    const gen = (lo: number, hi: number) => tf.tensor1d(Array.from({ length: n }, () => lo + (hi - lo) * rng.next()));
    const fresh = [gen(0.5, 1.5), gen(-0.3, 0.3), gen(-0.5, 0.5), gen(0.3, 2.0)];
    layer.setWeights(fresh);
    fresh.forEach((t) => t.dispose());
  }
}

export function buildTestModel(spec: ArchSpec, input: InputShape, numClasses: number, seed: number): tf.LayersModel {
  const model = buildModel(spec, { inputShape: input, numClasses, seed });
  randomizeBatchNorm(model, createRng(seed + 1));
  return model;
}

export function randomInputs(input: InputShape, count: number, rng: Rng): Float32Array[] {
  const n = input.height * input.width * input.channels;
  return Array.from({ length: count }, () => Float32Array.from({ length: n }, () => rng.next() * 2 - 1));
}

export function predictTfjs(model: tf.LayersModel, input: InputShape, xs: Float32Array[]): Float32Array[] {
  return tf.tidy(() => {
    const flat = new Float32Array(xs.length * xs[0].length);
    xs.forEach((x, i) => flat.set(x, i * x.length));
    const y = model.predict(tf.tensor4d(flat, [xs.length, input.height, input.width, input.channels])) as tf.Tensor;
    const data = y.dataSync() as Float32Array;
    const k = y.shape[1]!;
    return xs.map((_, i) => data.slice(i * k, (i + 1) * k));
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
