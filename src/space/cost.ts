// Exact parameter and multiply-accumulate (MAC) counts from the network plan.
// `params` counts every weight the tfjs model holds (batch-norm moving mean and
// variance included), so it equals LayersModel.countParams(); `trainableParams`
// leaves the moving statistics out (the figure PyTorch-style counts report).
// MACs count convolution and fully-connected multiply-accumulates; batch
// norm (folded at export), activations, pooling and adds are not counted,
// as in the MobileNet/MnasNet/EfficientNet papers.

import { expandNetwork, type NetworkPlan, type OpNode } from './network.ts';
import type { ArchSpec, InputShape } from './types.ts';

export interface OpCost {
  name: string;
  kind: OpNode['kind'];
  params: number;
  trainableParams: number;
  macs: number;
}

export interface BlockCost {
  /** 'stem', 'head' or 'b<index>' */
  block: string;
  description: string;
  layers: number;
  inShape: [number, number, number];
  outShape: [number, number, number];
  params: number;
  trainableParams: number;
  macs: number;
}

export interface NetworkCost {
  params: number;
  trainableParams: number;
  macs: number;
  ops: OpCost[];
  blocks: BlockCost[];
}

/** Batch norm: gamma, beta trainable; moving mean, variance not. */
const bn = (c: number) => ({ all: 4 * c, trainable: 2 * c });

export function opCost(op: OpNode): OpCost {
  let params = 0;
  let trainable = 0;
  let macs = 0;
  switch (op.kind) {
    case 'conv2d': {
      const w = op.kernel * op.kernel * op.inC * op.outC;
      params = w + bn(op.outC).all;
      trainable = w + bn(op.outC).trainable;
      macs = op.outH * op.outW * w;
      break;
    }
    case 'dwconv2d': {
      const w = op.kernel * op.kernel * op.channels;
      params = w + bn(op.channels).all;
      trainable = w + bn(op.channels).trainable;
      macs = op.outH * op.outW * w;
      break;
    }
    case 'se': {
      const reduce = op.channels * op.reducedChannels + op.reducedChannels;
      const expand = op.reducedChannels * op.channels + op.channels;
      params = trainable = reduce + expand;
      macs = 2 * op.channels * op.reducedChannels;
      break;
    }
    case 'dense':
      params = trainable = op.inC * op.outC + op.outC;
      macs = op.inC * op.outC;
      break;
    case 'add':
    case 'gap':
      break;
  }
  return { name: op.name, kind: op.kind, params, trainableParams: trainable, macs };
}

export function planCost(plan: NetworkPlan, describe: (block: number) => string = (b) => `block ${b}`): NetworkCost {
  const ops: OpCost[] = [];
  const blocks: BlockCost[] = [];
  for (const layer of plan.layers) {
    const key = typeof layer.block === 'number' ? `b${layer.block}` : layer.block;
    let entry = blocks.find((b) => b.block === key);
    if (!entry) {
      entry = {
        block: key,
        description: typeof layer.block === 'number' ? describe(layer.block) : layer.block,
        layers: 0, inShape: layer.inShape, outShape: layer.outShape, params: 0, trainableParams: 0, macs: 0,
      };
      blocks.push(entry);
    }
    entry.layers += 1;
    entry.outShape = layer.outShape;
    for (const op of layer.ops) {
      const c = opCost(op);
      ops.push(c);
      entry.params += c.params;
      entry.trainableParams += c.trainableParams;
      entry.macs += c.macs;
    }
  }
  const sum = (k: 'params' | 'trainableParams' | 'macs') => ops.reduce((a, o) => a + o[k], 0);
  return { params: sum('params'), trainableParams: sum('trainableParams'), macs: sum('macs'), ops, blocks };
}

export function archCost(spec: ArchSpec, input: InputShape, numClasses: number, describe?: (block: number) => string): NetworkCost {
  return planCost(expandNetwork(spec, input, numClasses), describe);
}
