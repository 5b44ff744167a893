// The fast CPU training path: the tfjs WASM backend (single-threaded SIMD
// build, XNNPACK forward kernels) plus
//   - the three gradient kernels it lacks (wasm_grads.ts), and
//   - replacements for its slow training kernels (wasm_overrides.ts) and
//     inference kernels (inference_kernels.ts: batch norm on moving statistics),
//   - fused batch-norm and activation ops for training, routed in by patched
//     tfjs-layers methods while 'wasm' is the active backend (layer_patches.ts),
// computed by the native addon (OpenMP threads, oneDNN GEMM) directly on the
// WASM heap, or by plain JS when the addon is missing or switched off.
// The tfjs backend keeps the name 'wasm' (kernels are looked up by it);
// initBackend reports it as 'fast' (native) or 'fast-js'.

import * as tf from '@tensorflow/tfjs-core';
import { loadNativeKernels, type NativeKernels } from './native.ts';
import { makeWasmGradKernels, type GradKernelStats } from './wasm_grads.ts';
import { installWasmOverrides } from './wasm_overrides.ts';
import { installInferenceKernels } from './inference_kernels.ts';
import { bnTrainGradConfig, makeFusedKernels } from './fused_ops.ts';
import { installLayerPatches } from './layer_patches.ts';

export interface FastBackendInfo {
  /** true when the native addon computes the heavy kernels */
  native: boolean;
  /** addon threads (1 = JS kernels on the main thread) */
  threads: number;
  /** why the addon is or is not used */
  nativeReason: string;
  /** kernels added or replaced on the WASM backend */
  kernels: string[];
  /** calls of the gradient kernels by implementation (tests check which one ran) */
  stats: GradKernelStats;
}

export interface FastBackendOptions {
  /** ignore the native addon and use JS kernels (fallback, tests) */
  noNative?: boolean;
  /** threads for the native kernels (default: all cores, via OpenMP) */
  threads?: number;
}

let installed: FastBackendInfo | undefined;
let loaded: NativeKernels | null = null;
let loadReason = '';
/** the addon the kernels call now; null = JS kernels */
let active: NativeKernels | null = null;

/**
 * Registers the fast path's kernels (once per process), selects native or JS
 * kernels, and makes 'wasm' the active tfjs backend. Throws if the WASM
 * backend cannot start.
 */
export async function setupFastBackend(opts: FastBackendOptions = {}): Promise<FastBackendInfo> {
  if (!installed) {
    // Side-effect import registers the 'wasm' backend factory and its kernels.
    await import('@tensorflow/tfjs-backend-wasm');
    // The threaded build spawns workers from blob: URLs, which Node refuses (probes.md).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const load = loadNativeKernels();
    loaded = load.kernels;
    loadReason = load.reason;
    const stats: GradKernelStats = { native: 0, js: 0, matmul: 0 };
    const grads = makeWasmGradKernels(() => active, stats);
    for (const k of grads) {
      if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
    const replaced = [...installWasmOverrides(() => active), ...installInferenceKernels(() => active)];
    const fused = makeFusedKernels(() => active);
    for (const k of fused) tf.registerKernel(k);
    tf.registerGradient(bnTrainGradConfig);
    installLayerPatches();
    installed = {
      native: false, threads: 1, nativeReason: loadReason, stats,
      kernels: [...grads.map((k) => k.kernelName), ...replaced, ...fused.map((k) => k.kernelName)],
    };
  }
  active = opts.noNative ? null : loaded;
  if (active && opts.threads) active.setThreads(opts.threads);
  installed.native = active !== null;
  installed.threads = active ? active.threads() : 1;
  installed.nativeReason = opts.noNative && loaded ? 'native addon available but switched off' : loadReason;
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('the tfjs WASM backend failed to initialise');
  await tf.ready();
  return installed;
}

export function fastBackendInfo(): FastBackendInfo | undefined {
  return installed;
}
