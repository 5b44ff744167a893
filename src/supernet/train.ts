// Sandwich-rule training of a supernet (BigNAS, Yu et al. 2020): every step
// trains, on one batch, the largest subnet (on the labels), the smallest and
// n random subnets (on the largest's predictions: in-place distillation,
// its soft labels with the gradient stopped), sums their gradients and makes
// one AdamW update (optimizer.ts) of the master weights they used. With
// `progressive`, the random subnets follow OFA's progressive shrinking: a
// dimension is sampled only from its phase on (PROGRESSIVE_PHASES).
//
// A step is a pure function of (seed, step index) and the weights: the batch
// comes from the epoch's permutation, the subnets and the augmentation from a
// generator seeded by the step index. So a run resumed from a checkpoint of
// step s continues exactly as the uninterrupted run would have.

import * as tf from '@tensorflow/tfjs';
import { type Dataset, DatasetError, getSplit } from '../data/types.ts';
import { OPS } from '../space/grammar.ts';
import { archFromDecisions, BLOCK_DECISIONS, type Decision, sampleDecisions } from '../space/sampler.ts';
import { createRng } from '../space/rng.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { fillBatch } from '../train/augment.ts';
import { cosineWithWarmup } from '../train/schedule.ts';
import { largestDecisions, smallestDecisions, subnetConfig, type SupernetLayout } from './layout.ts';
import { SparseAdamW } from './optimizer.ts';
import { MasterReader, subnetForward } from './subnet.ts';
import { createMasterWeights, disposeMaster, type MasterWeights } from './weights.ts';

export interface SupernetRecipe {
  batchSize: number;
  /** random subnets per step besides the largest and the smallest */
  randomSubnets: number;
  /** AdamW peak learning rate */
  learningRate: number;
  weightDecay: number;
  /** linear warm-up steps (fixed, so a time-budgeted run's schedule does not depend on its measured pace until warm-up ends) */
  warmupSteps: number;
  labelSmoothing: number;
  cropPadding: number;
  /** in-place distillation: subnets other than the largest learn its predictions */
  distill: boolean;
  /** train on the first N training images (null: all) */
  subset: number | null;
  /**
   * the smallest subnet of every operator type each step (ir and conv besides ds), so that each
   * operator's own weights have their small end trained; a supernet recorded without it trains
   * the ds one only (its resume stays exact)
   */
  smallestPerOp?: boolean;
  /**
   * progressive shrinking (OFA, Cai et al. 2020) of the random subnets: each elastic dimension
   * opens at a fraction of the run (PROGRESSIVE_PHASES); until then a random subnet keeps the
   * largest's choice there. So early steps train the largest's neighbours one dimension at a
   * time (its 3x3 kernel, its ds op, its narrow width...), which the two ends of the sandwich
   * never are. A supernet recorded without it samples every dimension from the start.
   */
  progressive?: boolean;
}

/**
 * When each decision opens for the random subnets of a progressive run, as a fraction of its
 * steps: op, kernel and the weightless choices (SE on/off, skip, activation) from the start,
 * then depth, expansion, width (OFA's order: kernel, depth, width/expansion).
 */
export const PROGRESSIVE_PHASES: Readonly<Record<Decision['name'], number>> = {
  op: 0, kernel: 0, se: 0, skip: 0, activation: 0, depth: 0.25, expansion: 0.5, width: 0.75,
};

/** The decisions a progressive run's random subnets sample at step `step` of `totalSteps` (the rest: the largest's). */
export function openDecisions(step: number, totalSteps: number): Set<Decision['name']> {
  const f = totalSteps > 0 ? step / totalSteps : 1;
  return new Set(BLOCK_DECISIONS.filter((d) => f >= PROGRESSIVE_PHASES[d.name]).map((d) => d.name));
}

export const DEFAULT_SUPERNET_RECIPE: SupernetRecipe = {
  batchSize: 64, randomSubnets: 2, learningRate: 0.002, weightDecay: 0.01, warmupSteps: 50,
  labelSmoothing: 0.1, cropPadding: 2, distill: true, subset: null, smallestPerOp: true,
};

/** Subnets trained per step: the largest, the smallest (one per operator type with smallestPerOp) and the random ones. */
export function subnetsPerStep(r: SupernetRecipe): number {
  return 1 + (r.smallestPerOp ? OPS.length : 1) + r.randomSubnets;
}

export interface StepReport {
  step: number;
  /** loss of the largest subnet on the labels */
  loss: number;
  /** mean loss of the other subnets against their targets */
  subnetLoss: number;
  learningRate: number;
  images: number;
}

export class SupernetTrainer {
  readonly weights: MasterWeights;
  readonly optimizer: SparseAdamW;
  private readonly train: { images: Uint8Array; labels: Uint8Array; count: number };
  private readonly flip: boolean;
  private order: { epoch: number; perm: Uint32Array } | null = null;
  private readonly xBuf: Float32Array;

  constructor(
    readonly layout: SupernetLayout,
    readonly input: InputShape,
    readonly numClasses: number,
    dataset: Dataset,
    readonly recipe: SupernetRecipe,
    readonly seed: number,
  ) {
    const s = getSplit(dataset, 'train');
    const m = dataset.manifest;
    if (m.height !== input.height || m.width !== input.width || m.channels !== input.channels) {
      throw new DatasetError(`dataset ${m.name} is ${m.height}x${m.width}x${m.channels}; the supernet was laid out for ${input.height}x${input.width}x${input.channels}`, 422);
    }
    const count = recipe.subset === null ? s.count : Math.min(recipe.subset, s.count);
    if (count < recipe.batchSize) throw new DatasetError(`dataset ${m.name} has ${count} training images; a supernet needs at least one batch of ${recipe.batchSize}`, 422);
    this.train = { images: s.images, labels: s.labels, count };
    this.flip = m.allowFlip;
    this.weights = createMasterWeights(layout, input, numClasses, seed);
    this.optimizer = new SparseAdamW({
      beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: recipe.weightDecay, decay: (k) => /kernel$/.test(k),
    });
    this.xBuf = new Float32Array(recipe.batchSize * input.height * input.width * input.channels);
  }

