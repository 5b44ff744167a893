// Fused training ops for the fast path (WASM backend only):
//   batchNormTrain(x, gamma, beta, eps) -> [y, mean, variance]
//     one kernel forward (statistics as tf.moments: mean, biased variance),
//     one kernel backward (dx, dgamma, dbeta in two passes over the data);
//     the stock tfjs graph is ~10 full-size kernels forward + ~20 backward.
//   reluFast(x) / relu6Fast(x): the stock Relu/Relu6 forward kernel with a
//     single-pass gradient kernel (mask from the output).
// Kernels run natively on the WASM heap when the addon is loaded, else in JS.
// Gradients of the mean/variance outputs are not propagated: in a BN layer
// they feed only the moving averages, which are not differentiated.

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from './native.ts';

export const BN_TRAIN = 'NasBatchNormTrain';
export const BN_TRAIN_GRAD = 'NasBatchNormTrainGrad';
export const ACT_GRAD = 'NasActGrad';

/** activation kinds understood by ACT_GRAD (same codes as the addon) */
export const ACT_KIND = { relu: 0, relu6: 1, hswish: 2 } as const;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

const off = (b: WasmBackendLike, t: TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;
const view = (b: WasmBackendLike, t: TensorInfo) =>
  new Float32Array(b.wasm.HEAPU8.buffer, off(b, t), tf.util.sizeFromShape(t.shape));

export function bnTrainForwardJs(x: Float32Array, gamma: Float32Array, beta: Float32Array, R: number, C: number, eps: number,
  y: Float32Array, mean: Float32Array, variance: Float32Array): void {
  const s = new Float64Array(C);
  for (let r = 0; r < R; r++) for (let c = 0, i = r * C; c < C; c++, i++) s[c] += x[i];
  for (let c = 0; c < C; c++) mean[c] = s[c] / R;
  s.fill(0);
  for (let r = 0; r < R; r++) for (let c = 0, i = r * C; c < C; c++, i++) { const d = x[i] - mean[c]; s[c] += d * d; }
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    variance[c] = s[c] / R;
    scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  for (let r = 0; r < R; r++) for (let c = 0, i = r * C; c < C; c++, i++) y[i] = x[i] * scale[c] + shift[c];
}

export function bnTrainBackwardJs(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array,
  R: number, C: number, eps: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void {
  const sum = new Float64Array(C);
  const dot = new Float64Array(C);
  for (let r = 0; r < R; r++) {
    for (let c = 0, i = r * C; c < C; c++, i++) { sum[c] += dy[i]; dot[c] += dy[i] * (x[i] - mean[c]); }
  }
  const a = new Float32Array(C);
  const k = new Float32Array(C);
  const b = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const rs = 1 / Math.sqrt(variance[c] + eps);
    const gr = gamma[c] * rs;
    dbeta[c] = sum[c];
    dgamma[c] = dot[c] * rs;
    a[c] = gr;
    k[c] = (gr * rs * rs * dot[c]) / R;
    b[c] = (gr * sum[c]) / R;
  }
  for (let r = 0; r < R; r++) {
    for (let c = 0, i = r * C; c < C; c++, i++) dx[i] = a[c] * dy[i] - k[c] * (x[i] - mean[c]) - b[c];
  }
}

export function actGradJs(dy: Float32Array, z: Float32Array, kind: number, dx: Float32Array): void {
  const n = dy.length;
  if (kind === ACT_KIND.relu) for (let i = 0; i < n; i++) dx[i] = z[i] > 0 ? dy[i] : 0;
  else if (kind === ACT_KIND.relu6) for (let i = 0; i < n; i++) dx[i] = z[i] > 0 && z[i] < 6 ? dy[i] : 0;
  else for (let i = 0; i < n; i++) { const v = z[i]; dx[i] = v < -3 ? 0 : v > 3 ? dy[i] : (dy[i] * (2 * v + 3)) / 6; }
}

function rowsCols(shape: number[]): [number, number] {
  const C = shape[shape.length - 1];
  return [tf.util.sizeFromShape(shape) / C, C];
}

/** WASM kernels of the fused ops; `getNative` is consulted on each call. */
export function makeFusedKernels(getNative: () => NativeKernels | null): KernelConfig[] {
  const bnTrain: KernelConfig = {
    kernelName: BN_TRAIN,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
      const eps = (attrs as { epsilon: number }).epsilon;
      const [R, C] = rowsCols(x.shape);
      const y = b.makeOutput([...x.shape], 'float32');
      const mean = b.makeOutput([C], 'float32');
      const variance = b.makeOutput([C], 'float32');
      const native = getNative();
      if (native) {
        native.bnTrainForward(b.wasm.HEAPU8.buffer, off(b, x), off(b, gamma), off(b, beta), off(b, y), off(b, mean), off(b, variance), R, C, eps);
      } else {
        bnTrainForwardJs(view(b, x), view(b, gamma), view(b, beta), R, C, eps, view(b, y), view(b, mean), view(b, variance));
      }
      return [y, mean, variance];
    },
  };
  const bnTrainGrad: KernelConfig = {
    kernelName: BN_TRAIN_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { dy, x, gamma, mean, variance } = inputs as Record<string, TensorInfo>;
      const eps = (attrs as { epsilon: number }).epsilon;
      const [R, C] = rowsCols(x.shape);
      const dx = b.makeOutput([...x.shape], 'float32');
      const dgamma = b.makeOutput([C], 'float32');
      const dbeta = b.makeOutput([C], 'float32');
      const native = getNative();
      if (native) {
        native.bnTrainBackward(b.wasm.HEAPU8.buffer, off(b, dy), off(b, x), off(b, gamma), off(b, mean), off(b, variance),
          off(b, dx), off(b, dgamma), off(b, dbeta), R, C, eps);
      } else {
        bnTrainBackwardJs(view(b, dy), view(b, x), view(b, gamma), view(b, mean), view(b, variance), R, C, eps,
          view(b, dx), view(b, dgamma), view(b, dbeta));
      }
      return [dx, dgamma, dbeta];
    },
  };
  const actGrad: KernelConfig = {
    kernelName: ACT_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { dy, z } = inputs as { dy: TensorInfo; z: TensorInfo };
      const kind = (attrs as { kind: number }).kind;
      const out = b.makeOutput([...dy.shape], 'float32');
      const native = getNative();
      if (native) native.actGrad(b.wasm.HEAPU8.buffer, off(b, dy), off(b, z), off(b, out), tf.util.sizeFromShape(dy.shape), kind);
      else actGradJs(view(b, dy), view(b, z), kind, view(b, out));
      return out;
    },
  };
  return [bnTrain, bnTrainGrad, actGrad];
}

