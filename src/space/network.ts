// Expands an ArchSpec at an input shape into the flat list of operators the
// network executes. This plan is the single contract shared by the model
// builder, the cost model (params, MACs), the TFLite exporter and the
// latency kernel decomposition, so all of them agree on structure and names.

import { type Activation, type ArchSpec, type InputShape, SpaceError } from './types.ts';

/** Output size of a 'same'-padded convolution. */
export function sameOutSize(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

/** k x k convolution (no bias) followed by batch norm and an optional activation. */
export interface ConvNode {
  kind: 'conv2d';
  name: string;
  inH: number;
  inW: number;
  inC: number;
  outC: number;
  kernel: number;
  stride: number;
  outH: number;
  outW: number;
  /** null = linear (no activation) */
  activation: Activation | null;
}

/** Depthwise k x k convolution (no bias, multiplier 1) followed by batch norm and activation. */
export interface DepthwiseNode {
  kind: 'dwconv2d';
  name: string;
  inH: number;
  inW: number;
  channels: number;
  kernel: number;
  stride: number;
  outH: number;
  outW: number;
  activation: Activation | null;
}

/**
 * Squeeze-and-excitation: global mean -> 1x1 conv (bias) to reducedChannels
 * -> activation -> 1x1 conv (bias) back to channels -> sigmoid -> multiply.
 */
export interface SqueezeExciteNode {
  kind: 'se';
  name: string;
  h: number;
  w: number;
  channels: number;
  reducedChannels: number;
  activation: Activation;
}

/** Residual add of the layer input to the layer output. */
export interface AddNode {
  kind: 'add';
  name: string;
  h: number;
  w: number;
  channels: number;
}

/** Global average pooling over H and W. */
export interface PoolNode {
  kind: 'gap';
  name: string;
  h: number;
  w: number;
  channels: number;
}

/** Fully connected classifier with bias; softmax output. Dropout precedes it in training. */
export interface DenseNode {
  kind: 'dense';
  name: string;
  inC: number;
  outC: number;
  dropout: number;
}

export type OpNode = ConvNode | DepthwiseNode | SqueezeExciteNode | AddNode | PoolNode | DenseNode;

/** One layer: a stem, one repetition of a block, or the head. */
export interface LayerPlan {
  name: string;
  /** 'stem' | 'head' | block index (0-based) */
  block: number | 'stem' | 'head';
  /** main-path operators in execution order (the residual add, if any, is last) */
  ops: OpNode[];
  /** true when the layer input is added to its output */
  residual: boolean;
  inShape: [number, number, number];
  outShape: [number, number, number];
}

export interface NetworkPlan {
  input: InputShape;
  numClasses: number;
  layers: LayerPlan[];
}

/** Channels of the SE bottleneck: ratio of the block's input channels, at least 1. */
export function seReducedChannels(inputChannels: number, seRatio: number): number {
  return Math.max(1, Math.floor(inputChannels * seRatio));
}

export function expandNetwork(spec: ArchSpec, input: InputShape, numClasses: number): NetworkPlan {
  for (const [k, v] of Object.entries(input)) {
    if (!Number.isInteger(v) || v < 1) throw new SpaceError(`input ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new SpaceError(`class count must be an integer >= 2, got ${numClasses}`);
  }
  const totalStride =
    spec.stem.stride * spec.blocks.reduce((acc, b) => acc * b.stride, 1);
  const minSide = Math.min(input.height, input.width);
  if (minSide < totalStride) {
    throw new SpaceError(
      `input ${input.height}x${input.width} is too small for a network of total stride ${totalStride} ` +
        `(needs at least ${totalStride}x${totalStride})`,
    );
  }

  const layers: LayerPlan[] = [];
  let h = input.height;
  let w = input.width;
  let c = input.channels;

  // Stem
  {
    const outH = sameOutSize(h, spec.stem.stride);
    const outW = sameOutSize(w, spec.stem.stride);
    const conv: ConvNode = {
      kind: 'conv2d', name: 'stem', inH: h, inW: w, inC: c, outC: spec.stem.channels,
      kernel: spec.stem.kernel, stride: spec.stem.stride, outH, outW, activation: spec.stem.activation,
    };
    layers.push({ name: 'stem', block: 'stem', ops: [conv], residual: false, inShape: [h, w, c], outShape: [outH, outW, conv.outC] });
    h = outH; w = outW; c = conv.outC;
  }

  spec.blocks.forEach((b, bi) => {
    for (let li = 0; li < b.repeats; li++) {
      const name = `b${bi}_l${li}`;
      const stride = li === 0 ? b.stride : 1;
      const outH = sameOutSize(h, stride);
      const outW = sameOutSize(w, stride);
      const inC = c;
      const ops: OpNode[] = [];
      if (b.op === 'conv') {
        ops.push({ kind: 'conv2d', name: `${name}_conv`, inH: h, inW: w, inC, outC: b.channels, kernel: b.kernel, stride, outH, outW, activation: b.activation });
        if (b.seRatio > 0) ops.push(seNode(`${name}_se`, outH, outW, b.channels, inC, b.seRatio, b.activation));
      } else if (b.op === 'ds') {
        ops.push({ kind: 'dwconv2d', name: `${name}_dw`, inH: h, inW: w, channels: inC, kernel: b.kernel, stride, outH, outW, activation: b.activation });
        if (b.seRatio > 0) ops.push(seNode(`${name}_se`, outH, outW, inC, inC, b.seRatio, b.activation));
        ops.push({ kind: 'conv2d', name: `${name}_pw`, inH: outH, inW: outW, inC, outC: b.channels, kernel: 1, stride: 1, outH, outW, activation: b.activation });
      } else {
        const mid = inC * b.expansion;
        if (b.expansion !== 1) {
          ops.push({ kind: 'conv2d', name: `${name}_expand`, inH: h, inW: w, inC, outC: mid, kernel: 1, stride: 1, outH: h, outW: w, activation: b.activation });
        }
        ops.push({ kind: 'dwconv2d', name: `${name}_dw`, inH: h, inW: w, channels: mid, kernel: b.kernel, stride, outH, outW, activation: b.activation });
        if (b.seRatio > 0) ops.push(seNode(`${name}_se`, outH, outW, mid, inC, b.seRatio, b.activation));
        ops.push({ kind: 'conv2d', name: `${name}_project`, inH: outH, inW: outW, inC: mid, outC: b.channels, kernel: 1, stride: 1, outH, outW, activation: null });
      }
      const residual = b.skip && stride === 1 && inC === b.channels;
      if (residual) ops.push({ kind: 'add', name: `${name}_add`, h: outH, w: outW, channels: b.channels });
      layers.push({ name, block: bi, ops, residual, inShape: [h, w, inC], outShape: [outH, outW, b.channels] });
      h = outH; w = outW; c = b.channels;
    }
  });

  // Head: optional 1x1 conv, global pooling, classifier.
  {
    const ops: OpNode[] = [];
    const inShape: [number, number, number] = [h, w, c];
    if (spec.head.channels > 0) {
      ops.push({ kind: 'conv2d', name: 'head_conv', inH: h, inW: w, inC: c, outC: spec.head.channels, kernel: 1, stride: 1, outH: h, outW: w, activation: spec.head.activation });
      c = spec.head.channels;
    }
    ops.push({ kind: 'gap', name: 'head_pool', h, w, channels: c });
    ops.push({ kind: 'dense', name: 'classifier', inC: c, outC: numClasses, dropout: spec.head.dropout });
    layers.push({ name: 'head', block: 'head', ops, residual: false, inShape, outShape: [1, 1, numClasses] });
  }
  return { input: { ...input }, numClasses, layers };
}

function seNode(name: string, h: number, w: number, channels: number, blockInC: number, ratio: number, activation: Activation): SqueezeExciteNode {
  return { kind: 'se', name, h, w, channels, reducedChannels: seReducedChannels(blockInC, ratio), activation };
}

/** All operators of a plan in execution order. */
export function allOps(plan: NetworkPlan): OpNode[] {
  return plan.layers.flatMap((l) => l.ops);
}
