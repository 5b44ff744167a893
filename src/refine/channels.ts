// Channel spaces of a network plan: which weight axes index the same
// channels. Pruning (NetAdapt) removes channels from a space and must slice
// every axis of that space alike: the producing conv's output filters, its
// batch norm, the consumers' input channels, the depthwise channels, the SE
// convolutions and the classifier's rows.
//
// Spaces are named from the plan so that a parent and its pruned child (same
// blocks and repeats, fewer channels) name them identically:
//   'input'            the image (never pruned)
//   'out:<layer>'      a layer's output (stem, b<i>_l<j>), merged with its
//                      input space when the layer has an identity skip
//   'mid:<layer>'      the expanded channels of an ir layer with expansion > 1
//   'se:<node>'        an SE block's reduced channels
//   'head'             the head conv's output
//   'classes'          the classifier output (never pruned)
//
// Residual choice (documented in README "Refinement and nas run"): an identity
// skip ties its two ends to one space, so a pruned space shrinks every layer
// joined by skips together and keeps every skip; a cut that would create or
// remove a skip (a count made equal to, or different from, a neighbour's) is
// refused rather than silently changing the topology.

import type { NetworkPlan, OpNode } from '../space/network.ts';
import type { ArchSpec } from '../space/types.ts';

/** Which space each weight axis belongs to (null = not a channel axis). */
export type AxisSpaces = (string | null)[];

export interface PlanSpaces {
  /** space -> channel count */
  sizes: Map<string, number>;
  /** tfjs layer name -> per weight (getWeights order) the space of each axis */
  weights: Map<string, AxisSpaces[]>;
  /** space -> the conv/dwconv layers whose output filters produce it (importance = L2 of these filters) */
  producers: Map<string, string[]>;
}

class UnionFind {
  private parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x) ?? x;
    if (p !== x) {
      p = this.find(p);
      this.parent.set(x, p);
    }
    return p;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    // keep the earlier (upstream) name as the representative: it is stable across pruning
    if (ra !== rb) this.parent.set(rb, ra);
  }
}

interface RawWeight { layer: string; axes: AxisSpaces[] }

export function planSpaces(plan: NetworkPlan): PlanSpaces {
  const uf = new UnionFind();
  const raw: RawWeight[] = [];
  const rawSizes: Array<[string, number]> = [];
  const rawProducers: Array<[string, string]> = [];
  let cur = 'input';
  rawSizes.push(['input', plan.input.channels]);
  for (const layer of plan.layers) {
    const layerIn = cur;
    const out = layer.block === 'head' ? 'head' : `out:${layer.name}`;
    let x = layerIn; // space of the running tensor inside the layer
    for (const op of layer.ops) {
      x = visit(op, x, layer.name, out);
    }
    if (layer.residual) uf.union(layerIn, out);
    cur = x;
  }

  function visit(op: OpNode, x: string, layerName: string, layerOut: string): string {
    switch (op.kind) {
      case 'conv2d': {
        const o = op.name.endsWith('_expand') ? `mid:${layerName}` : layerOut;
        raw.push({ layer: `${op.name}_conv`, axes: [[null, null, x, o]] });
        raw.push({ layer: `${op.name}_bn`, axes: [[o], [o], [o], [o]] });
        rawSizes.push([o, op.outC]);
        rawProducers.push([o, `${op.name}_conv`]);
        return o;
      }
      case 'dwconv2d':
        raw.push({ layer: `${op.name}_dwconv`, axes: [[null, null, x, null]] });
        raw.push({ layer: `${op.name}_bn`, axes: [[x], [x], [x], [x]] });
        return x;
      case 'se': {
        const r = `se:${op.name}`;
        raw.push({ layer: `${op.name}_reduce`, axes: [[null, null, x, r], [r]] });
        raw.push({ layer: `${op.name}_expand`, axes: [[null, null, r, x], [x]] });
        rawSizes.push([r, op.reducedChannels]);
        rawProducers.push([r, `${op.name}_reduce`]);
        return x;
      }
      case 'add':
      case 'gap':
        return x;
      case 'dense':
        raw.push({ layer: op.name, axes: [[x, 'classes'], ['classes']] });
        rawSizes.push(['classes', op.outC]);
        return 'classes';
    }
  }

  const sizes = new Map<string, number>();
  for (const [s, n] of rawSizes) {
    const r = uf.find(s);
    const prev = sizes.get(r);
    if (prev !== undefined && prev !== n) throw new Error(`channel space ${r}: sizes ${prev} and ${n} disagree (a skip joins unequal counts)`);
    sizes.set(r, n);
  }
  const weights = new Map<string, AxisSpaces[]>();
  for (const w of raw) weights.set(w.layer, w.axes.map((a) => a.map((s) => (s === null ? null : uf.find(s)))));
  const producers = new Map<string, string[]>();
  for (const [s, l] of rawProducers) {
    const r = uf.find(s);
    producers.set(r, [...(producers.get(r) ?? []), l]);
  }
  return { sizes, weights, producers };
}

/**
 * Spec-level channel variables NetAdapt may shrink: 'stem', block indices and
 * 'head' (the head's 1x1 conv, when it has one). Variables joined by an
 * identity skip between blocks (first layer of block i stride 1, skip on,
 * same count as its input) form one group; a proposal shrinks a whole group.
 */
export type ChannelVar = 'stem' | 'head' | number;

export function channelGroups(spec: ArchSpec): ChannelVar[][] {
  const groups: ChannelVar[][] = [['stem']];
  let prevC = spec.stem.channels;
  spec.blocks.forEach((b, i) => {
    const tied = b.skip && b.stride === 1 && b.channels === prevC;
    if (tied) groups[groups.length - 1]!.push(i);
    else groups.push([i]);
    prevC = b.channels;
  });
  if (spec.head.channels > 0) groups.push(['head']);
  return groups;
}

export function varChannels(spec: ArchSpec, v: ChannelVar): number {
  return v === 'stem' ? spec.stem.channels : v === 'head' ? spec.head.channels : spec.blocks[v]!.channels;
}

/** A copy of `spec` with every variable of `group` set to `channels`. */
export function withGroupChannels(spec: ArchSpec, group: ChannelVar[], channels: number): ArchSpec {
  return {
    ...spec,
    stem: group.includes('stem') ? { ...spec.stem, channels } : { ...spec.stem },
    blocks: spec.blocks.map((b, i) => (group.includes(i) ? { ...b, channels } : { ...b })),
    head: group.includes('head') ? { ...spec.head, channels } : { ...spec.head },
  };
}

/** Residual flags of every layer: pruning must leave them unchanged. */
export function residualSignature(plan: NetworkPlan): string {
  return plan.layers.map((l) => (l.residual ? '1' : '0')).join('');
}
