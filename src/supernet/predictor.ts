// The supernet's accuracy predictor (Once-for-All's): a small MLP from an
// architecture's encoding (one-hot of every decision of every block) to the
// accuracy the supernet gives it, fitted on supernet evaluations of random
// architectures. A candidate is then scored in microseconds, which makes
// searches of thousands of candidates (and a new latency target) cheap; the
// best few are re-scored by the supernet itself. Its rank agreement with the
// supernet (Kendall tau on held-out evaluations) is measured when fitted.

import * as tf from '@tensorflow/tfjs';
import { kendallTau } from '../latency/stats.ts';
import { archFromDecisions, BLOCK_DECISIONS, decisionsFromArch, type Decisions } from '../space/sampler.ts';
import { getSkeleton, type Skeleton } from '../space/skeleton.ts';
import type { ArchSpec } from '../space/types.ts';
import { createRng } from '../space/rng.ts';

export const PREDICTOR_FORMAT = 'nas-accuracy-predictor-1';

const WIDTH = BLOCK_DECISIONS.reduce((a, d) => a + d.choices.length, 0);

/** One-hot of every decision of every block (expansion only counts for ir blocks: others encode it as its first choice). */
export function encodeDecisions(d: Decisions): Float32Array {
  const out = new Float32Array(d.length * WIDTH);
  d.forEach((block, bi) => {
    let off = bi * WIDTH;
    block.forEach((choice, k) => {
      const relevant = k !== 2 || BLOCK_DECISIONS[0]!.choices[block[0]!] === 'ir';
      out[off + (relevant ? choice : 0)] = 1;
      off += BLOCK_DECISIONS[k]!.choices.length;
    });
  });
  return out;
}

export interface PredictorSample { decisions: Decisions; accuracy: number }

/** The decisions of the architecture they build (choices that change nothing, such as an unusable skip flag, normalised). */
function canonical(sk: Skeleton, d: Decisions): Decisions {
  return decisionsFromArch(sk, archFromDecisions(sk, d));
}

export interface PredictorFit {
  samples: number;
  heldOut: number;
  /** Kendall tau of predicted vs supernet accuracy on the held-out samples */
  kendallTau: number;
  /** root mean squared error on the held-out samples (accuracy units) */
  rmse: number;
}

interface Stored { format: typeof PREDICTOR_FORMAT; skeleton: string; blocks: number; hidden: number; mean: number; weights: { shape: number[]; values: number[] }[]; fit: PredictorFit }

/** the largest hidden layer a stored predictor may declare (fitted ones use far fewer) */
const MAX_HIDDEN = 1024;

export class AccuracyPredictor {
  private constructor(private readonly model: tf.Sequential, readonly skeleton: string, private readonly mean: number, readonly fit: PredictorFit, private readonly hidden: number) {}

