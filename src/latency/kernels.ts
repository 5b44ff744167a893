// Kernel decomposition: an ArchSpec at an input shape -> the fused units a
// mobile runtime executes, each with a canonical key built by ONE function
// (kernelKey). Kernels are derived from expandNetwork()'s op nodes, never by
// hand: conv+BN+activation, depthwise+BN+activation, SE, add, pooling,
// classifier. Each kernel can be turned back into a one-op NetworkPlan, the
// small model a profiler runs to measure it.

import { allOps, expandNetwork, type LayerPlan, type NetworkPlan, type OpNode } from '../space/network.ts';
import type { Activation, ArchSpec, InputShape } from '../space/types.ts';

export type KernelOp = 'conv' | 'dwconv' | 'se' | 'add' | 'gap' | 'dense';
export type KernelActivation = Activation | 'linear';

/** One fused kernel. Spatial size is the kernel's input size. */
export interface Kernel {
  op: KernelOp;
  kernel: number;
  stride: number;
  inC: number;
  outC: number;
  inH: number;
  inW: number;
  /**
   * Channel ratio the kernel applies (1x1 expansion conv of an ir block: outC/inC;
   * otherwise 1). Implied by the channels; kept in the key so that keys read like
   * the search space's vocabulary.
   */
  expansion: number;
  activation: KernelActivation;
}

export const KERNEL_OPS: readonly KernelOp[] = ['conv', 'dwconv', 'se', 'add', 'gap', 'dense'];

function fmtRatio(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(3).replace(/0+$/, '');
}

/** The canonical key of a kernel. The only place a key is built. */
export function kernelKey(k: Kernel): string {
  return `${k.op}_k${k.kernel}_s${k.stride}_i${k.inC}_o${k.outC}_h${k.inH}x${k.inW}_e${fmtRatio(k.expansion)}_${k.activation}`;
}

const KEY_RE = /^(conv|dwconv|se|add|gap|dense)_k(\d+)_s(\d+)_i(\d+)_o(\d+)_h(\d+)x(\d+)_e([0-9.]+)_(relu|relu6|hswish|swish|linear)$/;

/** Inverse of kernelKey (for tables read from disk); throws on a malformed key. */
export function parseKernelKey(key: string): Kernel {
  const m = KEY_RE.exec(key);
  if (!m) throw new Error(`malformed kernel key "${key}"`);
  const k: Kernel = {
    op: m[1] as KernelOp, kernel: +m[2], stride: +m[3], inC: +m[4], outC: +m[5], inH: +m[6], inW: +m[7],
    expansion: +m[8], activation: m[9] as KernelActivation,
  };
  if (kernelKey(k) !== key) throw new Error(`kernel key "${key}" is not canonical (expected "${kernelKey(k)}")`);
  return k;
}

/** The kernel an op node runs as. */
export function kernelOfOp(op: OpNode): Kernel {
  switch (op.kind) {
    case 'conv2d': {
      const ratio = op.kernel === 1 && op.outC > op.inC && op.outC % op.inC === 0 ? op.outC / op.inC : 1;
      return { op: 'conv', kernel: op.kernel, stride: op.stride, inC: op.inC, outC: op.outC, inH: op.inH, inW: op.inW, expansion: ratio, activation: op.activation ?? 'linear' };
    }
    case 'dwconv2d':
      return { op: 'dwconv', kernel: op.kernel, stride: op.stride, inC: op.channels, outC: op.channels, inH: op.inH, inW: op.inW, expansion: 1, activation: op.activation ?? 'linear' };
    case 'se':
      // outC carries the reduced (squeeze) channels; the SE output has inC channels.
      return { op: 'se', kernel: 1, stride: 1, inC: op.channels, outC: op.reducedChannels, inH: op.h, inW: op.w, expansion: 1, activation: op.activation };
    case 'add':
      return { op: 'add', kernel: 1, stride: 1, inC: op.channels, outC: op.channels, inH: op.h, inW: op.w, expansion: 1, activation: 'linear' };
    case 'gap':
      return { op: 'gap', kernel: op.h, stride: 1, inC: op.channels, outC: op.channels, inH: op.h, inW: op.w, expansion: 1, activation: 'linear' };
    case 'dense':
      return { op: 'dense', kernel: 1, stride: 1, inC: op.inC, outC: op.outC, inH: 1, inW: 1, expansion: 1, activation: 'linear' };
  }
}

export interface DecomposedKernel {
  key: string;
  kernel: Kernel;
  /** name of the op node in the network plan */
  node: string;
}