  get stepsPerEpoch(): number {
    return Math.floor(this.train.count / this.recipe.batchSize);
  }

  private permutation(epoch: number): Uint32Array {
    if (this.order?.epoch !== epoch) {
      const rng = createRng((this.seed * 1_000_003 + epoch * 7_919) >>> 0);
      const a = new Uint32Array(this.train.count);
      for (let i = 0; i < a.length; i++) a[i] = i;
      for (let i = a.length - 1; i > 0; i--) { const j = rng.int(i + 1); const t = a[i]!; a[i] = a[j]!; a[j] = t; }
      this.order = { epoch, perm: a };
    }
    return this.order.perm;
  }

  /** The subnets of step s (of totalSteps): largest, smallest, then n random ones. */
  subnetsOf(step: number, totalSteps: number): ArchSpec[] {
    const rng = createRng((this.seed * 2_654_435_761 + step * 40_503 + 17) >>> 0);
    const sk = this.layout.skeleton;
    const largest = largestDecisions(this.layout);
    const open = this.recipe.progressive ? openDecisions(step, totalSteps) : null;
    // the same draws either way (a closed decision's draw is replaced by the largest's choice)
    const random = () => sampleDecisions(sk, rng).map((b, bi) => (open ? b.map((c, d) => (open.has(BLOCK_DECISIONS[d]!.name) ? c : largest[bi]![d]!)) : b));
    return [
      archFromDecisions(sk, largest),
      archFromDecisions(sk, smallestDecisions(this.layout)),
      ...(this.recipe.smallestPerOp ? OPS.map((_, i) => i).filter((i) => OPS[i] !== 'ds').map((i) => archFromDecisions(sk, smallestDecisions(this.layout, i))) : []),
      ...Array.from({ length: this.recipe.randomSubnets }, () => archFromDecisions(sk, random())),
    ];
  }

  /** One sandwich step at global step index `step` of `totalSteps`. */
  step(step: number, totalSteps: number): StepReport {
    const { batchSize: B, labelSmoothing: ls } = this.recipe;
    const K = this.numClasses;
    const { height: H, width: W, channels: C } = this.input;
    const spe = this.stepsPerEpoch;
    const perm = this.permutation(Math.floor(step / spe));
    const idx = perm.subarray((step % spe) * B, (step % spe) * B + B);
    const augRng = createRng((this.seed * 97 + step * 1_000_033) >>> 0);
    fillBatch(this.train.images, { height: H, width: W, channels: C }, idx, this.xBuf, { padding: this.recipe.cropPadding, flip: this.flip }, augRng);
    const y = new Float32Array(B * K).fill(ls / K);
    for (let i = 0; i < B; i++) y[i * K + this.train.labels[idx[i]!]!]! += 1 - ls;
    const lr = cosineWithWarmup(step, { peakLr: this.recipe.learningRate, totalSteps, warmupSteps: Math.min(this.recipe.warmupSteps, totalSteps) });
    const vars = [...this.weights.values()];
    const logical = new Map([...this.weights].map(([name, v]) => [v.name, name]));
    const sum = new Map<string, tf.Tensor>();
    let loss = NaN;
    let subLoss = 0;
    const xs = tf.tensor4d(this.xBuf, [B, H, W, C]);
    const labels = tf.tensor2d(y, [B, K]);
    let teacher: tf.Tensor | null = null;
    try {
      this.subnetsOf(step, totalSteps).forEach((spec, k) => {
        const cfg = subnetConfig(this.layout, spec);
        const target = k === 0 || !this.recipe.distill ? labels : teacher!;
        const { value, grads } = tf.variableGrads(() => {
          const p = subnetForward(new MasterReader(this.weights), this.layout, cfg, xs);
          // the soft labels leave the tape (a fresh tensor from the values): no gradient flows into the teacher through them
          if (k === 0 && this.recipe.distill) teacher = tf.keep(tf.tensor2d(p.dataSync() as Float32Array, p.shape as [number, number]));
          return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.log(tf.clipByValue(p, 1e-7, 1))), -1))) as tf.Scalar;
        }, vars);
        const l = value.dataSync()[0]!;
        value.dispose();
        if (k === 0) loss = l; else subLoss += l;
        for (const [varName, g] of Object.entries(grads)) {
          const name = logical.get(varName)!;
          const prev = sum.get(name);
          if (prev) { sum.set(name, tf.add(prev, g)); prev.dispose(); g.dispose(); } else sum.set(name, g);
        }
      });
      this.optimizer.apply(this.weights, sum, lr);
    } finally {
      for (const g of sum.values()) g.dispose();
      xs.dispose();
      labels.dispose();
      (teacher as tf.Tensor | null)?.dispose();
    }
    return { step, loss, subnetLoss: subLoss / Math.max(1, subnetsPerStep(this.recipe) - 1), learningRate: lr, images: B };
  }

  dispose(): void {
    disposeMaster(this.weights);
    this.optimizer.dispose();
  }
}
