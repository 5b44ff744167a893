// Inference-time kernels of the fast path. Measured on MobileNetV2-0.5 at
// 28x28 (batch 256, 2 threads): the stock WASM FusedBatchNorm (a scalar loop
// per element) took ~65% of model.predict; tfjs-layers runs it for every BN
// layer in inference mode (moving statistics) and whenever the training-time
// patches of layer_patches.ts do not apply. Replaced here by a per-channel
// scale/shift pass (native addon, OpenMP, or JS) for channels-last statistics
// of size C; other broadcast shapes go to the original kernel. Relu and Relu6
// (forward, training and inference) run on the addon's threads when it is
// loaded (the stock ones are single-threaded XNNPACK clamps).
//
// Switch: env NAS_FAST_INFERENCE=0 (read at setup) or setInferenceKernelsEnabled(false)
// restores the stock kernels' behaviour (bench:eval's "before" figures).
// Ownership rule as in wasm_overrides.ts: one output allocated with makeOutput.

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from './native.ts';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

let enabled = process.env.NAS_FAST_INFERENCE !== '0';

/** calls that took the replacement paths (tests check that inference runs on them) */
export const inferenceKernelStats = { batchNormNative: 0, batchNormJs: 0, activationNative: 0 };

/** Turn the inference kernels off/on (off = the stock WASM kernels run). */
export function setInferenceKernelsEnabled(on: boolean): void {
  enabled = on;
}

export function inferenceKernelsEnabled(): boolean {
  return enabled;
}

const off = (b: WasmBackendLike, t: TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;

/** y[r, c] = x[r, c] * a[c] + b[c] with a = scale / sqrt(var + eps), b = offset - mean * a (JS fallback). */
export function bnInferenceJs(x: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array | null,
  offset: Float32Array | null, R: number, C: number, eps: number, y: Float32Array): void {
  const a = new Float32Array(C);
  const b = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    a[c] = (scale ? scale[c] : 1) / Math.sqrt(variance[c] + eps);
    b[c] = (offset ? offset[c] : 0) - mean[c] * a[c];
  }
  for (let r = 0, i = 0; r < R; r++) for (let c = 0; c < C; c++, i++) y[i] = x[i] * a[c] + b[c];
}

/** true when t is absent or holds exactly C float32 values (one per channel) */
function perChannel(t: TensorInfo | undefined, C: number): boolean {
  return !t || (t.dtype === 'float32' && tf.util.sizeFromShape(t.shape) === C);
}

function batchNormKernel(orig: KernelFunc, getNative: () => NativeKernels | null): KernelFunc {
  return (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    const eps = (args.attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
    if (!enabled || !x || !mean || !variance || x.dtype !== 'float32' || x.shape.length < 1) return orig(args);
    const C = x.shape[x.shape.length - 1];
    const size = tf.util.sizeFromShape(x.shape);
    if (C < 1 || size === 0 || ![mean, variance, offset, scale].every((t) => perChannel(t, C))) return orig(args);
    const R = size / C;
    const b = args.backend as unknown as WasmBackendLike;
    const out = b.makeOutput([...x.shape], 'float32');
    const native = getNative();
    if (native) {
      inferenceKernelStats.batchNormNative++;
      native.bnInference(b.wasm.HEAPU8.buffer, off(b, x), off(b, mean), off(b, variance), scale ? off(b, scale) : -1,
        offset ? off(b, offset) : -1, off(b, out), R, C, eps);
    } else {
      inferenceKernelStats.batchNormJs++;
      const heap = b.wasm.HEAPU8.buffer;
      const v = (t: TensorInfo | undefined, n: number) => (t ? new Float32Array(heap, off(b, t), n) : null);
      bnInferenceJs(v(x, size)!, v(mean, C)!, v(variance, C)!, v(scale, C), v(offset, C), R, C, eps, v(out, size)!);
    }
    return out;
  };
}

function activationKernel(orig: KernelFunc, kind: number, getNative: () => NativeKernels | null): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const native = getNative();
    if (!enabled || !native || x.dtype !== 'float32') return orig(args);
    const n = tf.util.sizeFromShape(x.shape);
    const b = args.backend as unknown as WasmBackendLike;
    const out = b.makeOutput([...x.shape], 'float32');
    inferenceKernelStats.activationNative++;
    if (n > 0) native.actForward(b.wasm.HEAPU8.buffer, off(b, x), off(b, out), n, kind);
    return out;
  };
}

function replace(name: string, make: (orig: KernelFunc) => KernelFunc): void {
  const orig = tf.getKernel(name, 'wasm');
  if (!orig) throw new Error(`fast backend: wasm kernel ${name} is not registered`);
  tf.unregisterKernel(name, 'wasm');
  const cfg: KernelConfig = { kernelName: name, backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc: make(orig.kernelFunc) };
  tf.registerKernel(cfg);
}

/** Replaces the WASM FusedBatchNorm, Relu and Relu6 kernels (once); returns the names replaced. Call before tf.setBackend('wasm'). */
export function installInferenceKernels(getNative: () => NativeKernels | null): string[] {
  replace(tf.FusedBatchNorm, (orig) => batchNormKernel(orig, getNative));
  replace(tf.Relu, (orig) => activationKernel(orig, 0, getNative));
  replace(tf.Relu6, (orig) => activationKernel(orig, 1, getNative));
  return [tf.FusedBatchNorm, tf.Relu, tf.Relu6];
}
