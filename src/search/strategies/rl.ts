// The RL controller (MnasNet-style): an LSTM policy (rl_policy.ts) samples a
// batch of m architectures; when the rewards of the whole batch are in (in
// any order) the policy is updated: one REINFORCE step, or (algorithm 'ppo',
// MnasNet's choice) several clipped-surrogate PPO steps on the batch, with
// a moving-average baseline (NAS-RL) and an entropy bonus either way.
//
// Advantages: A_i = (R_i - b) / s, clipped to [-5, 5], where b is an
// exponential moving average of the batch mean rewards (decay
// `baselineDecay`, initialised with the first batch's mean) and s the square
// root of the moving average of (R - b)^2 (so learning does not depend on the
// reward's scale). Both are updated after the step with the batch's figures.
// Failed trials (null reward) are left out of the update: the gradient is the
// mean over the batch's successful architectures only; a batch that failed
// entirely makes no step (counted in stats().skippedBatches) and a new batch
// is sampled.
//
// propose(n) hands out at most the unissued rest of the current batch; once
// the batch is issued it returns [] until all its observations arrived.

import type { Decisions } from '../../space/sampler.ts';
import type { Skeleton } from '../../space/skeleton.ts';
import type { Observation, Proposal, SearchStrategy, StrategyStats } from '../strategy.ts';
import {
  checkCount, checkDecisions, checkReward, checkRngState, copyDecisions, ProposalLedger, stateObject, StrategyInputError,
} from './common.ts';
import { LstmPolicy } from './rl_policy.ts';
import { createRng as createStatefulRng, type StatefulRng } from '../../space/rng.ts';

const STATE_VERSION = 1;
const ADVANTAGE_CLIP = 5;

export type RlAlgorithm = 'reinforce' | 'ppo';
export const RL_ALGORITHMS: readonly RlAlgorithm[] = ['reinforce', 'ppo'];

export interface RlOptions {
  skeleton: Skeleton;
  /** reinforce: one policy-gradient step per batch; ppo: `ppoEpochs` clipped-surrogate steps per batch */
  algorithm: RlAlgorithm;
  ppoEpochs: number;
  ppoClip: number;
  seed: number;
  batchSize: number;
  hiddenSize: number;
  learningRate: number;
  entropyWeight: number;
  baselineDecay: number;
}

interface BatchItem {
  decisions: Decisions;
  proposalId: string | null;
  /** undefined until observed */
  reward?: number | null;
}

export class RlController implements SearchStrategy {
  readonly name = 'rl' as const;
  private readonly rng: StatefulRng;
  private readonly policy: LstmPolicy;
  private ledger = new ProposalLedger<number>('rl');
  private batch: BatchItem[] | null = null;
  private baseline: number | null = null;
  private variance = 0;
  private updates = 0;
  private skippedBatches = 0;
  private curve: number[] = [];
  private observed = 0;
  private failed = 0;
  private best: number | null = null;
  private entropy: number | null = null;
  private lastLoss: number | null = null;

  constructor(private readonly opts: RlOptions) {
    this.rng = createStatefulRng(opts.seed);
    const initRng = createStatefulRng((opts.seed ^ 0x9e3779b9) >>> 0);
    this.policy = new LstmPolicy({ blocks: opts.skeleton.blocks.length, hiddenSize: opts.hiddenSize }, initRng);
  }

  propose(n: number): Proposal[] {
    checkCount(n);
    if (n === 0) return [];
    if (this.batch === null) {
      const { decisions, entropy } = this.policy.sample(this.opts.batchSize, this.rng);
      this.batch = decisions.map((d) => ({ decisions: d, proposalId: null }));
      this.entropy = entropy;
    }
    const out: Proposal[] = [];
    this.batch.forEach((item, i) => {
      if (out.length >= n || item.proposalId !== null) return;
      item.proposalId = this.ledger.issue(i);
      out.push({ proposalId: item.proposalId, decisions: copyDecisions(item.decisions) });
    });
    return out;
  }

  observe(obs: Observation): void {
    const reward = checkReward(obs);
    const i = this.ledger.take(obs.proposalId);
    const batch = this.batch!;
    batch[i].reward = reward;
    this.observed++;
    if (reward === null) this.failed++;
    else if (this.best === null || reward > this.best) this.best = reward;
    if (batch.every((b) => b.reward !== undefined)) this.finishBatch(batch);
  }

  private finishBatch(batch: BatchItem[]): void {
    this.batch = null;
    const ok = batch.filter((b) => b.reward !== null && b.reward !== undefined) as (BatchItem & { reward: number })[];
    if (ok.length === 0) {
      this.skippedBatches++;
      return;
    }
    const rewards = ok.map((b) => b.reward);
    const mean = rewards.reduce((a, r) => a + r, 0) / rewards.length;
    const baseline = this.baseline ?? mean;
    const sq = rewards.reduce((a, r) => a + (r - baseline) ** 2, 0) / rewards.length;
    const variance = this.baseline === null ? sq : this.variance;
    const scale = Math.sqrt(variance) > 1e-12 ? Math.sqrt(variance) : 1;
    const adv = rewards.map((r) => Math.max(-ADVANTAGE_CLIP, Math.min(ADVANTAGE_CLIP, (r - baseline) / scale)));
    const archs = ok.map((b) => b.decisions);
    const step = { learningRate: this.opts.learningRate, entropyWeight: this.opts.entropyWeight };
    if (this.opts.algorithm === 'ppo') {
      // the policy has not moved since it sampled this batch: its teacher-forced log-probs are pi_old
      const oldLogProbs = this.policy.logProbs(archs);
      for (let e = 0; e < this.opts.ppoEpochs; e++) this.lastLoss = this.policy.update(archs, adv, step, { oldLogProbs, clip: this.opts.ppoClip });
    } else {
      this.lastLoss = this.policy.update(archs, adv, step);
    }
    const decay = this.opts.baselineDecay;
    this.baseline = this.baseline === null ? mean : decay * this.baseline + (1 - decay) * mean;
    this.variance = this.updates === 0 ? sq : decay * this.variance + (1 - decay) * sq;
    this.updates++;
    this.curve.push(mean);
  }

