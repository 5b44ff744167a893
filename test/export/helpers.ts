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

/**
 * Data-dependent BN statistics: each BN layer's moving mean/variance set to
 * the batch statistics of its input on `xs`, with random gamma/beta, so the
 * activations have the unit scale a trained network has. One pass through
 * the layers in topological order (each BN is set before it is applied).
 */
export function calibrateBatchNorm(model: tf.LayersModel, input: InputShape, xs: Float32Array[], rng: Rng): void {
  const flat = new Float32Array(xs.length * xs[0].length);
  xs.forEach((x, i) => flat.set(x, i * x.length));
  const values = new Map<number, tf.Tensor>();
  const keep: tf.Tensor[] = [];
  values.set(model.inputs[0].id, tf.tensor4d(flat, [xs.length, input.height, input.width, input.channels]));
  for (const layer of model.layers) {
    if (layer.name === model.inputs[0].name || layer.getClassName() === 'InputLayer') continue;
    const node = layer.inboundNodes[0];
    const ins = node.inputTensors.map((t) => values.get(t.id)!);
    if (layer.name.endsWith('_bn')) {
      const [mean, variance] = tf.tidy(() => {
        const m = tf.moments(ins[0], [0, 1, 2]);
        return [m.mean.dataSync().slice(), m.variance.dataSync().slice()] as Float32Array[];
      });
      const n = mean.length;
      const rand = (lo: number, hi: number) => tf.tensor1d(Array.from({ length: n }, () => lo + (hi - lo) * rng.next()));
      // The last BN of a residual branch starts small (as in SkipInit/Fixup), so
      // a deep random network stays close to its shallow path instead of
      // decorrelating its inputs (the chaotic regime of random BN networks).
      const prefix = /^(b\d+_l\d+)_/.exec(layer.name)?.[1];
      const residual = prefix !== undefined && model.layers.some((l) => l.name === `${prefix}_add`) && /_(project|pw|conv)_bn$/.test(layer.name);
      const gamma = residual ? rand(0.05, 0.15) : rand(0.7, 1.3);
      const fresh = [gamma, rand(-0.2, 0.4), tf.tensor1d(mean), tf.tensor1d(variance)];
      layer.setWeights(fresh);
      fresh.forEach((t) => t.dispose());
    }
    const out = layer.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor;
    keep.push(out);
    values.set(node.outputTensors[0].id, out);
  }
  for (const t of values.values()) t.dispose();
}
