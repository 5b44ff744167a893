// The RL controller's policy: a one-layer LSTM (written with tf ops) that
// emits an architecture as a sequence of factorized decisions, block by
// block, per block in BLOCK_DECISIONS order (MnasNet / NAS-RL). At each step
// the previous choice (a start token first) is embedded and fed in (one
// learned input vector per token); one softmax head per decision type reads
// the hidden state, plus a per-block bias. Sampling uses the
// caller's seeded RNG on the computed probabilities; weights are initialised
// from a seeded RNG, so everything is reproducible on any tfjs backend.
// Trained by a policy gradient step with our own Adam (moments kept as
// tensors and serialised with the weights, so getState() is synchronous).

import * as tf from '@tensorflow/tfjs';
import { BLOCK_DECISIONS, type Decisions } from '../../space/sampler.ts';
import { StrategyInputError } from './common.ts';
import type { Rng } from '../../space/rng.ts';

const CHOICES = BLOCK_DECISIONS.map((d) => d.choices.length);
const OFFSETS = CHOICES.map((_, i) => CHOICES.slice(0, i).reduce((a, n) => a + n, 0));
/** all (decision, choice) tokens; index VOCAB is the start token */
const VOCAB = CHOICES.reduce((a, n) => a + n, 0);
const INIT_RANGE = 0.1;
/** logits are squashed to C * tanh(l / C) (as in ENAS): bounded, so exp never overflows and no max-shift is needed */
const LOGIT_BOUND = 5;
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export interface PolicyConfig {
  blocks: number;
  hiddenSize: number;
}

export interface PolicyStep {
  learningRate: number;
  entropyWeight: number;
}

interface Param {
  name: string;
  shape: number[];
  value: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
}

function f32ToBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function base64ToF32(s: unknown, size: number, what: string): Float32Array {
  if (typeof s !== 'string') throw new StrategyInputError(`state: ${what} must be a base64 string`);
  const buf = Buffer.from(s, 'base64');
  if (buf.byteLength !== size * 4) throw new StrategyInputError(`state: ${what} holds ${buf.byteLength / 4} floats, expected ${size}`);
  const out = new Float32Array(size);
  new Uint8Array(out.buffer).set(buf);
  if (!out.every(Number.isFinite)) throw new StrategyInputError(`state: ${what} holds non-finite values`);
  return out;
}

/** Row-wise softmax of bounded logits (|l| <= LOGIT_BOUND, so no max-shift), in float64. */
function softmaxRows(logits: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length; r += n) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += (out[r + k] = Math.exp(logits[r + k]));
    for (let k = 0; k < n; k++) out[r + k] /= sum;
  }
  return out;
}

export class LstmPolicy {
  private readonly params: Param[];
  private adamSteps = 0;
  readonly steps: number;

  constructor(private readonly cfg: PolicyConfig, initRng: Rng) {
    const H = cfg.hiddenSize;
    this.steps = cfg.blocks * CHOICES.length;
    const init = (name: string, shape: number[], zero = false): Param => {
      const size = shape.reduce((a, n) => a * n, 1);
      const data = new Float32Array(size);
      if (!zero) for (let i = 0; i < size; i++) data[i] = (initRng.next() * 2 - 1) * INIT_RANGE;
      const initial = [tf.tensor(data, shape), tf.zeros(shape), tf.zeros(shape)];
      const param = {
        name, shape,
        value: tf.variable(initial[0], true, undefined, 'float32'),
        m: tf.variable(initial[1], false),
        v: tf.variable(initial[2], false),
      };
      tf.dispose(initial);
      return param;
    };
    // inputTable: per token, the LSTM's input contribution to the four gates
    // (an embedding times the input kernel plus the gate bias, as one
    // learned [4H, VOCAB + 1] table). Gates are rows: input, forget, output, cell.
    this.params = [
      init('inputTable', [4 * H, VOCAB + 1]),
      init('recurrentKernel', [4 * H, H]),
      init('headKernel', [H, VOCAB]),
      init('headBias', [cfg.blocks, VOCAB], true),
    ];
    // forget-gate bias 1
    const table = this.params[0].value.dataSync().slice();
    for (let i = H * (VOCAB + 1); i < 2 * H * (VOCAB + 1); i++) table[i] += 1;
    tf.tidy(() => this.params[0].value.assign(tf.tensor(table, this.params[0].shape)));
  }

