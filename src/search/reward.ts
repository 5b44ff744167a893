// The multi-objective reward of MnasNet (Tan et al. 2019, eq. 2):
//   reward = ACC x (LAT / T)^w,  w = alpha if LAT <= T, beta otherwise.
// soft: alpha = beta = w (paper: -0.07; a model 2x slower than T pays ~5%).
// hard: alpha = 0, beta = w (default -1): ACC itself up to T, then ACC x T/LAT.
// In hard mode an architecture predicted far over the target (LAT >
// skipFactor x T) is not trained: its trial is 'skipped' and scored with
// accuracy taken as 0, i.e. reward 0, the floor of every reward, so the
// controller learns to avoid it without spending training budget.

import type { EarlyStopShaping, RewardMode, SearchOptions } from './options.ts';

export interface RewardSpec {
  mode: RewardMode;
  w: number;
  latencyTargetMs: number;
}

/** The exponent pair (alpha below or at T, beta above). */
export function exponents(mode: RewardMode, w: number): { alpha: number; beta: number } {
  return mode === 'soft' ? { alpha: w, beta: w } : { alpha: 0, beta: w };
}

export function reward(accuracy: number, latencyMs: number, spec: RewardSpec): number {
  if (!(accuracy >= 0 && accuracy <= 1)) throw new RangeError(`accuracy must be in [0, 1], got ${accuracy}`);
  if (!(latencyMs > 0 && Number.isFinite(latencyMs))) throw new RangeError(`latency must be a positive number of ms, got ${latencyMs}`);
  if (!(spec.latencyTargetMs > 0)) throw new RangeError(`latency target must be positive, got ${spec.latencyTargetMs}`);
  const { alpha, beta } = exponents(spec.mode, spec.w);
  const ratio = latencyMs / spec.latencyTargetMs;
  return accuracy * ratio ** (latencyMs <= spec.latencyTargetMs ? alpha : beta);
}

/** The reward of an architecture scored without training (hard mode, far over target). */
export const SKIPPED_REWARD = 0;

/** Why a trial would not be trained, or null when it should be. */
export function skipReason(latencyMs: number, o: Pick<SearchOptions, 'mode' | 'skipFactor' | 'latencyTargetMs'>): string | null {
  if (o.mode !== 'hard') return null;
  const limit = o.skipFactor * o.latencyTargetMs;
  if (latencyMs <= limit) return null;
  return `predicted ${latencyMs.toFixed(3)} ms, over ${o.skipFactor} x target (${limit.toFixed(3)} ms) in hard mode: not trained, reward ${SKIPPED_REWARD}`;
}

/**
 * BlockQNN early-stop shaping: the accuracy term after a short training is
 * ACC_early - mu x ln(MACs) (clamped to [0, 1]); long networks learn slower
 * early, cheap ones are preferred among equals.
 */
export function shapedAccuracy(accuracyEarly: number, macs: number, s: EarlyStopShaping): number {
  const v = accuracyEarly - s.macsPenalty * Math.log(Math.max(1, macs));
  return Math.min(1, Math.max(0, v));
}

/** The reward of a trained trial under the search's options (shaping included when on). */
export function trialReward(accuracy: number, latencyMs: number, macs: number, o: SearchOptions): number {
  const acc = o.earlyStop ? shapedAccuracy(accuracy, macs, o.earlyStop) : accuracy;
  return reward(acc, latencyMs, o);
}