  getState(): unknown {
    return {
      strategy: this.name,
      version: STATE_VERSION,
      skeleton: this.opts.skeleton.name,
      rng: this.rng.getState(),
      ledger: this.ledger.toJSON((i) => i),
      batch: this.batch?.map((b) => ({ decisions: copyDecisions(b.decisions), proposalId: b.proposalId, reward: b.reward === undefined ? 'pending' : b.reward })) ?? null,
      baseline: this.baseline,
      variance: this.variance,
      updates: this.updates,
      skippedBatches: this.skippedBatches,
      curve: [...this.curve],
      observed: this.observed,
      failed: this.failed,
      best: this.best,
      entropy: this.entropy,
      lastLoss: this.lastLoss,
      policy: this.policy.toJSON(),
    };
  }

  setState(state: unknown): void {
    const s = stateObject(state, this.name, STATE_VERSION);
    const { skeleton, batchSize } = this.opts;
    if (s.skeleton !== skeleton.name) {
      throw new StrategyInputError(`state was made for skeleton ${JSON.stringify(s.skeleton)}, not ${skeleton.name}`);
    }
    const ledger = new ProposalLedger<number>('rl');
    ledger.restore(s.ledger, (p, id) => {
      if (!Number.isInteger(p) || (p as number) < 0 || (p as number) >= batchSize) throw new StrategyInputError(`state: pending proposal ${id} is malformed`);
      return p as number;
    });
    let batch: BatchItem[] | null = null;
    if (s.batch !== null) {
      if (!Array.isArray(s.batch) || s.batch.length !== batchSize) throw new StrategyInputError(`state.batch must be null or ${batchSize} items (option batchSize)`);
      batch = (s.batch as unknown[]).map((e, i) => {
        const q = e as { decisions?: unknown; proposalId?: unknown; reward?: unknown } | null;
        const okReward = q && (q.reward === 'pending' || q.reward === null || (typeof q.reward === 'number' && Number.isFinite(q.reward)));
        if (!q || !okReward || !(q.proposalId === null || typeof q.proposalId === 'string')) throw new StrategyInputError(`state.batch[${i}] is malformed`);
        return {
          decisions: checkDecisions(skeleton, q.decisions, `state.batch[${i}]`),
          proposalId: q.proposalId as string | null,
          reward: q.reward === 'pending' ? undefined : (q.reward as number | null),
        };
      });
    }
    // the outstanding proposals are exactly the batch's issued, unobserved items
    const outstanding = batch?.filter((b) => b.proposalId !== null && b.reward === undefined).length ?? 0;
    const consistent = ledger.size === outstanding && [...ledger.entries()].every(([id, i]) =>
      batch !== null && batch[i].proposalId === id && batch[i].reward === undefined);
    if (!consistent) throw new StrategyInputError('state: the pending proposals do not match the current batch');
    const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
    const ok = (s.baseline === null || num(s.baseline)) && num(s.variance) && count(s.updates) && count(s.skippedBatches) &&
      Array.isArray(s.curve) && s.curve.every(num) && count(s.observed) && count(s.failed) && (s.best === null || num(s.best)) &&
      (s.entropy === null || num(s.entropy)) && (s.lastLoss === null || num(s.lastLoss));
    if (!ok) throw new StrategyInputError('state: rl counters, baseline or reward curve are malformed');
    const rng = checkRngState(s.rng);
    this.policy.restore(s.policy); // validates fully before it changes anything
    this.rng.setState(rng);
    this.ledger = ledger;
    this.batch = batch;
    this.baseline = s.baseline as number | null;
    this.variance = s.variance as number;
    this.updates = s.updates as number;
    this.skippedBatches = s.skippedBatches as number;
    this.curve = [...(s.curve as number[])];
    this.observed = s.observed as number;
    this.failed = s.failed as number;
    this.best = s.best as number | null;
    this.entropy = s.entropy as number | null;
    this.lastLoss = s.lastLoss as number | null;
  }

  stats(): StrategyStats {
    return {
      updates: this.updates,
      rewardCurve: [...this.curve],
      observed: this.observed,
      failed: this.failed,
      pending: this.ledger.size,
      bestReward: this.best,
      skippedBatches: this.skippedBatches,
      baseline: this.baseline,
      policyEntropy: this.entropy,
      loss: this.lastLoss,
    };
  }

  dispose(): void {
    this.policy.dispose();
  }
}
