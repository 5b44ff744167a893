// Verification of exported .tflite files in the TFLite interpreter against a
// reference (the tfjs model, or the float .tflite for int8 exports). Used by
// the tests and by `nas export --verify`.

import * as tf from '@tensorflow/tfjs';
import type { InputShape } from '../space/types.ts';
import { loadTfliteModel, type TfliteModel } from '../tflite/interpreter.ts';

/** Runs one sample, quantizing/dequantizing at int8 graph edges. */
export function runFloat(model: TfliteModel, x: ArrayLike<number>): Float32Array {
  const inInfo = model.inputs[0];
  let input: ArrayLike<number> = x;
  if (inInfo.dtype === 'int8' || inInfo.dtype === 'uint8') {
    const { scale, zeroPoint } = inInfo.quantization!;
    const [lo, hi] = inInfo.dtype === 'int8' ? [-128, 127] : [0, 255];
    const q = Array.from(x as ArrayLike<number>, (v: number) => Math.max(lo, Math.min(hi, Math.round(v / scale + zeroPoint))));
    input = inInfo.dtype === 'int8' ? Int8Array.from(q) : Uint8Array.from(q);
  } else if (inInfo.dtype !== 'float32') {
    throw new Error(`unsupported input type ${inInfo.dtype}`);
  }
  const out = model.run([input])[0];
  const outInfo = model.outputs[0];
  if (outInfo.dtype === 'int8' || outInfo.dtype === 'uint8') {
    const { scale, zeroPoint } = outInfo.quantization!;
    return Float32Array.from(out as Int8Array | Uint8Array, (v) => (v - zeroPoint) * scale);
  }
  return out as Float32Array;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** tfjs predictions (one row per sample), batched. */
export function predictTfjs(model: tf.LayersModel, input: InputShape, xs: ArrayLike<number>[], batchSize = 32): Float32Array[] {
  const out: Float32Array[] = [];
  const n = input.height * input.width * input.channels;
  for (let s = 0; s < xs.length; s += batchSize) {
    const chunk = xs.slice(s, s + batchSize);
    const rows = tf.tidy(() => {
      const flat = new Float32Array(chunk.length * n);
      chunk.forEach((x, i) => flat.set(x, i * n));
      const y = model.predict(tf.tensor4d(flat, [chunk.length, input.height, input.width, input.channels])) as tf.Tensor;
      const data = y.dataSync() as Float32Array;
      const k = y.shape[1]!;
      return chunk.map((_, i) => data.slice(i * k, (i + 1) * k));
    });
    out.push(...rows);
  }
  return out;
}

export interface Comparison {
  samples: number;
  /** max |tflite - reference| over all outputs and samples */
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** fraction of samples whose top-1 class equals the reference's */
  top1Agreement: number;
  /** accuracies when labels are given */
  referenceAccuracy?: number;
  tfliteAccuracy?: number;
  /** referenceAccuracy - tfliteAccuracy */
  accuracyDrop?: number;
  /** median Invoke() time of the tflite runs, ms */
  medianInvokeMs: number;
}

export interface CompareOptions {
  labels?: number[];
}

/** Compares a .tflite model with reference outputs on the same inputs. */
export async function compareWithReference(bytes: Uint8Array, xs: ArrayLike<number>[], reference: ArrayLike<number>[], opts: CompareOptions = {}): Promise<Comparison> {
  if (xs.length === 0 || xs.length !== reference.length) throw new RangeError('need one reference output per input (and at least one input)');
  const model = await loadTfliteModel(bytes);
  let maxAbs = 0;
  let sumAbs = 0;
  let count = 0;
  let agree = 0;
  let refCorrect = 0;
  let tflCorrect = 0;
  const times: number[] = [];
  try {
    xs.forEach((x, i) => {
      const y = runFloat(model, x);
      times.push(model.lastInvokeMs ?? 0);
      const r = reference[i];
      if (y.length !== r.length) throw new Error(`output has ${y.length} values, reference ${r.length}`);
      for (let k = 0; k < y.length; k++) {
        const d = Math.abs(y[k] - r[k]);
        maxAbs = Math.max(maxAbs, d);
        sumAbs += d;
        count++;
      }
      const a = argmax(y);
      const b = argmax(r);
      if (a === b) agree++;
      if (opts.labels) {
        if (b === opts.labels[i]) refCorrect++;
        if (a === opts.labels[i]) tflCorrect++;
      }
    });
  } finally {
    model.dispose();
  }
  times.sort((p, q) => p - q);
  const n = xs.length;
  const result: Comparison = {
    samples: n, maxAbsDiff: maxAbs, meanAbsDiff: sumAbs / count, top1Agreement: agree / n,
    medianInvokeMs: times[Math.floor(n / 2)],
  };
  if (opts.labels) {
    result.referenceAccuracy = refCorrect / n;
    result.tfliteAccuracy = tflCorrect / n;
    result.accuracyDrop = result.referenceAccuracy - result.tfliteAccuracy;
  }
  return result;
}

/** Outputs of a .tflite model (float view) for each input. */
export async function runTflite(bytes: Uint8Array, xs: ArrayLike<number>[]): Promise<Float32Array[]> {
  const model = await loadTfliteModel(bytes);
  try {
    return xs.map((x) => runFloat(model, x));
  } finally {
    model.dispose();
  }
}
