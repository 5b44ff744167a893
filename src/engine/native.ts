// Loader for the optional native kernel addon (native/fastkernels.cc, built by
// native/build.mjs into native/build/fastkernels.node). Missing or broken
// addon -> null plus a reason; callers fall back to JS kernels.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { ConvGeom } from './grad_kernels_js.ts';

/** Kernels of the addon. Offsets are byte offsets of float32 data inside `heap`. */
export interface NativeKernels {
  conv2dBackpropFilter(heap: ArrayBufferLike, xOff: number, dyOff: number, outOff: number, g: ConvGeom): void;
  depthwiseBackpropFilter(heap: ArrayBufferLike, xOff: number, dyOff: number, outOff: number, g: ConvGeom): void;
  depthwiseBackpropInput(heap: ArrayBufferLike, dyOff: number, wOff: number, outOff: number, g: ConvGeom): void;
  conv2dBackpropInput(heap: ArrayBufferLike, dyOff: number, wOff: number, outOff: number, g: ConvGeom): void;
  depthwiseForward(heap: ArrayBufferLike, xOff: number, wOff: number, outOff: number, g: ConvGeom): void;
  /** depthwise forward + bias (biasOff -1: none) + activation (kind -1 none, 0 relu, 1 relu6) */
  depthwiseForwardFused(heap: ArrayBufferLike, xOff: number, wOff: number, outOff: number, g: ConvGeom, biasOff: number, kind: number): void;
  /** in place y[r, c] = act(y[r, c] + bias[c]) over [R, C] (biasOff -1: none; kind -1 none, 0 relu, 1 relu6) */
  biasAct(heap: ArrayBufferLike, yOff: number, biasOff: number, R: number, C: number, kind: number): void;
  /** C[M,N] = op(A) . op(B) + beta * C, row-major */
  gemm(heap: ArrayBufferLike, aOff: number, bOff: number, cOff: number, transA: number, transB: number, M: number, N: number, K: number, beta: number): void;
  /** out[c] = scale * sum_r x[r, c] */
  sumRows(heap: ArrayBufferLike, xOff: number, outOff: number, R: number, C: number, scale: number): void;
  /** y = (x - mean) * scale / sqrt(var + eps) + offset over [R, C]; scaleOff/offsetOff -1 = absent (1 / 0) */
  bnInference(heap: ArrayBufferLike, xOff: number, meanOff: number, varOff: number, scaleOff: number, offsetOff: number, yOff: number,
    R: number, C: number, eps: number): void;
  bnTrainForward(heap: ArrayBufferLike, xOff: number, gammaOff: number, betaOff: number, yOff: number, meanOff: number, varOff: number, R: number, C: number, eps: number): void;
  bnTrainBackward(heap: ArrayBufferLike, dyOff: number, xOff: number, gammaOff: number, meanOff: number, varOff: number,
    dxOff: number, dgammaOff: number, dbetaOff: number, R: number, C: number, eps: number): void;
  /** y = relu(x) (kind 0) or relu6(x) (kind 1) */
  actForward(heap: ArrayBufferLike, xOff: number, yOff: number, n: number, kind: number): void;
  /** kind: 0 relu (z = output), 1 relu6 (z = output), 2 hswish (z = input) */
  actGrad(heap: ArrayBufferLike, dyOff: number, zOff: number, outOff: number, n: number, kind: number): void;
  /** worker threads the addon uses */
  threads(): number;
  setThreads(n: number): void;
  /** e.g. "oneDNN sgemm" or "builtin gemm" */
  gemmName(): string;
}

export interface NativeLoad {
  kernels: NativeKernels | null;
  reason: string;
  path: string;
}

/** the addon file; env NAS_NATIVE_ADDON points elsewhere (e.g. a test build) */
export function nativeAddonPath(): string {
  if (process.env.NAS_NATIVE_ADDON) return process.env.NAS_NATIVE_ADDON;
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', 'native', 'build', 'fastkernels.node');
}

let cached: NativeLoad | undefined;

/**
 * OpenMP threads that busy-wait at barriers collapse when other processes
 * share the cores (measured: 8 vs 88 images/s at load ~9 on 2 cores). A short
 * spin keeps the quiet-machine speed and degrades gracefully. Applied only if
 * the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT; must run before the
 * addon (and with it libgomp) is loaded.
 */
export const DEFAULT_GOMP_SPINCOUNT = '10000';
function tameOpenMp(): void {
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = DEFAULT_GOMP_SPINCOUNT;
  }
}

export function loadNativeKernels(): NativeLoad {
  if (cached) return cached;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    cached = { kernels: null, reason: `native addon not built (${path} missing; run: node native/build.mjs)`, path };
    return cached;
  }
  try {
    tameOpenMp();
    const req = createRequire(import.meta.url);
    const mod = req(path) as NativeKernels;
    cached = { kernels: mod, reason: `native addon loaded (${mod.gemmName()}, ${mod.threads()} threads)`, path };
  } catch (e) {
    cached = { kernels: null, reason: `native addon failed to load: ${(e as Error).message}`, path };
  }
  return cached;
}