  private p(i: number): tf.Tensor2D {
    return this.params[i].value as tf.Tensor2D;
  }

  /**
   * One LSTM step. State is kept transposed ([H, batch]) so that every gate
   * is a contiguous row block (tfjs-cpu slices columns and broadcasts
   * columns element by element, which dominated the update's time); the
   * input token arrives as a one-hot [VOCAB + 1, batch] matrix.
   */
  private lstm(oneHotT: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
    const H = this.cfg.hiddenSize;
    const z = tf.add(tf.matMul(this.p(0), oneHotT), tf.matMul(this.p(1), h));
    const [i, f, o] = tf.split(tf.sigmoid(tf.slice(z, [0, 0], [3 * H, -1])), 3, 0);
    const g = tf.tanh(tf.slice(z, [3 * H, 0], [H, -1]));
    const c2 = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    const h2 = tf.mul(o, tf.tanh(c2)) as tf.Tensor2D;
    return [h2, c2];
  }

  /** One-hot [VOCAB + 1, batch] of step t's inputs: the start token first, then the previous decision's choice. */
  private inputs(prev: number[] | null, t: number, batch: number): tf.Tensor2D {
    const data = new Float32Array((VOCAB + 1) * batch);
    for (let i = 0; i < batch; i++) {
      const token = prev === null ? VOCAB : OFFSETS[(t - 1) % CHOICES.length] + prev[i];
      data[token * batch + i] = 1;
    }
    return tf.tensor2d(data, [VOCAB + 1, batch]);
  }

  /** Samples `batch` architectures; returns them and the mean per-decision entropy of the policy along them. */
  sample(batch: number, rng: Rng): { decisions: Decisions[]; entropy: number } {
    const D = CHOICES.length;
    const H = this.cfg.hiddenSize;
    const out: Decisions[] = Array.from({ length: batch }, () => Array.from({ length: this.cfg.blocks }, () => new Array<number>(D).fill(0)));
    let entropy = 0;
    let h = tf.zeros([H, batch]) as tf.Tensor2D;
    let c = tf.zeros([H, batch]) as tf.Tensor2D;
    let prev: number[] | null = null;
    for (let t = 0; t < this.steps; t++) {
      const d = t % D;
      const n = CHOICES[d];
      const [h2, c2, raw] = tf.tidy(() => {
        const [hn, cn] = this.lstm(this.inputs(prev, t, batch), h, c);
        const bias = tf.slice(this.p(3), [Math.floor(t / D), 0], [1, VOCAB]);
        return [hn, cn, tf.add(tf.matMul(hn, this.p(2), true), bias)];
      });
      tf.dispose([h, c]);
      h = h2;
      c = c2;
      const all = raw.dataSync();
      raw.dispose();
      const logits = new Float64Array(batch * n);
      for (let i = 0; i < batch; i++) {
        for (let k = 0; k < n; k++) logits[i * n + k] = LOGIT_BOUND * Math.tanh(all[i * VOCAB + OFFSETS[d] + k] / LOGIT_BOUND);
      }
      const p = softmaxRows(logits, n);
      const actions: number[] = [];
      for (let i = 0; i < batch; i++) {
        const u = rng.next();
        let acc = 0;
        let a = n - 1;
        for (let k = 0; k < n; k++) {
          acc += p[i * n + k];
          if (u < acc) {
            a = k;
            break;
          }
        }
        for (let k = 0; k < n; k++) {
          const pk = p[i * n + k];
          if (pk > 0) entropy -= pk * Math.log(pk);
        }
        actions.push(a);
        out[i][Math.floor(t / D)][d] = a;
      }
      prev = actions;
    }
    tf.dispose([h, c]);
    return { decisions: out, entropy: entropy / (batch * this.steps) };
  }

