// The supernet's shape for one skeleton: every architecture of the skeleton's
// space is a path through it. Per block it holds the largest choice of every
// elastic dimension (depth: the most layers; width: the widest channel
// count; kernel: 7x7; expansion: 6) and one set of weights per operator type
// (single path: a subnet uses exactly one of them per layer):
//   conv  regular k x k conv + BN + act [+ SE on its output]
//   ds    depthwise k x k + BN + act [+ SE] + pointwise 1x1 + BN + act
//   ir    1x1 expand + BN + act, depthwise + BN + act [+ SE], 1x1 project + BN
//   ir1   the expansion-1 inverted bottleneck (no expand conv): its depthwise
//         sees the layer input itself, not an expanded tensor, so it keeps
//         weights of its own rather than the first channels of ir's.
// A subnet takes the first k layers of a block (depth), the first c channels
// of every channel axis (width; for ir the first in x e channels of the
// expanded tensor), and the kernel's centre, transformed (elastic kernel,
// see kernel.ts). Activations, skips and the SE on/off choice have no weights
// of their own: the subnet applies its choice on the shared weights, and
// batch-norm statistics are re-estimated per subnet before it is scored, so
// the statistics an activation choice produces are its own.

import { decisionsFromArch, DEPTH_OFFSETS, WIDTH_MULTIPLIERS } from '../space/sampler.ts';
import { makeDivisible, type Skeleton } from '../space/skeleton.ts';
import type { Activation, ArchSpec, ConvOp } from '../space/types.ts';
import { SpaceError } from '../space/types.ts';
import { seReducedChannels } from '../space/network.ts';

export const MAX_KERNEL = 7;
export const MAX_EXPANSION = 6;
export const SE_RATIO = 0.25;

export type WeightOp = ConvOp | 'ir1';

export interface LayerSlot {
  block: number;
  layer: number;
  /** largest input channels this layer can see */
  inMax: number;
  outMax: number;
  stride: 1 | 2;
}

export interface SupernetLayout {
  skeleton: Skeleton;
  /** channel choices per block, ascending */
  widths: number[][];
  /** depth choices per block, ascending */
  depths: number[][];
  slots: LayerSlot[][];
  headInMax: number;
}

export function supernetLayout(skeleton: Skeleton): SupernetLayout {
  const widths = skeleton.blocks.map((b) => [...new Set(WIDTH_MULTIPLIERS.map((m) => makeDivisible(b.channels * m, skeleton.channelDivisor)))].sort((x, y) => x - y));
  const depths = skeleton.blocks.map((b) => [...new Set(DEPTH_OFFSETS.map((o) => Math.max(1, b.repeats + o)))].sort((x, y) => x - y));
  let prevMax = skeleton.stem.channels;
  const slots = skeleton.blocks.map((b, bi) => {
    const outMax = widths[bi]!.at(-1)!;
    const layers = Array.from({ length: depths[bi]!.at(-1)! }, (_, li): LayerSlot => ({
      block: bi, layer: li, inMax: li === 0 ? prevMax : outMax, outMax, stride: li === 0 ? b.stride : 1,
    }));
    prevMax = outMax;
    return layers;
  });
  return { skeleton, widths, depths, slots, headInMax: prevMax };
}

/** One layer of a subnet: which weights it uses and how much of them. */
export interface SubnetLayer {
  block: number;
  layer: number;
  op: WeightOp;
  inC: number;
  outC: number;
  /** channels of the depthwise / SE tensor: inC x e for ir, inC for ds and ir1, outC for conv */
  midC: number;
  kernel: number;
  stride: 1 | 2;
  /** SE bottleneck channels, 0 = no SE */
  seC: number;
  activation: Activation;
  residual: boolean;
}

export interface SubnetConfig {
  layers: SubnetLayer[];
  /** input channels of the head conv (the last block's width) */
  headInC: number;
}

/**
 * The path an architecture takes through the supernet. The architecture
 * must be of the skeleton's space: its stem and head equal to the
 * skeleton's, every block decodable as skeleton choices (otherwise a
 * SpaceError names what differs).
 */
export function subnetConfig(layout: SupernetLayout, spec: ArchSpec): SubnetConfig {
  const sk = layout.skeleton;
  decisionsFromArch(sk, spec); // throws naming the block and value outside the skeleton's space
  const same = <T extends object>(a: T, b: T) => (Object.keys(b) as (keyof T)[]).every((k) => a[k] === b[k]) && Object.keys(a).length === Object.keys(b).length;
  if (!same(spec.stem, sk.stem)) throw new SpaceError(`the architecture's stem differs from skeleton ${sk.name}'s; a supernet covers only its skeleton's space`);
  if (!same(spec.head, sk.head)) throw new SpaceError(`the architecture's head differs from skeleton ${sk.name}'s; a supernet covers only its skeleton's space`);
  const layers: SubnetLayer[] = [];
  let c = sk.stem.channels;
  spec.blocks.forEach((b, bi) => {
    for (let li = 0; li < b.repeats; li++) {
      const inC = c;
      const stride = li === 0 ? b.stride : 1;
      const op: WeightOp = b.op === 'ir' && b.expansion === 1 ? 'ir1' : b.op;
      const midC = op === 'ir' ? inC * b.expansion : op === 'conv' ? b.channels : inC;
      layers.push({
        block: bi, layer: li, op, inC, outC: b.channels, midC, kernel: b.kernel, stride,
        seC: b.seRatio > 0 ? seReducedChannels(inC, b.seRatio) : 0, activation: b.activation,
        residual: b.skip && stride === 1 && inC === b.channels,
      });
      c = b.channels;
    }
  });
  return { layers, headInC: c };
}

/** The largest subnet of the sandwich rule: every block ir, expansion 6, 7x7, widest, deepest, SE on. */
export function largestDecisions(layout: SupernetLayout): number[][] {
  return layout.skeleton.blocks.map(() => [2, 2, 2, 1, 0, 2, 2, 0]);
}

/** The smallest: every block ds (or the operator of index `op` in OPS), 3x3, smallest expansion, narrowest, shallowest, no SE. */
export function smallestDecisions(layout: SupernetLayout, op = 1): number[][] {
  return layout.skeleton.blocks.map(() => [op, 0, 0, 0, 0, 0, 0, 0]);
}

/** Per-slot maximum channels of the SE bottleneck (ratio of the layer's largest input). */
export function seMax(slot: LayerSlot): number {
  return seReducedChannels(slot.inMax, SE_RATIO);
}

/** Largest depthwise / SE channel count of a slot for an operator type. */
export function midMax(slot: LayerSlot, op: WeightOp): number {
  return op === 'ir' ? slot.inMax * MAX_EXPANSION : op === 'conv' ? slot.outMax : slot.inMax;
}
