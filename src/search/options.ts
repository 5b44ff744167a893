// The options of one search, as the user gives them (SearchOptionsInput, from
// the CLI, an HTTP body or a job payload) and as they are stored and run
// (SearchOptions: every default filled in, validated). The stored JSON is
// parsed back through the same validator, so a search resumes with exactly
// the options it started with.

import type { StrategyName } from './strategy.ts';
import { isStrategyName, STRATEGY_NAMES } from './strategies/index.ts';

export type RewardMode = 'soft' | 'hard';

/**
 * How a candidate is scored: a short training run (proxy), inherited supernet
 * weights (supernet: about a second), or the supernet's accuracy predictor
 * (predictor: microseconds; an MLP fitted on supernet evaluations).
 */
export type EvaluatorName = 'proxy' | 'supernet' | 'predictor';
export const EVALUATOR_NAMES: readonly EvaluatorName[] = ['proxy', 'supernet', 'predictor'];
/** Evaluators that score from a trained supernet (they need one, and skip nothing). */
export const usesSupernet = (e: EvaluatorName): boolean => e !== 'proxy';

/** The proxy task each trial trains on (MnasNet trains 5 epochs on a subset; here seconds per trial). */
export interface ProxyRecipe {
  /** training images (the first N of the train split) */
  subset: number;
  /** validation images the accuracy is measured on */
  validationSubset: number;
  epochs: number;
  batchSize: number;
  /** training side in pixels; null = the dataset's own */
  resolution: number | null;
  optimizer: 'sgd' | 'adam';
  /** BN statistics re-estimated on this many training images before validation */
  bnRecalibrationImages: number;
}

/**
 * BlockQNN-style early-stop reward shaping (Zhong et al. 2018, sec. 3.4):
 * train only `epochs` epochs and use ACC_early - macsPenalty * ln(MACs) as
 * the accuracy term (their FLOPs term; their density term does not apply to
 * our chain-structured blocks). Off (null) by default.
 */
export interface EarlyStopShaping {
  epochs: number;
  macsPenalty: number;
}

export interface SearchOptions {
  dataset: string;
  deviceId: string;
  latencyTargetMs: number;
  mode: RewardMode;
  /** soft: the exponent alpha = beta (default -0.07); hard: beta above the target (default -1), alpha = 0 */
  w: number;
  /** hard mode: architectures predicted over skipFactor x target are scored without training */
  skipFactor: number;
  strategy: StrategyName;
  /** proxy: each candidate trains on the proxy task; supernet: scored with weights inherited from the dataset's trained supernet; predictor: by that supernet's accuracy predictor */
  evaluator: EvaluatorName;
  /** the supernet that scores (evaluators supernet and predictor): fixed when the search is created, so a resumed search uses the same one */
  supernetId: string | null;
  /** max trials that train (cached repeats and hard-mode skips cost nothing; proposals capped at 50x) */
  maxTrials: number;
  /**
   * stop after this many proposals, cached repeats and skips included (default: 50 x maxTrials). With a
   * cheap evaluator a converged controller keeps proposing what it already scored; this bounds the
   * samples a strategy draws, so strategies compare at equal samples.
   */
  maxProposals?: number;
  /** wall-time budget over all runs of the search; null = none */
  maxWallMs: number | null;
  /** stop proposing once this many trials failed; null = none */
  maxFailedTrials: number | null;
  /** trials trained at once (default 2; capped at the machine's cores) */
  maxParallelTrials: number;
  /** a trial training longer is killed and stored failed ('timeout'), so a stuck worker never stalls the search */
  trialTimeoutMs: number;
  seed: number;
  proxy: ProxyRecipe;
  earlyStop: EarlyStopShaping | null;
  /** rl batch size (MnasNet's m), evolution population/sample size */
  strategyOptions: { batchSize?: number; population?: number; sampleSize?: number };
}

export type SearchOptionsInput = Partial<Omit<SearchOptions, 'proxy' | 'earlyStop'>> & {
  dataset: string;
  deviceId: string;
  latencyTargetMs: number;
  proxy?: Partial<ProxyRecipe>;
  earlyStop?: Partial<EarlyStopShaping> | null;
};

export class SearchInputError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'SearchInputError';
  }
}

