// Replacements for WASM-backend kernels that are slow in training graphs.
// Measured on MobileNetV2-0.5 at 28x28, batch 64 (one Adam step ~10 s on the
// stock WASM backend): Tile broadcasting [1,1,1,C] -> [N,H,W,C] in batch-norm
// gradients (~3 s), Sum/Mean over the outer axes (~1 s; the stock kernels
// transpose first), and the 1x1 Conv2DBackpropInput/Filter (~3 s). Each
// replacement handles the fast case and delegates everything else to the
// original WASM kernel, whose setupFunc still runs.
//
// Ownership rule (see probes.md, moveData recursion): a kernel returns exactly
// one TensorInfo that it allocated with backend.makeOutput (or got from the
// original kernel); inputs are only read.

import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from './native.ts';
import type { ConvGeom } from './grad_kernels_js.ts';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

/** forward convs go native from this many threads on, XNNPACK below (native oneDNN measured 2x XNNPACK's single-thread WASM SIMD on a 1x1 conv even on one thread) */
const FWD_MIN_THREADS = Number(process.env.NAS_NATIVE_FWD_MIN_THREADS ?? 1);

function off(b: WasmBackendLike, t: TensorInfo): number {
  return b.dataIdMap.get(t.dataId).memoryOffset;
}

/** Replaces a registered WASM kernel, keeping the original for delegation. */
function override(name: string, make: (orig: KernelFunc) => KernelFunc): KernelConfig {
  const orig = tf.getKernel(name, 'wasm');
  if (!orig) throw new Error(`fast backend: wasm kernel ${name} is not registered`);
  tf.unregisterKernel(name, 'wasm');
  const cfg: KernelConfig = { kernelName: name, backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc: make(orig.kernelFunc) };
  tf.registerKernel(cfg);
  return orig as KernelConfig;
}

/** Tile where x = [1,..,1, rest...] and only the leading 1-dims are repeated: the data repeats. */
function tileKernel(orig: KernelFunc): KernelFunc {
  return (args) => {
    const b = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: TensorInfo };
    const { reps } = args.attrs as unknown as { reps: number[] };
    let k = 0;
    while (k < x.shape.length && x.shape[k] === 1) k++;
    const simple = reps.slice(k).every((r) => r === 1) && x.dtype === 'float32';
    if (!simple) return orig(args);
    const outShape = x.shape.map((s, i) => s * reps[i]);
    const size = tf.util.sizeFromShape(x.shape);
    const times = reps.slice(0, k).reduce((a, r) => a * r, 1);
    const out = b.makeOutput(outShape, 'float32');
    const heap = new Float32Array(b.wasm.HEAPU8.buffer);
    const src = off(b, x) >>> 2;
    const dst = off(b, out) >>> 2;
    heap.copyWithin(dst, src, src + size);
    let filled = size;
    const total = size * times;
    while (filled < total) {
      const n = Math.min(filled, total - filled);
      heap.copyWithin(dst + filled, dst, dst + n);
      filled += n;
    }
    return out;
  };
}

/** Sum/Mean over a leading run of axes [0..k-1] as a column sum (native or JS). */
function reduceKernel(orig: KernelFunc, mean: boolean, getNative: () => NativeKernels | null): KernelFunc {
  return (args) => {
    const b = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== 'float32') return orig(args);
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const k = axes.length;
    if (k === 0 || axes.some((a, i) => a !== i) || k === x.shape.length) return orig(args);
    const R = tf.util.sizeFromShape(x.shape.slice(0, k));
    const C = tf.util.sizeFromShape(x.shape.slice(k));
    if (C < 4) return orig(args);
    const outShape = keepDims ? x.shape.map((s, i) => (i < k ? 1 : s)) : x.shape.slice(k);
    const out = b.makeOutput(outShape, 'float32');
    const scale = mean ? 1 / R : 1;
    const native = getNative();
    if (native) {
      native.sumRows(b.wasm.HEAPU8.buffer, off(b, x), off(b, out), R, C, scale);
    } else {
      const heap = b.wasm.HEAPU8.buffer;
      const xs = new Float32Array(heap, off(b, x), R * C);
      const o = new Float32Array(heap, off(b, out), C);
      const acc = new Float64Array(C);
      for (let r = 0; r < R; r++) {
        const base = r * C;
        for (let c = 0; c < C; c++) acc[c] += xs[base + c];
      }
      for (let c = 0; c < C; c++) o[c] = acc[c] * scale;
    }
    return out;
  };
}

