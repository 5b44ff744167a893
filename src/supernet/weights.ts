// The supernet's master weights: one tf.Variable per named tensor, at the
// largest size of every elastic dimension (layout.ts). Names:
//   stem/{kernel,gamma,beta}
//   b<i>_l<j>/<op>/<part>   op: conv | ds | ir | ir1; parts below
//   head/{kernel,gamma,beta}, classifier/{kernel,bias}
// Parts per op:
//   conv  conv_kernel [7,7,in,out], conv_t75, conv_t53, conv_gamma, conv_beta, se_* (on out)
//   ds    dw_kernel [7,7,in,1], dw_t75, dw_t53, dw_gamma, dw_beta, se_* (on in), pw_kernel [1,1,in,out], pw_gamma, pw_beta
//   ir    expand_kernel [1,1,in,6in], expand_gamma, expand_beta, dw_* (on 6in), se_*, project_kernel [1,1,6in,out], project_gamma, project_beta
//   ir1   dw_* (on in), se_*, project_kernel [1,1,in,out], project_gamma, project_beta
//   se_reduce_kernel [1,1,mid,r], se_reduce_bias [r], se_expand_kernel [1,1,r,mid], se_expand_bias [mid]
// Initialisation follows the stand-alone builder (He normal for convs, Glorot
// uniform for the SE expand and the classifier, BN gamma 1 and beta 0),
// seeded, so a supernet is reproducible from its seed.

import * as tf from '@tensorflow/tfjs';
import type { InputShape } from '../space/types.ts';
import { type LayerSlot, MAX_KERNEL, midMax, seMax, type SupernetLayout, type WeightOp } from './layout.ts';

export const WEIGHT_OPS: readonly WeightOp[] = ['conv', 'ds', 'ir', 'ir1'];

export type MasterWeights = Map<string, tf.Variable>;

export const slotName = (s: { block: number; layer: number }) => `b${s.block}_l${s.layer}`;
export const opPrefix = (s: { block: number; layer: number }, op: WeightOp) => `${slotName(s)}/${op}`;

interface InitSpec { name: string; shape: number[]; init: 'he' | 'glorot' | 'zeros' | 'ones' | 'identity' }

function bn(prefix: string, c: number): InitSpec[] {
  return [{ name: `${prefix}_gamma`, shape: [c], init: 'ones' }, { name: `${prefix}_beta`, shape: [c], init: 'zeros' }];
}

function elastic(prefix: string, shape: number[]): InitSpec[] {
  return [
    { name: `${prefix}_kernel`, shape, init: 'he' },
    { name: `${prefix}_t75`, shape: [25, 25], init: 'identity' },
    { name: `${prefix}_t53`, shape: [9, 9], init: 'identity' },
  ];
}

function se(prefix: string, mid: number, r: number): InitSpec[] {
  return [
    { name: `${prefix}/se_reduce_kernel`, shape: [1, 1, mid, r], init: 'he' },
    { name: `${prefix}/se_reduce_bias`, shape: [r], init: 'zeros' },
    { name: `${prefix}/se_expand_kernel`, shape: [1, 1, r, mid], init: 'glorot' },
    { name: `${prefix}/se_expand_bias`, shape: [mid], init: 'zeros' },
  ];
}