/** The target is below the fastest architecture of the space on the device (message states it; the figure travels too). */
export class TargetBelowFastestError extends SearchInputError {
  constructor(message: string, readonly fastestLatencyMs: number, readonly latencyTargetMs: number) {
    super(message);
    this.name = 'TargetBelowFastestError';
  }
}

export const DEFAULT_W: Record<RewardMode, number> = { soft: -0.07, hard: -1 };
export const DEFAULT_SKIP_FACTOR = 1.5;
export const DEFAULT_MAX_TRIALS = 20;
/**
 * Aging evolution: in bench:search (10 seeds, 1,000 samples each, scored by the supernet's accuracy
 * predictor) it beat both RL controllers and random search, and on the proxy (3 seeds x 20 trials) it
 * was at least as good as random; see BENCHMARKS.md.
 */
export const DEFAULT_STRATEGY: StrategyName = 'evolution';
export const DEFAULT_TRIAL_TIMEOUT_MS = 60 * 60_000;

/** Seconds per trial on fashion-mnist here: 2,000 images, 1 epoch, 1,000 validation images. */
export const DEFAULT_PROXY: ProxyRecipe = {
  subset: 2000,
  validationSubset: 1000,
  epochs: 1,
  batchSize: 64,
  resolution: null,
  optimizer: 'sgd',
  bnRecalibrationImages: 512,
};