  /**
   * Teacher-forced pass over given architectures: per architecture, the log
   * probability of its decisions under the current policy and the sum of the
   * per-decision entropies along it. Call inside a tidy / gradient scope.
   */
  private sequenceTerms(archs: Decisions[]): { logProb: tf.Tensor1D; entropy: tf.Tensor1D } {
    const batch = archs.length;
    const D = CHOICES.length;
    const actionsAt = (t: number) => archs.map((a) => a[Math.floor(t / D)][t % D]);
    // The heads of all steps are one matMul after the recurrence, each row
    // (step, architecture) masked to its decision's choices.
    const T = this.steps;
    const H = this.cfg.hiddenSize;
    const chosen = new Float32Array(T * batch * VOCAB);
    const mask = new Float32Array(T * batch * VOCAB).fill(-1e9);
    /** one-hot of each row's block, selecting its row of the per-block head bias */
    const blockOf = new Float32Array(T * batch * this.cfg.blocks);
    for (let t = 0; t < T; t++) {
      const d = t % D;
      actionsAt(t).forEach((a, i) => {
        const row = (t * batch + i) * VOCAB;
        chosen[row + OFFSETS[d] + a] = 1;
        mask.fill(0, row + OFFSETS[d], row + OFFSETS[d] + CHOICES[d]);
        blockOf[(t * batch + i) * this.cfg.blocks + Math.floor(t / D)] = 1;
      });
    }
    let h = tf.zeros([H, batch]) as tf.Tensor2D;
    let c = tf.zeros([H, batch]) as tf.Tensor2D;
    const hs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      [h, c] = this.lstm(this.inputs(t === 0 ? null : actionsAt(t - 1), t, batch), h, c);
      hs.push(h);
    }
    // Broadcasting a [rows, 1] column over [rows, V] takes tfjs-cpu's slow
    // per-element path; row sums and their spreading are matMuls with ones.
    const rows = T * batch;
    const onesCol = tf.ones([VOCAB, 1]) as tf.Tensor2D;
    const onesRow = tf.ones([1, VOCAB]) as tf.Tensor2D;
    const raw = tf.add(tf.matMul(tf.concat(hs, 1), this.p(2), true), tf.matMul(tf.tensor2d(blockOf, [rows, this.cfg.blocks]), this.p(3)));
    const logits = tf.add(tf.mul(tf.tanh(tf.div(raw, LOGIT_BOUND)), LOGIT_BOUND), tf.tensor2d(mask, [rows, VOCAB])) as tf.Tensor2D;
    const exps = tf.exp(logits) as tf.Tensor2D;
    const logZ = tf.log(tf.matMul(exps, onesCol));
    const logp = tf.sub(logits, tf.matMul(logZ, onesRow)) as tf.Tensor2D;
    // per architecture: sum over steps (rows are step-major) with a ones row vector
    const perArch = (perRow: tf.Tensor2D) => tf.reshape(tf.matMul(tf.ones([1, T]) as tf.Tensor2D, tf.reshape(perRow, [T, batch])), [batch]) as tf.Tensor1D;
    const logProb = perArch(tf.matMul(tf.mul(logp, tf.tensor2d(chosen, [rows, VOCAB])), onesCol));
    const entropy = tf.neg(perArch(tf.matMul(tf.mul(tf.exp(logp), logp), onesCol))) as tf.Tensor1D;
    return { logProb, entropy };
  }

  /** log pi(arch) of each architecture under the current policy (no gradient). */
  logProbs(archs: Decisions[]): number[] {
    return tf.tidy(() => Array.from(this.sequenceTerms(archs).logProb.dataSync()));
  }

  /**
   * One policy-gradient step. REINFORCE: minimise -mean_i(adv_i * log pi(arch_i)) - entropyWeight * mean_i(H_i),
   * where H_i sums the per-decision entropies along arch_i. PPO (Schulman et al. 2017; MnasNet's
   * optimiser): with ratio_i = pi(arch_i) / pi_old(arch_i) over the whole decision sequence, minimise
   * -mean_i(min(ratio_i adv_i, clip(ratio_i, 1 - eps, 1 + eps) adv_i)) - entropyWeight * mean_i(H_i).
   * Returns the loss.
   */
  update(archs: Decisions[], advantages: number[], step: PolicyStep, ppo?: { oldLogProbs: number[]; clip: number }): number {
    const vars = this.params.map((p) => p.value);
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
      const { logProb, entropy } = this.sequenceTerms(archs);
      const adv = tf.tensor1d(advantages);
      let pg: tf.Tensor;
      if (ppo) {
        const ratio = tf.exp(tf.sub(logProb, tf.tensor1d(ppo.oldLogProbs)));
        pg = tf.mean(tf.minimum(tf.mul(ratio, adv), tf.mul(tf.clipByValue(ratio, 1 - ppo.clip, 1 + ppo.clip), adv)));
      } else {
        pg = tf.mean(tf.mul(adv, logProb));
      }
      return tf.neg(tf.add(pg, tf.mul(step.entropyWeight, tf.mean(entropy)))) as tf.Scalar;
    }), vars);
    this.adamSteps++;
    const t = this.adamSteps;
    tf.tidy(() => {
      const lrT = step.learningRate * Math.sqrt(1 - ADAM.beta2 ** t) / (1 - ADAM.beta1 ** t);
      for (const p of this.params) {
        const g = grads[p.value.name];
        p.m.assign(tf.add(tf.mul(p.m, ADAM.beta1), tf.mul(g, 1 - ADAM.beta1)));
        p.v.assign(tf.add(tf.mul(p.v, ADAM.beta2), tf.mul(tf.square(g), 1 - ADAM.beta2)));
        p.value.assign(tf.sub(p.value, tf.div(tf.mul(p.m, lrT), tf.add(tf.sqrt(p.v), ADAM.epsilon))));
      }
    });
    const loss = value.dataSync()[0];
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    return loss;
  }

  toJSON(): { hiddenSize: number; adamSteps: number; params: Record<string, { value: string; m: string; v: string }> } {
    const params: Record<string, { value: string; m: string; v: string }> = {};
    for (const p of this.params) {
      params[p.name] = {
        value: f32ToBase64(p.value.dataSync() as Float32Array),
        m: f32ToBase64(p.m.dataSync() as Float32Array),
        v: f32ToBase64(p.v.dataSync() as Float32Array),
      };
    }
    return { hiddenSize: this.cfg.hiddenSize, adamSteps: this.adamSteps, params };
  }

  /** Restores weights and Adam moments; validates everything before changing anything. */
  restore(json: unknown): void {
    const j = json as { hiddenSize?: unknown; adamSteps?: unknown; params?: Record<string, Record<string, unknown>> } | null;
    if (!j || j.hiddenSize !== this.cfg.hiddenSize) {
      throw new StrategyInputError(`state: policy hidden size ${JSON.stringify(j?.hiddenSize)} differs from the option hiddenSize ${this.cfg.hiddenSize}`);
    }
    if (!Number.isInteger(j.adamSteps) || (j.adamSteps as number) < 0 || typeof j.params !== 'object' || j.params === null) {
      throw new StrategyInputError('state: policy is malformed');
    }
    const decoded = this.params.map((p) => {
      const e = j.params![p.name];
      if (!e || typeof e !== 'object') throw new StrategyInputError(`state: policy parameter ${p.name} is missing`);
      const size = p.shape.reduce((a, n) => a * n, 1);
      return (['value', 'm', 'v'] as const).map((k) => base64ToF32(e[k], size, `policy ${p.name}.${k}`));
    });
    this.params.forEach((p, i) => {
      tf.tidy(() => {
        p.value.assign(tf.tensor(decoded[i][0], p.shape));
        p.m.assign(tf.tensor(decoded[i][1], p.shape));
        p.v.assign(tf.tensor(decoded[i][2], p.shape));
      });
    });
    this.adamSteps = j.adamSteps as number;
  }

  dispose(): void {
    for (const p of this.params) {
      p.value.dispose();
      p.m.dispose();
      p.v.dispose();
    }
  }
}
