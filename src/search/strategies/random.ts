// Random search: every proposal is a uniform sample of the decisions
// (sampleDecisions) from a seeded RNG. Observations only feed the statistics.
// The reward curve is the mean reward per window of `batchSize` successful
// observations (the same m as the RL controller's batch, for comparison).

import { sampleDecisions } from '../../space/sampler.ts';
import type { Skeleton } from '../../space/skeleton.ts';
import type { Observation, Proposal, SearchStrategy, StrategyStats } from '../strategy.ts';
import { checkCount, checkRngState, checkReward, ProposalLedger, RewardCurve, stateObject, StrategyInputError, curveStats } from './common.ts';
import { createRng as createStatefulRng, type StatefulRng } from '../../space/rng.ts';

const STATE_VERSION = 1;

export interface RandomOptions {
  skeleton: Skeleton;
  seed: number;
  /** observations per point of the reward curve */
  batchSize: number;
}

export class RandomSearch implements SearchStrategy {
  readonly name = 'random' as const;
  private readonly rng: StatefulRng;
  private ledger = new ProposalLedger<true>('random');
  private rewards: RewardCurve;

  constructor(private readonly opts: RandomOptions) {
    this.rng = createStatefulRng(opts.seed);
    this.rewards = new RewardCurve(opts.batchSize);
  }

  propose(n: number): Proposal[] {
    const out: Proposal[] = [];
    for (let i = 0; i < checkCount(n); i++) {
      const decisions = sampleDecisions(this.opts.skeleton, this.rng);
      out.push({ proposalId: this.ledger.issue(true), decisions });
    }
    return out;
  }

  observe(obs: Observation): void {
    const reward = checkReward(obs);
    this.ledger.take(obs.proposalId);
    this.rewards.add(reward);
  }

  getState(): unknown {
    return {
      strategy: this.name,
      version: STATE_VERSION,
      skeleton: this.opts.skeleton.name,
      rng: this.rng.getState(),
      ledger: this.ledger.toJSON(() => true),
      rewards: this.rewards.toJSON(),
    };
  }

  setState(state: unknown): void {
    const s = stateObject(state, this.name, STATE_VERSION);
    if (s.skeleton !== this.opts.skeleton.name) {
      throw new StrategyInputError(`state was made for skeleton ${JSON.stringify(s.skeleton)}, not ${this.opts.skeleton.name}`);
    }
    // Parse everything first, then swap: a bad state leaves this instance unchanged.
    const ledger = new ProposalLedger<true>('random');
    ledger.restore(s.ledger, () => true);
    const rewards = new RewardCurve(this.opts.batchSize);
    rewards.restore(s.rewards);
    this.rng.setState(checkRngState(s.rng));
    this.ledger = ledger;
    this.rewards = rewards;
  }

  stats(): StrategyStats {
    return {
      ...curveStats(this.rewards, this.ledger.size),
    };
  }

  dispose(): void {}
}