function check(ok: boolean, msg: string): void {
  if (!ok) throw new SearchInputError(msg);
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function proxyFrom(p: Partial<ProxyRecipe> | undefined): ProxyRecipe {
  const r: ProxyRecipe = { ...DEFAULT_PROXY, ...(p ?? {}) };
  for (const k of Object.keys(r) as (keyof ProxyRecipe)[]) if (r[k] === undefined) (r as unknown as Record<string, unknown>)[k] = DEFAULT_PROXY[k];
  check(isInt(r.subset, 1), `proxy subset must be a positive integer, got ${r.subset}`);
  check(isInt(r.validationSubset, 1), `proxy validation subset must be a positive integer, got ${r.validationSubset}`);
  check(isInt(r.epochs, 1, 100), `proxy epochs must be an integer in [1, 100], got ${r.epochs}`);
  check(isInt(r.batchSize, 1, 4096), `proxy batch size must be an integer in [1, 4096], got ${r.batchSize}`);
  check(r.resolution === null || isInt(r.resolution, 4, 1024), `proxy resolution must be an integer in [4, 1024], got ${r.resolution}`);
  check(r.optimizer === 'sgd' || r.optimizer === 'adam', `proxy optimizer must be sgd or adam, got ${JSON.stringify(r.optimizer)}`);
  check(isInt(r.bnRecalibrationImages, 0), `proxy BN recalibration images must be an integer >= 0, got ${r.bnRecalibrationImages}`);
  return r;
}

/** Fill defaults and validate; every problem is a SearchInputError (400) naming the option. */
export function resolveSearchOptions(input: SearchOptionsInput): SearchOptions {
  check(input !== null && typeof input === 'object', 'search options must be an object');
  check(typeof input.dataset === 'string' && input.dataset.trim() !== '', 'dataset is required');
  // kept exactly as given (never trimmed after the caller validated it)
  check(input.dataset.trim() === input.dataset, `dataset ${JSON.stringify(input.dataset.slice(0, 100))} has leading or trailing spaces`);
  check(typeof input.deviceId === 'string' && input.deviceId.trim() !== '', 'deviceId is required');
  check(isNum(input.latencyTargetMs) && input.latencyTargetMs > 0, `latency target must be a positive number of ms, got ${input.latencyTargetMs}`);
  const mode = input.mode ?? 'soft';
  check(mode === 'soft' || mode === 'hard', `mode must be soft or hard, got ${JSON.stringify(mode)}`);
  const w = input.w ?? DEFAULT_W[mode];
  check(isNum(w) && w <= 0 && w >= -10, `w must be a number in [-10, 0], got ${w}`);
  const skipFactor = input.skipFactor ?? DEFAULT_SKIP_FACTOR;
  check(isNum(skipFactor) && skipFactor >= 1, `skip factor must be a number >= 1, got ${skipFactor}`);
  const strategy = input.strategy ?? DEFAULT_STRATEGY;
  check(isStrategyName(strategy), `unknown strategy ${JSON.stringify(strategy)} (known: ${STRATEGY_NAMES.join(', ')})`);
  const evaluator = input.evaluator ?? 'proxy';
  check((EVALUATOR_NAMES as readonly unknown[]).includes(evaluator), `unknown evaluator ${JSON.stringify(evaluator)} (known: ${EVALUATOR_NAMES.join(', ')})`);
  const supernetId = input.supernetId ?? null;
  check(supernetId === null || (typeof supernetId === 'string' && /^sn_[0-9a-f]{16}$/.test(supernetId)), `supernet id must look like sn_<16 hex digits>, got ${JSON.stringify(supernetId)}`);
  check(supernetId === null || evaluator !== 'proxy', 'a supernet id applies to the supernet and predictor evaluators only');
  const maxTrials = input.maxTrials ?? DEFAULT_MAX_TRIALS;
  check(isInt(maxTrials, 1, 100000), `max trials must be an integer in [1, 100000], got ${maxTrials}`);
  const maxProposals = input.maxProposals ?? undefined;
  check(maxProposals === undefined || isInt(maxProposals, 1, 100000 * 50), `max proposals must be a positive integer, got ${maxProposals}`);
  const maxWallMs = input.maxWallMs ?? null;
  check(maxWallMs === null || (isNum(maxWallMs) && maxWallMs > 0), `wall-time budget must be a positive number of ms, got ${maxWallMs}`);
  const maxFailedTrials = input.maxFailedTrials ?? null;
  check(maxFailedTrials === null || isInt(maxFailedTrials, 1), `max failed trials must be a positive integer, got ${maxFailedTrials}`);
  const maxParallelTrials = input.maxParallelTrials ?? 2;
  check(isInt(maxParallelTrials, 1, 64), `max parallel trials must be an integer in [1, 64], got ${maxParallelTrials}`);
  const trialTimeoutMs = input.trialTimeoutMs ?? DEFAULT_TRIAL_TIMEOUT_MS;
  check(isNum(trialTimeoutMs) && trialTimeoutMs >= 1000, `trial timeout must be at least 1000 ms, got ${trialTimeoutMs}`);
  const seed = input.seed ?? 1;
  check(isInt(seed, 0, 2 ** 31 - 1), `seed must be an integer in [0, 2^31), got ${seed}`);
  let earlyStop: EarlyStopShaping | null = null;
  if (input.earlyStop) {
    earlyStop = { epochs: input.earlyStop.epochs ?? 1, macsPenalty: input.earlyStop.macsPenalty ?? 0.005 };
    check(isInt(earlyStop.epochs, 1, 100), `early-stop epochs must be an integer in [1, 100], got ${earlyStop.epochs}`);
    check(isNum(earlyStop.macsPenalty) && earlyStop.macsPenalty >= 0, `early-stop MACs penalty must be a number >= 0, got ${earlyStop.macsPenalty}`);
  }
  const so = input.strategyOptions ?? {};
  check(so !== null && typeof so === 'object', 'strategyOptions must be an object');
  for (const k of ['batchSize', 'population', 'sampleSize'] as const) {
    check(so[k] === undefined || isInt(so[k], 1, 1024), `strategy option ${k} must be an integer in [1, 1024], got ${so[k]}`);
  }
  return {
    dataset: input.dataset, deviceId: input.deviceId.trim(), latencyTargetMs: input.latencyTargetMs, mode, w, skipFactor,
    strategy, evaluator, supernetId, maxTrials, ...(maxProposals !== undefined ? { maxProposals } : {}), maxWallMs, maxFailedTrials, maxParallelTrials, trialTimeoutMs, seed, proxy: proxyFrom(input.proxy), earlyStop,
    strategyOptions: { ...so },
  };
}

/** Stored options (searches.options) back into SearchOptions; a stored row that no longer validates is a store error. */
export function parseStoredOptions(v: unknown): SearchOptions {
  try {
    return resolveSearchOptions(v as SearchOptionsInput);
  } catch (e) {
    throw Object.assign(new Error(`stored search options are invalid: ${(e as Error).message}`), { status: 500 });
  }
}
