// A subnet's weights as the stand-alone network would hold them, computed
// from the master weights (slices, elastic-kernel transforms), and its
// training-mode forward pass. One accessor per operator part serves both the
// forward pass (gradients flow back through the slices and transforms into
// the masters) and extraction (the same tensors, copied out under the layer
// names of src/space/builder.ts), so the two cannot drift apart; a test runs
// the extracted weights in the built stand-alone network and compares.

import * as tf from '@tensorflow/tfjs';
import { batchNormTrain, hardSwishFast, relu6Fast, reluFast } from '../engine/fused_ops.ts';
import { BN_EPSILON } from '../space/builder.ts';
import type { Activation } from '../space/types.ts';
import { elasticKernel } from './kernel.ts';
import type { SubnetConfig, SubnetLayer, SupernetLayout } from './layout.ts';
import { master, type MasterWeights, opPrefix } from './weights.ts';

/** Reads master tensors and remembers which were used (the variables a step differentiates). */
export class MasterReader {
  readonly used = new Set<tf.Variable>();
  constructor(readonly w: MasterWeights) {}
  get(name: string): tf.Variable {
    const v = master(this.w, name);
    this.used.add(v);
    return v;
  }
  /** the first `size` entries of each axis */
  slice(name: string, size: number[]): tf.Tensor {
    const v = this.get(name);
    return size.every((s, i) => s === v.shape[i]) ? v : tf.slice(v, size.map(() => 0), size);
  }
}

export interface BnParams { gamma: tf.Tensor; beta: tf.Tensor }
export interface SeParams { reduceKernel: tf.Tensor; reduceBias: tf.Tensor; expandKernel: tf.Tensor; expandBias: tf.Tensor }

/** The tensors one layer of a subnet uses, in the stand-alone network's shapes. */
export interface LayerParams {
  /** conv: the k x k conv; ds: the pointwise conv; ir/ir1: the project conv */
  main?: { kernel: tf.Tensor; bn: BnParams };
  expand?: { kernel: tf.Tensor; bn: BnParams };
  dw?: { kernel: tf.Tensor; bn: BnParams };
  se?: SeParams;
}

const bnOf = (r: MasterReader, prefix: string, c: number): BnParams => ({ gamma: r.slice(`${prefix}_gamma`, [c]), beta: r.slice(`${prefix}_beta`, [c]) });

function elasticOf(r: MasterReader, prefix: string, shape: number[], k: number): tf.Tensor {
  return elasticKernel(r.slice(`${prefix}_kernel`, [7, 7, ...shape]), k, { t75: r.get(`${prefix}_t75`) as tf.Tensor2D, t53: r.get(`${prefix}_t53`) as tf.Tensor2D });
}

export function layerParams(r: MasterReader, l: SubnetLayer): LayerParams {
  const p = opPrefix(l, l.op);
  const se = l.seC > 0 ? {
    reduceKernel: r.slice(`${p}/se_reduce_kernel`, [1, 1, l.midC, l.seC]), reduceBias: r.slice(`${p}/se_reduce_bias`, [l.seC]),
    expandKernel: r.slice(`${p}/se_expand_kernel`, [1, 1, l.seC, l.midC]), expandBias: r.slice(`${p}/se_expand_bias`, [l.midC]),
  } : undefined;
  switch (l.op) {
    case 'conv':
      return { main: { kernel: elasticOf(r, `${p}/conv`, [l.inC, l.outC], l.kernel), bn: bnOf(r, `${p}/conv`, l.outC) }, se };
    case 'ds':
      return {
        dw: { kernel: elasticOf(r, `${p}/dw`, [l.midC, 1], l.kernel), bn: bnOf(r, `${p}/dw`, l.midC) }, se,
        main: { kernel: r.slice(`${p}/pw_kernel`, [1, 1, l.midC, l.outC]), bn: bnOf(r, `${p}/pw`, l.outC) },
      };
    case 'ir':
    case 'ir1':
      return {
        ...(l.op === 'ir' ? { expand: { kernel: r.slice(`${p}/expand_kernel`, [1, 1, l.inC, l.midC]), bn: bnOf(r, `${p}/expand`, l.midC) } } : {}),
        dw: { kernel: elasticOf(r, `${p}/dw`, [l.midC, 1], l.kernel), bn: bnOf(r, `${p}/dw`, l.midC) }, se,
        main: { kernel: r.slice(`${p}/project_kernel`, [1, 1, l.midC, l.outC]), bn: bnOf(r, `${p}/project`, l.outC) },
      };
  }
}