function slotSpecs(slot: LayerSlot, op: WeightOp): InitSpec[] {
  const p = opPrefix(slot, op);
  const mid = midMax(slot, op);
  const K = MAX_KERNEL;
  switch (op) {
    case 'conv':
      return [...elastic(`${p}/conv`, [K, K, slot.inMax, slot.outMax]), ...bn(`${p}/conv`, slot.outMax), ...se(p, mid, seMax(slot))];
    case 'ds':
      return [
        ...elastic(`${p}/dw`, [K, K, mid, 1]), ...bn(`${p}/dw`, mid), ...se(p, mid, seMax(slot)),
        { name: `${p}/pw_kernel`, shape: [1, 1, mid, slot.outMax], init: 'he' }, ...bn(`${p}/pw`, slot.outMax),
      ];
    case 'ir':
    case 'ir1':
      return [
        ...(op === 'ir' ? [{ name: `${p}/expand_kernel`, shape: [1, 1, slot.inMax, mid], init: 'he' as const }, ...bn(`${p}/expand`, mid)] : []),
        ...elastic(`${p}/dw`, [K, K, mid, 1]), ...bn(`${p}/dw`, mid), ...se(p, mid, seMax(slot)),
        { name: `${p}/project_kernel`, shape: [1, 1, mid, slot.outMax], init: 'he' }, ...bn(`${p}/project`, slot.outMax),
      ];
  }
}

/** Every master tensor of a layout, in a fixed order (the checkpoint order). */
export function masterSpecs(layout: SupernetLayout, input: InputShape, numClasses: number): InitSpec[] {
  const sk = layout.skeleton;
  const out: InitSpec[] = [
    { name: 'stem/kernel', shape: [sk.stem.kernel, sk.stem.kernel, input.channels, sk.stem.channels], init: 'he' }, ...bn('stem/bn', sk.stem.channels),
  ];
  for (const block of layout.slots) for (const slot of block) for (const op of WEIGHT_OPS) out.push(...slotSpecs(slot, op));
  if (sk.head.channels > 0) out.push({ name: 'head/kernel', shape: [1, 1, layout.headInMax, sk.head.channels], init: 'he' }, ...bn('head/bn', sk.head.channels));
  const feat = sk.head.channels > 0 ? sk.head.channels : layout.headInMax;
  out.push({ name: 'classifier/kernel', shape: [feat, numClasses], init: 'glorot' }, { name: 'classifier/bias', shape: [numClasses], init: 'zeros' });
  return out;
}

function initTensor(s: InitSpec, seed: number): tf.Tensor {
  switch (s.init) {
    case 'zeros': return tf.zeros(s.shape);
    case 'ones': return tf.ones(s.shape);
    case 'identity': return tf.eye(s.shape[0]!);
    case 'he': {
      // fan-in of the largest kernel: k*k*in for a conv, k*k for a depthwise ([k,k,c,1])
      const depthwise = s.shape.length === 4 && s.shape[3] === 1 && /\/dw_kernel$/.test(s.name);
      const fanIn = depthwise ? s.shape[0]! * s.shape[1]! : s.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      return tf.truncatedNormal(s.shape, 0, Math.sqrt(2 / fanIn) / 0.8796, 'float32', seed);
    }
    case 'glorot': {
      const fanIn = s.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const fanOut = s.shape.length === 4 ? s.shape[0]! * s.shape[1]! * s.shape[3]! : s.shape.at(-1)!;
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      return tf.randomUniform(s.shape, -lim, lim, 'float32', seed);
    }
  }
}

let instances = 0;

export function createMasterWeights(layout: SupernetLayout, input: InputShape, numClasses: number, seed: number): MasterWeights {
  const w: MasterWeights = new Map();
  // tfjs variable names are global to the engine: one prefix per supernet instance
  const prefix = `supernet${instances++}`;
  masterSpecs(layout, input, numClasses).forEach((s, i) => {
    const t = initTensor(s, (seed * 7919 + i) >>> 0);
    w.set(s.name, tf.variable(t, true, `${prefix}/${s.name}`));
    t.dispose();
  });
  return w;
}

export function countMasterParams(w: MasterWeights): number {
  let n = 0;
  for (const v of w.values()) n += v.size;
  return n;
}

export function disposeMaster(w: MasterWeights): void {
  for (const v of w.values()) v.dispose();
  w.clear();
}

/** A master tensor by name; a missing one is a programming error naming it. */
export function master(w: MasterWeights, name: string): tf.Variable {
  const v = w.get(name);
  if (!v) throw new Error(`supernet weight "${name}" does not exist`);
  return v;
}
