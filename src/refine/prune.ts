// Weight inheritance for a pruned child network: in every channel space the
// child keeps the parent's channels whose producing filters have the largest
// L2 norm (summed over all producers of a space tied by skips), in their
// original order, and every weight axis of that space (conv filters, input
// channels of the next conv, depthwise channels, batch-norm gamma/beta/moving
// statistics, SE reduce/expand, classifier rows) is sliced with the same
// index list. The child is the same network with fewer channels; its surviving
// weights equal the parent's exactly.

import * as tf from '@tensorflow/tfjs';
import { expandNetwork } from '../space/network.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { planSpaces } from './channels.ts';

/** layer name -> weights in getWeights() order */
export type NamedWeights = Map<string, tf.Tensor[]>;

export function modelWeights(model: tf.LayersModel): NamedWeights {
  const out: NamedWeights = new Map();
  for (const l of model.layers) {
    const w = l.getWeights();
    if (w.length > 0) out.set(l.name, w.map((t) => t.clone()));
  }
  return out;
}

export function disposeWeights(w: NamedWeights): void {
  for (const ts of w.values()) for (const t of ts) t.dispose();
}

/** Per output channel, the squared L2 norm of a kernel's filters (last axis = output). */
function filterNormsSq(kernel: tf.Tensor): Float32Array {
  const shape = kernel.shape;
  const out = shape[shape.length - 1]!;
  const data = kernel.dataSync();
  const norms = new Float32Array(out);
  for (let i = 0; i < data.length; i++) norms[i % out] += data[i]! * data[i]!;
  return norms;
}

/** Indices (ascending) of the `keep` largest entries of `score`; ties keep the lower index. */
export function topIndices(score: Float32Array, keep: number): number[] {
  const idx = Array.from(score, (_, i) => i);
  idx.sort((a, b) => score[b]! - score[a]! || a - b);
  return idx.slice(0, keep).sort((a, b) => a - b);
}

export interface PruneSelection {
  /** space -> kept parent channel indices (only spaces that shrink) */
  kept: Map<string, number[]>;
}

/**
 * The parent's weights sliced to the child's shapes. Both specs must expand
 * to the same layers (same blocks, repeats and skips); every child space is
 * at most the parent's size.
 */
export function inheritWeights(
  parentSpec: ArchSpec, parentWeights: NamedWeights, childSpec: ArchSpec, input: InputShape, numClasses: number,
): { weights: NamedWeights; selection: PruneSelection } {
  const parent = planSpaces(expandNetwork(parentSpec, input, numClasses));
  const child = planSpaces(expandNetwork(childSpec, input, numClasses));
  const kept = new Map<string, number[]>();
  for (const [space, n] of child.sizes) {
    const p = parent.sizes.get(space);
    if (p === undefined) throw new Error(`child channel space ${space} has no parent counterpart (the topology changed)`);
    if (n > p) throw new Error(`channel space ${space} grows from ${p} to ${n}; pruning only removes channels`);
    if (n === p) continue;
    const score = new Float32Array(p);
    for (const layer of parent.producers.get(space) ?? []) {
      const w = parentWeights.get(layer);
      if (!w) throw new Error(`parent weights lack layer ${layer}`);
      filterNormsSq(w[0]!).forEach((v, i) => { score[i] += v; });
    }
    kept.set(space, topIndices(score, n));
  }
  const weights: NamedWeights = new Map();
  for (const [layer, axes] of child.weights) {
    const pw = parentWeights.get(layer);
    if (!pw) throw new Error(`parent weights lack layer ${layer}`);
    if (pw.length !== axes.length) throw new Error(`layer ${layer}: ${pw.length} parent weights, ${axes.length} expected`);
    weights.set(layer, pw.map((t, j) => tf.tidy(() => {
      let x = t;
      axes[j]!.forEach((space, axis) => {
        const idx = space === null ? undefined : kept.get(space);
        if (idx) x = tf.gather(x, tf.tensor1d(idx, 'int32'), axis);
      });
      return x === t ? t.clone() : x;
    })));
  }
  return { weights, selection: { kept } };
}
