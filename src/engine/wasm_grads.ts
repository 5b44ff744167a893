// Registers the training kernels that @tensorflow/tfjs-backend-wasm 4.22 does
// not ship (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
// DepthwiseConv2dNativeBackpropInput) on the 'wasm' backend.
//
// Every kernel allocates its output with backend.makeOutput (refCount 1, owned
// by the engine) and computes straight into WASM heap memory, either through
// the native addon (multi-threaded C++, see native/) or the plain-JS loops in
// grad_kernels_js.ts. No tfjs op runs inside a kernel, so the engine's
// reference counting sees exactly one new dataId per call (probes.md: a
// wrapper that returned the TensorInfo of inner tf ops recursed in moveData).
// The 1x1 stride-1 filter gradient, the bulk of MobileNet-style training, is a
// single matrix product; it runs on the native GEMM or, without the addon, on
// the WASM backend's own BatchMatMul kernel called directly.

import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  type ConvGeom, conv2dBackpropFilterJs, depthwiseBackpropFilterJs, depthwiseBackpropInputJs,
} from './grad_kernels_js.ts';
import type { NativeKernels } from './native.ts';

/** The parts of BackendWasm these kernels use (the class is not exported as a type we can rely on). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(dataId: object): boolean;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

function geomOf(info: backend_util.Conv2DInfo): ConvGeom {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error('fast backend: dilated convolution gradients are not supported');
  }
  if (info.dataFormat !== 'channelsLast') throw new Error('fast backend: only NHWC convolutions are supported');
  return {
    batch: info.batchSize, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    kH: info.filterHeight, kW: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

function heapView(b: WasmBackendLike, t: TensorInfo): Float32Array {
  const { memoryOffset } = b.dataIdMap.get(t.dataId);
  return new Float32Array(b.wasm.HEAPU8.buffer, memoryOffset, tf.util.sizeFromShape(t.shape));
}

function offsetOf(b: WasmBackendLike, t: TensorInfo): number {
  return b.dataIdMap.get(t.dataId).memoryOffset;
}

function checkFloat(...ts: TensorInfo[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`fast backend: gradient kernels need float32, got ${t.dtype}`);
}

type NativeGrad = (n: NativeKernels, heap: ArrayBufferLike, a: number, c: number, out: number, g: ConvGeom) => void;
type JsGrad = (g: ConvGeom, a: Float32Array, c: Float32Array, out: Float32Array) => void;

/** Computes `out` from inputs `a`, `c` on the native addon when loaded, else in plain JS; counts which ran. */
function runGrad(
  b: WasmBackendLike, native: NativeKernels | null, stats: GradKernelStats,
  a: TensorInfo, c: TensorInfo, out: TensorInfo, g: ConvGeom, onNative: NativeGrad, onJs: JsGrad,
): TensorInfo {
  if (native) {
    stats.native++;
    onNative(native, b.wasm.HEAPU8.buffer, offsetOf(b, a), offsetOf(b, c), offsetOf(b, out), g);
  } else {
    stats.js++;
    onJs(g, heapView(b, a), heapView(b, c), heapView(b, out));
  }
  return out;
}

/** Which implementation computes each kernel; counts calls (for doctor/tests). */
export interface GradKernelStats {
  native: number;
  js: number;
  matmul: number;
}

/** `getNative` is consulted on every call, so the addon can be switched off at run time. */
export function makeWasmGradKernels(getNative: () => NativeKernels | null, stats: GradKernelStats): KernelConfig[] {
  const conv2DBackpropFilter: KernelConfig = {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      checkFloat(x, dy);
      const native = getNative();
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false,
        backend_util.convertConv2DDataFormat(dataFormat));
      const g = geomOf(info);
      const pointwise = g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop === 0 && g.padLeft === 0;
      if (pointwise && !native) {
        // dW[Cin, Cout] = X^T[Cin, NHW] . dY[NHW, Cout] on the WASM BatchMatMul kernel.
        stats.matmul++;
        const rows = g.batch * g.inH * g.inW;
        const mm = tf.getKernel(tf.BatchMatMul, 'wasm');
        if (!mm) throw new Error('fast backend: wasm BatchMatMul kernel missing');
        const out = mm.kernelFunc({
          inputs: {
            a: { dataId: x.dataId, shape: [1, rows, g.inC], dtype: 'float32' },
            b: { dataId: dy.dataId, shape: [1, rows, g.outC], dtype: 'float32' },
          },
          backend,
          attrs: { transposeA: true, transposeB: false },
        }) as TensorInfo;
        out.shape = [1, 1, g.inC, g.outC];
        return out;
      }
      const out = b.makeOutput([g.kH, g.kW, g.inC, g.outC], 'float32');
      return runGrad(b, native, stats, x, dy, out, g, (n, ...args) => n.conv2dBackpropFilter(...args), conv2dBackpropFilterJs);
    },
  };

  const depthwiseBackpropFilter: KernelConfig = {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
      checkFloat(x, dy);
      const native = getNative();
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
      const g = geomOf(info);
      const out = b.makeOutput([...filterShape], 'float32');
      return runGrad(b, native, stats, x, dy, out, g, (n, ...args) => n.depthwiseBackpropFilter(...args), depthwiseBackpropFilterJs);
    },
  };

  const depthwiseBackpropInput: KernelConfig = {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
      const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
      checkFloat(dy, filter);
      const native = getNative();
      const info = backend_util.computeConv2DInfo(
        inputShape, filter.shape as [number, number, number, number], strides, dilations ?? 1, pad, dimRoundingMode, true);
      const g = geomOf(info);
      const out = b.makeOutput([...inputShape], 'float32');
      return runGrad(b, native, stats, dy, filter, out, g, (n, ...args) => n.depthwiseBackpropInput(...args), depthwiseBackpropInputJs);
    },
  };
  return [conv2DBackpropFilter, depthwiseBackpropFilter, depthwiseBackpropInput];
}