/** Gradient of BN_TRAIN: computed once when the backward pass reaches the node. */
export const bnTrainGradConfig: tf.GradConfig = {
  kernelName: BN_TRAIN,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
    const [x, gamma, mean, variance] = saved;
    const dyY = Array.isArray(dy) ? dy[0] : dy;
    // One kernel computes all three. They are created in the backward pass's
    // scope, which disposes whatever is not returned as a final gradient; each
    // is handed to the engine exactly once (a clone would copy on WASM).
    const [dx, dgamma, dbeta] = tf.engine().runKernel(BN_TRAIN_GRAD, { dy: dyY, x, gamma, mean, variance }, attrs) as tf.Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
};

/** Training-mode batch norm over the last axis: [normalized, batch mean, batch variance]. */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const attrs = { epsilon } as unknown as NamedAttrMap;
  return tf.engine().runKernel(BN_TRAIN, { x, gamma, beta }, attrs) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

function actWithGrad(forward: (x: tf.Tensor) => tf.Tensor, kind: number, fromInput: boolean): (x: tf.Tensor) => tf.Tensor {
  const f = (x: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = forward(x);
    save([fromInput ? x : y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(ACT_GRAD, { dy, z: saved[0] }, { kind } as unknown as NamedAttrMap) as tf.Tensor,
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
}

export const reluFast = actWithGrad((x) => tf.relu(x), ACT_KIND.relu, false);
export const relu6Fast = actWithGrad((x) => tf.relu6(x), ACT_KIND.relu6, false);
export const hardSwishFast = actWithGrad(
  (x) => tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6))), ACT_KIND.hswish, true);