/** Kernels of an already expanded plan, in execution order. */
export function decomposePlan(plan: NetworkPlan): DecomposedKernel[] {
  return allOps(plan).map((op) => {
    const kernel = kernelOfOp(op);
    return { key: kernelKey(kernel), kernel, node: op.name };
  });
}

export function decompose(spec: ArchSpec, input: InputShape, numClasses: number): DecomposedKernel[] {
  return decomposePlan(expandNetwork(spec, input, numClasses));
}

function outSize(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

/** The op node a kernel stands for (names follow the builder's convention). */
export function opOfKernel(k: Kernel, name = 'k'): OpNode {
  const outH = outSize(k.inH, k.stride);
  const outW = outSize(k.inW, k.stride);
  const act = k.activation === 'linear' ? null : k.activation;
  switch (k.op) {
    case 'conv':
      return { kind: 'conv2d', name, inH: k.inH, inW: k.inW, inC: k.inC, outC: k.outC, kernel: k.kernel, stride: k.stride, outH, outW, activation: act };
    case 'dwconv':
      return { kind: 'dwconv2d', name, inH: k.inH, inW: k.inW, channels: k.inC, kernel: k.kernel, stride: k.stride, outH, outW, activation: act };
    case 'se':
      if (act === null) throw new Error(`SE kernel needs an activation: ${kernelKey(k)}`);
      return { kind: 'se', name, h: k.inH, w: k.inW, channels: k.inC, reducedChannels: k.outC, activation: act };
    case 'add':
      return { kind: 'add', name, h: k.inH, w: k.inW, channels: k.inC };
    case 'gap':
      return { kind: 'gap', name, h: k.inH, w: k.inW, channels: k.inC };
    case 'dense':
      return { kind: 'dense', name, inC: k.inC, outC: k.outC, dropout: 0 };
  }
}

/**
 * The smallest network holding just this kernel: one layer with one op. The
 * input has the kernel's input shape (1x1xC for the classifier). An add kernel
 * adds the layer input to itself.
 */
export function kernelPlan(k: Kernel, numClasses = 10): NetworkPlan {
  const op = opOfKernel(k);
  const inShape: [number, number, number] = [k.inH, k.inW, k.inC];
  let outShape: [number, number, number];
  switch (k.op) {
    case 'conv': case 'dwconv': outShape = [outSize(k.inH, k.stride), outSize(k.inW, k.stride), k.outC]; break;
    case 'se': case 'add': outShape = [k.inH, k.inW, k.inC]; break;
    case 'gap': outShape = [1, 1, k.inC]; break;
    case 'dense': outShape = [1, 1, k.outC]; break;
  }
  const layer: LayerPlan = {
    name: 'kernel', block: 0, ops: [op], residual: k.op === 'add', inShape, outShape,
  };
  return { input: { height: k.inH, width: k.inW, channels: k.inC }, numClasses: k.op === 'dense' ? k.outC : numClasses, layers: [layer] };
}

/** Multiply-accumulates of one kernel (regression feature; consistent with MAC counting conventions). */
export function kernelMacs(k: Kernel): number {
  const oh = outSize(k.inH, k.stride);
  const ow = outSize(k.inW, k.stride);
  switch (k.op) {
    case 'conv': return oh * ow * k.kernel * k.kernel * k.inC * k.outC;
    case 'dwconv': return oh * ow * k.kernel * k.kernel * k.inC;
    case 'se': return k.inH * k.inW * k.inC * 2 + 2 * k.inC * k.outC;
    case 'add': return k.inH * k.inW * k.inC;
    case 'gap': return k.inH * k.inW * k.inC;
    case 'dense': return k.inC * k.outC;
  }
}

/** Elements read and written by a kernel (memory-traffic feature). */
export function kernelIoElems(k: Kernel): { inElems: number; outElems: number; weightElems: number } {
  const oh = outSize(k.inH, k.stride);
  const ow = outSize(k.inW, k.stride);
  const inElems = k.inH * k.inW * k.inC * (k.op === 'add' ? 2 : 1);
  switch (k.op) {
    case 'conv': return { inElems, outElems: oh * ow * k.outC, weightElems: k.kernel * k.kernel * k.inC * k.outC };
    case 'dwconv': return { inElems, outElems: oh * ow * k.inC, weightElems: k.kernel * k.kernel * k.inC };
    case 'se': return { inElems, outElems: k.inH * k.inW * k.inC, weightElems: 2 * k.inC * k.outC };
    case 'add': return { inElems, outElems: k.inH * k.inW * k.inC, weightElems: 0 };
    case 'gap': return { inElems, outElems: k.inC, weightElems: 0 };
    case 'dense': return { inElems: k.inC, outElems: k.outC, weightElems: k.inC * k.outC };
  }
}