export interface StemHeadParams {
  stem: { kernel: tf.Tensor; bn: BnParams };
  head: { kernel: tf.Tensor; bn: BnParams } | null;
  classifier: { kernel: tf.Tensor; bias: tf.Tensor };
}

export function stemHeadParams(r: MasterReader, layout: SupernetLayout, cfg: SubnetConfig): StemHeadParams {
  const sk = layout.skeleton;
  const stemK = r.get('stem/kernel');
  const head = sk.head.channels > 0
    ? { kernel: r.slice('head/kernel', [1, 1, cfg.headInC, sk.head.channels]), bn: bnOf(r, 'head/bn', sk.head.channels) }
    : null;
  const feat = head ? sk.head.channels : cfg.headInC;
  const cls = r.get('classifier/kernel');
  return {
    stem: { kernel: stemK, bn: bnOf(r, 'stem/bn', sk.stem.channels) },
    head,
    classifier: { kernel: r.slice('classifier/kernel', [feat, cls.shape[1]!]), bias: r.get('classifier/bias') },
  };
}

// ---- training-mode forward -------------------------------------------------

const onFastPath = () => tf.getBackend() === 'wasm';

/** Batch norm on the batch's statistics (the fused kernel on the fast path). */
export function bnTrain(x: tf.Tensor, p: BnParams): tf.Tensor {
  if (onFastPath()) return batchNormTrain(x, p.gamma, p.beta, BN_EPSILON)[0];
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, p.beta, p.gamma, BN_EPSILON);
}

export function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  const fast = onFastPath();
  switch (act) {
    case 'relu': return fast ? reluFast(x) : tf.relu(x);
    case 'relu6': return fast ? relu6Fast(x) : tf.relu6(x);
    case 'hswish': return fast ? hardSwishFast(x) : tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
    case 'swish': return tf.mul(x, tf.sigmoid(x));
  }
}

function conv(x: tf.Tensor, kernel: tf.Tensor, stride: number): tf.Tensor {
  return tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, stride, 'same');
}

function squeezeExcite(x: tf.Tensor, p: SeParams, act: Activation): tf.Tensor {
  let s = tf.mean(x, [1, 2], true);
  s = activate(tf.add(conv(s, p.reduceKernel, 1), p.reduceBias), act);
  s = tf.sigmoid(tf.add(conv(s, p.expandKernel, 1), p.expandBias));
  return tf.mul(x, s);
}

function layerForward(x: tf.Tensor, l: SubnetLayer, p: LayerParams): tf.Tensor {
  let y = x;
  if (p.expand) y = activate(bnTrain(conv(y, p.expand.kernel, 1), p.expand.bn), l.activation);
  if (l.op === 'conv') {
    y = activate(bnTrain(conv(y, p.main!.kernel, l.stride), p.main!.bn), l.activation);
    if (p.se) y = squeezeExcite(y, p.se, l.activation);
  } else {
    y = activate(bnTrain(tf.depthwiseConv2d(y as tf.Tensor4D, p.dw!.kernel as tf.Tensor4D, l.stride, 'same'), p.dw!.bn), l.activation);
    if (p.se) y = squeezeExcite(y, p.se, l.activation);
    y = bnTrain(conv(y, p.main!.kernel, 1), p.main!.bn);
    if (l.op === 'ds') y = activate(y, l.activation);
  }
  return l.residual ? tf.add(y, x) : y;
}

/**
 * Class probabilities of a subnet in training mode (batch-norm on batch
 * statistics; no dropout). Call inside a tidy / gradient scope.
 */
export function subnetForward(r: MasterReader, layout: SupernetLayout, cfg: SubnetConfig, x: tf.Tensor4D): tf.Tensor2D {
  const sk = layout.skeleton;
  const sh = stemHeadParams(r, layout, cfg);
  let y: tf.Tensor = activate(bnTrain(conv(x, sh.stem.kernel, sk.stem.stride), sh.stem.bn), sk.stem.activation);
  for (const l of cfg.layers) y = layerForward(y, l, layerParams(r, l));
  if (sh.head) y = activate(bnTrain(conv(y, sh.head.kernel, 1), sh.head.bn), sk.head.activation);
  const pooled = tf.mean(y, [1, 2]) as tf.Tensor2D;
  return tf.softmax(tf.add(tf.matMul(pooled, sh.classifier.kernel as tf.Tensor2D), sh.classifier.bias)) as tf.Tensor2D;
}
