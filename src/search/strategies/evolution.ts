// Aging (regularized) evolution, after Real et al. 2019: a population of P
// architectures in age order; each child is a mutation of exactly one
// decision (mutateDecisions) of the best of S members sampled uniformly
// without replacement (the tournament); when a child's reward arrives it
// joins as the youngest and the oldest member leaves, whatever its reward.
//
// Asynchronous-friendly: proposals may be outstanding and observed in any
// order. The first P proposals are uniform random samples (the initial
// population); a failed trial (null reward) or an unscored one (hard mode's
// skip: a floor reward, no accuracy measured) never enters the population,
// so it cannot push a scored member out, and during the initial phase such a
// member is replaced by another random sample. Children are proposed as soon as S members have rewards, even while
// random ones are still outstanding; with fewer than S the strategy waits
// (returns fewer proposals) for the outstanding initial trials. Generations
// for the reward curve are windows of P successful observations.

import { mutateDecisions, sampleDecisions, type Decisions } from '../../space/sampler.ts';
import type { Skeleton } from '../../space/skeleton.ts';
import type { Observation, Proposal, SearchStrategy, StrategyStats } from '../strategy.ts';
import {
  checkCount, checkDecisions, checkReward, checkRngState, copyDecisions, ProposalLedger, RewardCurve, stateObject, StrategyInputError, curveStats,
} from './common.ts';
import { createRng as createStatefulRng, type StatefulRng } from '../../space/rng.ts';

const STATE_VERSION = 1;

export interface EvolutionOptions {
  skeleton: Skeleton;
  seed: number;
  /** population size P */
  population: number;
  /** tournament sample size S (<= P) */
  sampleSize: number;
}

interface Member {
  proposalId: string;
  decisions: Decisions;
  reward: number;
}

interface Pending {
  decisions: Decisions;
  kind: 'random' | 'child';
}

export class AgingEvolution implements SearchStrategy {
  readonly name = 'evolution' as const;
  private readonly rng: StatefulRng;
  private ledger = new ProposalLedger<Pending>('evolution');
  private rewards: RewardCurve;
  /** oldest first */
  private population: Member[] = [];
  /** true once the population first reached P members */
  private initialised = false;
  private children = 0;

  constructor(private readonly opts: EvolutionOptions) {
    this.rng = createStatefulRng(opts.seed);
    this.rewards = new RewardCurve(opts.population);
  }

  private pendingRandom(): number {
    let n = 0;
    for (const p of this.ledger.values()) if (p.kind === 'random') n++;
    return n;
  }

  /** Best of S distinct members drawn uniformly; ties go to the first drawn. */
  private tournament(): Member {
    const idx = this.population.map((_, i) => i);
    const s = Math.min(this.opts.sampleSize, idx.length);
    let best: Member | null = null;
    for (let i = 0; i < s; i++) {
      const j = i + this.rng.int(idx.length - i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
      const m = this.population[idx[i]];
      if (best === null || m.reward > best.reward) best = m;
    }
    return best!;
  }

  propose(n: number): Proposal[] {
    const out: Proposal[] = [];
    const { skeleton, population: P, sampleSize: S } = this.opts;
    let pendingRandom = this.pendingRandom();
    for (let i = 0; i < checkCount(n); i++) {
      let pending: Pending;
      if (!this.initialised && this.population.length + pendingRandom < P) {
        pending = { decisions: sampleDecisions(skeleton, this.rng), kind: 'random' };
        pendingRandom++;
      } else if (this.initialised || this.population.length >= Math.min(S, P)) {
        const parent = this.tournament();
        pending = { decisions: mutateDecisions(skeleton, parent.decisions, this.rng), kind: 'child' };
        this.children++;
      } else {
        break; // wait for the outstanding initial trials
      }
      out.push({ proposalId: this.ledger.issue(pending), decisions: copyDecisions(pending.decisions) });
    }
    return out;
  }

  observe(obs: Observation): void {
    const reward = checkReward(obs);
    const p = this.ledger.take(obs.proposalId);
    this.rewards.add(reward);
    if (reward === null || obs.scored === false) return;
    this.population.push({ proposalId: obs.proposalId, decisions: p.decisions, reward });
    if (this.population.length > this.opts.population) this.population.shift();
    if (this.population.length >= this.opts.population) this.initialised = true;
  }

  getState(): unknown {
    return {
      strategy: this.name,
      version: STATE_VERSION,
      skeleton: this.opts.skeleton.name,
      rng: this.rng.getState(),
      ledger: this.ledger.toJSON((p) => ({ decisions: copyDecisions(p.decisions), kind: p.kind })),
      population: this.population.map((m) => ({ proposalId: m.proposalId, decisions: copyDecisions(m.decisions), reward: m.reward })),
      initialised: this.initialised,
      children: this.children,
      rewards: this.rewards.toJSON(),
    };
  }

  setState(state: unknown): void {
    const s = stateObject(state, this.name, STATE_VERSION);
    const { skeleton } = this.opts;
    if (s.skeleton !== skeleton.name) {
      throw new StrategyInputError(`state was made for skeleton ${JSON.stringify(s.skeleton)}, not ${skeleton.name}`);
    }
    const ledger = new ProposalLedger<Pending>('evolution');
    ledger.restore(s.ledger, (p, id) => {
      const q = p as { decisions?: unknown; kind?: unknown } | null;
      if (!q || (q.kind !== 'random' && q.kind !== 'child')) throw new StrategyInputError(`state: pending proposal ${id} is malformed`);
      return { decisions: checkDecisions(skeleton, q.decisions, `state: pending proposal ${id}`), kind: q.kind };
    });
    if (!Array.isArray(s.population) || s.population.length > this.opts.population) {
      throw new StrategyInputError(`state.population must be an array of at most ${this.opts.population} members`);
    }
    const population = (s.population as unknown[]).map((m, i) => {
      const q = m as Partial<Member> | null;
      if (!q || typeof q.proposalId !== 'string' || typeof q.reward !== 'number' || !Number.isFinite(q.reward)) {
        throw new StrategyInputError(`state.population[${i}] is malformed`);
      }
      return { proposalId: q.proposalId, decisions: checkDecisions(skeleton, q.decisions, `state.population[${i}]`), reward: q.reward };
    });
    if (typeof s.initialised !== 'boolean' || !Number.isInteger(s.children) || (s.children as number) < 0) {
      throw new StrategyInputError('state.initialised / state.children are malformed');
    }
    const rewards = new RewardCurve(this.opts.population);
    rewards.restore(s.rewards);
    this.rng.setState(checkRngState(s.rng));
    this.ledger = ledger;
    this.population = population;
    this.initialised = s.initialised;
    this.children = s.children as number;
    this.rewards = rewards;
  }

  stats(): StrategyStats {
    return {
      ...curveStats(this.rewards, this.ledger.size),
      populationSize: this.population.length,
      children: this.children,
      populationMeanReward: this.population.length ? this.population.reduce((a, m) => a + m.reward, 0) / this.population.length : null,
    };
  }

  dispose(): void {}
}
