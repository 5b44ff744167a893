// The one interface every search strategy implements (RL controller, random
// search, aging evolution). A strategy sees architectures only as decision
// indices over a skeleton (src/space/sampler.ts) and rewards as numbers; it
// knows nothing of training, latency tables, stores or processes.
//
// Protocol: propose(n) returns up to n proposals, each with a strategy-chosen
// `proposalId`; the runner later calls observe() once per proposal, in any
// order (results may arrive out of order from workers), with the reward.
// getState()/setState() round-trip the full state (weights, optimizer,
// baseline, RNG, population, pending proposals) as plain JSON, so a search
// can be checkpointed after every observation and resumed after a crash.

import type { Decisions } from '../space/sampler.ts';
import type { Skeleton } from '../space/skeleton.ts';

export type StrategyName = 'rl' | 'random' | 'evolution';

export interface Proposal {
  /** unique within the strategy's lifetime (survives setState) */
  proposalId: string;
  decisions: Decisions;
}

export interface Observation {
  proposalId: string;
  /** the reward of the proposal's architecture; null when its trial failed */
  reward: number | null;
  /**
   * false when the reward was assigned without evaluating the architecture
   * (hard mode's skip of a candidate far over the target: a floor, not a
   * measurement). Strategies may learn from it (the controller learns to
   * avoid such candidates) but must not keep it as a measured result (an
   * evolution population holds scored members only). Default true.
   */
  scored?: boolean;
}

export interface StrategyStats {
  /** completed controller updates (rl), generations/observations otherwise */
  updates: number;
  /** mean reward of the batch behind each update, in order (the reward curve) */
  rewardCurve: number[];
  [k: string]: unknown;
}

export interface SearchStrategy {
  readonly name: StrategyName;
  /** up to n new proposals (fewer when the strategy waits for observations, e.g. the end of an RL batch) */
  propose(n: number): Proposal[];
  /** the result of an earlier proposal; each proposalId exactly once */
  observe(obs: Observation): void;
  /** JSON-serialisable full state */
  getState(): unknown;
  /** restore a state made by getState() of a strategy with the same options */
  setState(state: unknown): void;
  stats(): StrategyStats;
  /** free tensors etc. */
  dispose(): void;
}

export interface StrategyOptions {
  skeleton: Skeleton;
  seed: number;
  /** rl: architectures per policy update (MnasNet's m) */
  batchSize?: number;
  /** evolution: population size P and tournament sample size S */
  population?: number;
  sampleSize?: number;
  [k: string]: unknown;
}
