// Shared parity checks: run the same computation on the tfjs 'cpu' backend
// (reference) and on the fast path ('wasm' + project kernels), compare.
// Tolerance: max |fast - ref| <= TOL * max(FLOOR, max |ref|) per output tensor.
// float32 sums in a different order (GEMM blocking, per-thread partial sums)
// differ by a few ulp times sqrt(terms); 1e-4 relative to the largest value
// leaves headroom for sums of ~1e5 terms while catching any indexing error
// (those give O(1) differences).

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';

export const TOL = 1e-4;
/** values below this magnitude count as this magnitude (absolute tolerance TOL * FLOOR) */
export const FLOOR = 1e-2;

export async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(name);
  const outs = tf.tidy(f);
  const data = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return data;
}

export function assertClose(label: string, got: Float32Array[], ref: Float32Array[], tol = TOL): void {
  assert.equal(got.length, ref.length, `${label}: output count`);
  ref.forEach((r, i) => {
    const g = got[i];
    assert.equal(g.length, r.length, `${label}: output ${i} size`);
    let maxRef = 0;
    let maxDiff = 0;
    for (let j = 0; j < r.length; j++) {
      maxRef = Math.max(maxRef, Math.abs(r[j]));
      maxDiff = Math.max(maxDiff, Math.abs(g[j] - r[j]));
      if (!Number.isFinite(g[j])) assert.fail(`${label}: output ${i}[${j}] is ${g[j]}`);
    }
    assert.ok(maxDiff <= tol * Math.max(FLOOR, maxRef), `${label}: output ${i} differs by ${maxDiff} (max |ref| ${maxRef})`);
  });
}

export async function compare(label: string, fastBackend: string, f: () => tf.Tensor[], tol = TOL): Promise<void> {
  const ref = await onBackend('cpu', f);
  const got = await onBackend(fastBackend, f);
  assertClose(label, got, ref, tol);
}

export interface ConvCase {
  kernel: number;
  stride: number;
  inC: number;
  outC: number;
  depthwise: boolean;
  h: number;
  w: number;
}

/** Every conv configuration the search space emits, on odd sizes and channel counts. */
export function convCases(): ConvCase[] {
  const out: ConvCase[] = [];
  for (const kernel of [1, 3, 5, 7]) {
    for (const stride of [1, 2]) {
      out.push({ kernel, stride, inC: 3, outC: 5, depthwise: false, h: 9, w: 11 });
      out.push({ kernel, stride, inC: 7, outC: 7, depthwise: true, h: 9, w: 11 });
      out.push({ kernel, stride, inC: 1, outC: 17, depthwise: false, h: 14, w: 14 });
      out.push({ kernel, stride, inC: 13, outC: 13, depthwise: true, h: 8, w: 7 });
    }
  }
  // pointwise convs of MBConv blocks at training size (the GEMM path)
  out.push({ kernel: 1, stride: 1, inC: 24, outC: 144, depthwise: false, h: 14, w: 14 });
  out.push({ kernel: 1, stride: 1, inC: 144, outC: 24, depthwise: false, h: 14, w: 14 });
  return out;
}

/** Forward output and gradients w.r.t. input and filter of sum(conv(x, w) * r). */
export function convForwardAndGrads(c: ConvCase): () => tf.Tensor[] {
  return () => {
    const x = tf.randomNormal([3, c.h, c.w, c.inC], 0, 1, 'float32', 11);
    const filt = tf.randomNormal([c.kernel, c.kernel, c.inC, c.depthwise ? 1 : c.outC], 0, 0.5, 'float32', 12);
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      c.depthwise ? tf.depthwiseConv2d(a, b, c.stride, 'same') : tf.conv2d(a, b, c.stride, 'same');
    const y = conv(x as tf.Tensor4D, filt as tf.Tensor4D);
    const r = tf.randomNormal(y.shape, 0, 1, 'float32', 13);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r)));
    // tfjs-layers runs convolutions through the fused op (FusedConv2D kernel)
    const fused = c.depthwise
      ? tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: filt as tf.Tensor4D, strides: c.stride, pad: 'same' })
      : tf.fused.conv2d({ x: x as tf.Tensor4D, filter: filt as tf.Tensor4D, strides: c.stride, pad: 'same' });
    return [y, fused, ...grads([x, filt])];
  };
}

export function label(c: ConvCase): string {
  return `${c.depthwise ? 'dwconv' : 'conv'} k${c.kernel} s${c.stride} ${c.h}x${c.w}x${c.inC}->${c.outC}`;
}