  private static build(blocks: number, hidden: number, seed: number): tf.Sequential {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [blocks * WIDTH], units: hidden, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed }) }));
    m.add(tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }) }));
    m.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
    return m;
  }

  /** Fit on samples (a seeded 80/20 split measures it; the model is then fitted on all of them). */
  static async train(skeleton: Skeleton, samples: PredictorSample[], o: { seed?: number; hidden?: number; epochs?: number } = {}): Promise<AccuracyPredictor> {
    if (samples.length < 10) throw new RangeError(`an accuracy predictor needs at least 10 evaluated architectures, got ${samples.length}`);
    const seed = o.seed ?? 1, hidden = o.hidden ?? 128, epochs = o.epochs ?? 300;
    const rng = createRng(seed);
    const idx = samples.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) { const j = rng.int(i + 1); [idx[i], idx[j]] = [idx[j]!, idx[i]!]; }
    const cut = Math.floor(idx.length * 0.8);
    const enc = samples.map((x) => Array.from(encodeDecisions(canonical(skeleton, x.decisions))));
    const fitOn = async (which: number[]) => {
      const mean = which.reduce((a, i) => a + samples[i]!.accuracy, 0) / which.length;
      const m = AccuracyPredictor.build(skeleton.blocks.length, hidden, seed);
      m.compile({ optimizer: tf.train.adam(0.003), loss: 'meanSquaredError' });
      const x = tf.tensor2d(which.map((i) => enc[i]!));
      // accuracies centred and in points: errors of a few tenths of a point must still move the loss
      const y = tf.tensor2d(which.map((i) => [(samples[i]!.accuracy - mean) * 100]));
      try {
        await m.fit(x, y, { epochs, batchSize: Math.min(64, which.length), shuffle: true, verbose: 0 });
      } finally {
        x.dispose();
        y.dispose();
      }
      return { m, mean };
    };
    const probe = await fitOn(idx.slice(0, cut));
    const held = idx.slice(cut);
    const pred = tf.tidy(() => Array.from((probe.m.predict(tf.tensor2d(held.map((i) => enc[i]!))) as tf.Tensor).dataSync()))
      .map((v) => v / 100 + probe.mean);
    const truth = held.map((i) => samples[i]!.accuracy);
    probe.m.dispose();
    const fit: PredictorFit = {
      samples: samples.length, heldOut: held.length, kendallTau: kendallTau(pred, truth),
      rmse: Math.sqrt(pred.reduce((a, p, i) => a + (p - truth[i]!) ** 2, 0) / pred.length),
    };
    const all = await fitOn(idx);
    return new AccuracyPredictor(all.m, skeleton.name, all.mean, fit, hidden);
  }

  predictDecisions(ds: Decisions[]): number[] {
    const sk = getSkeleton(this.skeleton);
    return tf.tidy(() => Array.from((this.model.predict(tf.tensor2d(ds.map((d) => Array.from(encodeDecisions(canonical(sk, d)))))) as tf.Tensor).dataSync()))
      .map((v) => Math.min(1, Math.max(0, v / 100 + this.mean)));
  }

  predict(skeleton: Skeleton, spec: ArchSpec): number {
    if (skeleton.name !== this.skeleton) throw new RangeError(`this predictor was fitted for skeleton ${this.skeleton}, not ${skeleton.name}`);
    return this.predictDecisions([decisionsFromArch(skeleton, spec)])[0]!;
  }

  toJSON(): Stored {
    return {
      format: PREDICTOR_FORMAT, skeleton: this.skeleton, blocks: (this.model.inputs[0]!.shape[1] as number) / WIDTH, hidden: this.hidden, mean: this.mean,
      weights: this.model.getWeights().map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) })), fit: this.fit,
    };
  }

  static fromJSON(j: unknown): AccuracyPredictor {
    const s = j as Stored;
    if (!s || s.format !== PREDICTOR_FORMAT) throw new Error(`not an accuracy predictor (format ${JSON.stringify(s?.format)})`);
    // sizes come from a file (an imported supernet's): every shape is checked before anything is allocated
    const int = (x: unknown, max: number) => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= max;
    if (!int(s.blocks, 64) || !int(s.hidden, MAX_HIDDEN) || typeof s.skeleton !== 'string' || !Array.isArray(s.weights) || !Number.isFinite(s.mean)) {
      throw new Error('accuracy predictor is malformed (blocks, hidden units, skeleton, weights or mean)');
    }
    const inputs = s.blocks * WIDTH, h = s.hidden;
    const shapes = [[inputs, h], [h], [h, h], [h], [h, 1], [1]];
    const ok = s.weights.length === shapes.length && s.weights.every((w, i) => Array.isArray(w?.shape) && w.shape.join('x') === shapes[i]!.join('x')
      && Array.isArray(w.values) && w.values.length === shapes[i]!.reduce((a, b) => a * b, 1) && w.values.every((v) => typeof v === 'number' && Number.isFinite(v)));
    if (!ok) throw new Error(`accuracy predictor weights do not fit its ${s.blocks} blocks and ${h} hidden units`);
    const m = AccuracyPredictor.build(s.blocks, s.hidden, 1);
    const ws = s.weights.map((w) => tf.tensor(w.values, w.shape));
    try {
      m.setWeights(ws);
    } catch (e) {
      m.dispose();
      throw e;
    } finally {
      tf.dispose(ws);
    }
    return new AccuracyPredictor(m, s.skeleton, s.mean, s.fit, s.hidden);
  }

  dispose(): void {
    this.model.dispose();
  }
}