function convGeom(info: backend_util.Conv2DInfo): ConvGeom | null {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast') return null;
  return {
    batch: info.batchSize, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    kH: info.filterHeight, kW: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/** Conv2DBackpropInput on the native GEMM (all NHWC float32 cases). */
function convBackpropInputKernel(orig: KernelFunc, getNative: () => NativeKernels | null): KernelFunc {
  return (args) => {
    const b = args.backend as unknown as WasmBackendLike;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const native = getNative();
    if (!native || dy.dtype !== 'float32' || filter.dtype !== 'float32') return orig(args);
    const info = backend_util.computeConv2DInfo(
      inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
      backend_util.convertConv2DDataFormat(dataFormat));
    const g = convGeom(info);
    if (!g) return orig(args);
    const out = b.makeOutput([...inputShape], 'float32');
    native.conv2dBackpropInput(b.wasm.HEAPU8.buffer, off(b, dy), off(b, filter), off(b, out), g);
    return out;
  };
}

/**
 * Identity shares the input's data (refcount) instead of copying it, as the
 * cpu backend does and as the WASM Reshape kernel already does; tfjs never
 * mutates tensor data in place. The engine clones every tensor it saves for
 * the backward pass through Identity, so the copies cost ~15% of a step.
 */
function identityKernel(): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** epilogue activation codes of the addon (-1 none); null = not supported natively */
function epilogueKind(activation: string | undefined | null): number | null {
  if (!activation || activation === 'linear') return -1;
  if (activation === 'relu') return 0;
  if (activation === 'relu6') return 1;
  return null;
}

/** bias absent, or float32 with one value per output channel */
function biasOk(bias: TensorInfo | undefined, outC: number): boolean {
  return !bias || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === outC);
}

/**
 * Forward pointwise convolution (FusedConv2D; tfjs-layers emits it without
 * bias/activation, the folded inference runner of inference_model.ts with a
 * bias and relu/relu6) on the native GEMM plus an in-place bias/activation
 * pass, and depthwise convolution (with its bias/activation epilogue for
 * FusedDepthwiseConv2D) on the native kernels (see FWD_MIN_THREADS); other
 * cases stay on XNNPACK.
 */
function fusedConvKernel(orig: KernelFunc, getNative: () => NativeKernels | null): KernelFunc {
  return (args) => {
    const native = getNative();
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const a = args.attrs as unknown as tf.FusedConv2DAttrs;
    const kind = epilogueKind(a.activation);
    if (!native || native.threads() < FWD_MIN_THREADS || preluActivationWeights || kind === null ||
        !x || !filter || x.dtype !== 'float32' || filter.dtype !== 'float32') {
      return orig(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], a.strides, a.dilations ?? 1,
      a.pad, a.dimRoundingMode, false, backend_util.convertConv2DDataFormat(a.dataFormat));
    const g = convGeom(info);
    if (!g || g.kH !== 1 || g.kW !== 1 || g.strideH !== 1 || g.strideW !== 1 || g.padTop !== 0 || g.padLeft !== 0 || !biasOk(bias, g.outC)) {
      return orig(args);
    }
    const b = args.backend as unknown as WasmBackendLike;
    const out = b.makeOutput([g.batch, g.outH, g.outW, g.outC], 'float32');
    const rows = g.batch * g.inH * g.inW;
    native.gemm(b.wasm.HEAPU8.buffer, off(b, x), off(b, filter), off(b, out), 0, 0, rows, g.outC, g.inC, 0);
    if (bias || kind >= 0) native.biasAct(b.wasm.HEAPU8.buffer, off(b, out), bias ? off(b, bias) : -1, rows, g.outC, kind);
    return out;
  };
}

function depthwiseKernel(orig: KernelFunc, getNative: () => NativeKernels | null): KernelFunc {
  return (args) => {
    const native = getNative();
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const a = args.attrs as unknown as tf.FusedDepthwiseConv2DAttrs;
    const kind = epilogueKind(a.activation);
    if (!native || native.threads() < FWD_MIN_THREADS || preluActivationWeights || kind === null ||
        !x || !filter || x.dtype !== 'float32' || filter.dtype !== 'float32') {
      return orig(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], a.strides, a.dilations ?? 1,
      a.pad, a.dimRoundingMode, true);
    const g = convGeom(info);
    if (!g || !biasOk(bias, g.outC)) return orig(args);
    const b = args.backend as unknown as WasmBackendLike;
    const out = b.makeOutput([g.batch, g.outH, g.outW, g.outC], 'float32');
    if (bias || kind >= 0) native.depthwiseForwardFused(b.wasm.HEAPU8.buffer, off(b, x), off(b, filter), off(b, out), g, bias ? off(b, bias) : -1, kind);
    else native.depthwiseForward(b.wasm.HEAPU8.buffer, off(b, x), off(b, filter), off(b, out), g);
    return out;
  };
}

/** Installs the overrides (once); returns the names replaced. Call before tf.setBackend('wasm'). */
export function installWasmOverrides(getNative: () => NativeKernels | null): string[] {
  const names: string[] = [];
  override(tf.Tile, (orig) => tileKernel(orig));
  override(tf.Identity, () => identityKernel());
  names.push(tf.Tile, tf.Identity);
  override(tf.Sum, (orig) => reduceKernel(orig, false, getNative));
  override(tf.Mean, (orig) => reduceKernel(orig, true, getNative));
  names.push(tf.Sum, tf.Mean);
  override(tf.Conv2DBackpropInput, (orig) => convBackpropInputKernel(orig, getNative));
  override(tf.FusedConv2D, (orig) => fusedConvKernel(orig, getNative));
  override(tf.DepthwiseConv2dNative, (orig) => depthwiseKernel(orig, getNative));
  override(tf.FusedDepthwiseConv2D, (orig) => depthwiseKernel(orig, getNative));
  names.push(tf.Conv2DBackpropInput, tf.FusedConv2D, tf.DepthwiseConv2dNative, tf.FusedDepthwiseConv2D);
  return names;
}
