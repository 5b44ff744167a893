// NetAdapt (Yang et al. 2018) on our ArchSpec: shrink a trained network until
// its predicted latency on the device is <= the target.
//
// Each step k:
//   delta_k = max(initialFraction * decay^k, minFraction) * latency_k, capped
//             at what is left to the target (latency_k - T);
//   one proposal per channel group (a block, or blocks tied by identity skips,
//   see channels.ts): the smallest cut of that group's output filters whose
//   predicted latency drops by at least delta_k;
//   each proposal inherits the parent's weights (largest-L2 filters, prune.ts)
//   and is fine-tuned briefly; the most accurate one becomes the next network.
// Until predicted latency <= T; then one longer fine-tune. When no group can
// reach delta any more the largest available reduction is taken; when no cut
// lowers latency at all the search stops and says how far it is from T.
// Channel counts may become odd (the grammar accepts any count >= 1).
// Under a time budget (outOfTime), steps past the deadline take the largest
// predicted reduction without fine-tuning and the long fine-tune is skipped;
// cancel is checked per proposal (and per batch inside each fine-tune).

import type { CancelSignal } from '../app/events.ts';
import { expandNetwork } from '../space/network.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { type ChannelVar, channelGroups, residualSignature, varChannels, withGroupChannels } from './channels.ts';
import { disposeWeights, inheritWeights, type NamedWeights } from './prune.ts';

export interface NetAdaptSchedule {
  /** delta_0 as a fraction of the current predicted latency (default 0.02) */
  initialFraction: number;
  /** per-step decay of that fraction (default 0.96) */
  decay: number;
  /** floor of the fraction (default 0.005) so each step makes progress */
  minFraction: number;
}

export const DEFAULT_SCHEDULE: NetAdaptSchedule = { initialFraction: 0.02, decay: 0.96, minFraction: 0.005 };

export type FineTune = (spec: ArchSpec, weights: NamedWeights, phase: 'short' | 'long') => Promise<{ accuracy: number; weights: NamedWeights }>;

export interface NetAdaptOptions {
  spec: ArchSpec;
  input: InputShape;
  numClasses: number;
  /** trained weights of `spec` (not disposed by NetAdapt) */
  weights: NamedWeights;
  targetMs: number;
  predictLatencyMs: (spec: ArchSpec) => number;
  fineTune: FineTune;
  schedule?: Partial<NetAdaptSchedule>;
  /** bound on the number of steps (default 60) */
  maxSteps?: number;
  /** skip the final long fine-tune (hard-mode re-shrinks run it once at the end) */
  skipLongFineTune?: boolean;
  cancel?: CancelSignal;
  /**
   * A time budget: while it answers true, a step takes the proposal with the
   * lowest predicted latency without fine-tuning any, and the final long
   * fine-tune is skipped (the final training that follows tunes the result).
   */
  outOfTime?: () => boolean;
  onStep?: (s: NetAdaptStep) => void;
  /** after each proposal's short fine-tune: `done` of `total` proposals of step `step` */
  onProposal?: (step: number, done: number, total: number) => void;
}

export interface NetAdaptProposal {
  group: ChannelVar[];
  fromChannels: number;
  toChannels: number;
  latencyMs: number;
  accuracy: number;
}

export interface NetAdaptStep {
  step: number;
  /** false: chosen by predicted latency alone, no fine-tune (outOfTime) */
  fineTuned: boolean;
  deltaMs: number;
  latencyBeforeMs: number;
  latencyAfterMs: number;
  proposals: NetAdaptProposal[];
  chosen: NetAdaptProposal;
  spec: ArchSpec;
}

export interface NetAdaptResult {
  spec: ArchSpec;
  /** weights of `spec` (owned by the caller) */
  weights: NamedWeights;
  latencyMs: number;
  /** accuracy after the last fine-tune (NaN when no step ran and no long fine-tune) */
  accuracy: number;
  steps: NetAdaptStep[];
  reachedTarget: boolean;
  stoppedBecause: 'target' | 'no-reduction' | 'max-steps' | 'cancelled';
  /** predicted latency minus target when the target was not reached (else 0) */
  missByMs: number;
  /** the final long fine-tune was skipped for the time budget (outOfTime) */
  longFineTuneSkipped: boolean;
}

interface Candidate { group: ChannelVar[]; from: number; to: number; spec: ArchSpec; latencyMs: number }

/** Smallest cut of each group reaching `deltaMs` (or, with none, the best reduction found). */
export function proposeCuts(spec: ArchSpec, input: InputShape, numClasses: number, latencyMs: number, deltaMs: number, predict: (s: ArchSpec) => number): { reaching: Candidate[]; best: Candidate | null } {
  const signature = residualSignature(expandNetwork(spec, input, numClasses));
  const reaching: Candidate[] = [];
  let best: Candidate | null = null;
  for (const group of channelGroups(spec)) {
    const from = varChannels(spec, group[0]!);
    for (let to = from - 1; to >= 1; to--) {
      const child = withGroupChannels(spec, group, to);
      if (residualSignature(expandNetwork(child, input, numClasses)) !== signature) continue;
      const l = predict(child);
      const c = { group, from, to, spec: child, latencyMs: l };
      if (l < latencyMs && (best === null || l < best.latencyMs)) best = c;
      if (latencyMs - l >= deltaMs) {
        reaching.push(c);
        break;
      }
    }
  }
  return { reaching, best };
}

export async function netAdapt(o: NetAdaptOptions): Promise<NetAdaptResult> {
  const sch = { ...DEFAULT_SCHEDULE, ...o.schedule };
  if (!(o.targetMs > 0)) throw new RangeError(`NetAdapt target must be > 0 ms, got ${o.targetMs}`);
  const maxSteps = o.maxSteps ?? 60;
  let spec = o.spec;
  let weights = o.weights;
  let owned = false; // whether `weights` is ours to dispose
  let latencyMs = o.predictLatencyMs(spec);
  let accuracy = NaN;
  const steps: NetAdaptStep[] = [];
  let stoppedBecause: NetAdaptResult['stoppedBecause'] = 'target';
  for (let k = 0; latencyMs > o.targetMs; k++) {
    if (k >= maxSteps) { stoppedBecause = 'max-steps'; break; }
    if (o.cancel?.cancelled) { stoppedBecause = 'cancelled'; break; }
    const fraction = Math.max(sch.initialFraction * sch.decay ** k, sch.minFraction);
    const deltaMs = Math.min(fraction * latencyMs, latencyMs - o.targetMs);
    const { reaching, best } = proposeCuts(spec, o.input, o.numClasses, latencyMs, deltaMs, o.predictLatencyMs);
    const candidates = reaching.length > 0 ? reaching : best ? [best] : [];
    if (candidates.length === 0) { stoppedBecause = 'no-reduction'; break; }
    const proposals: NetAdaptProposal[] = [];
    let chosen: { c: Candidate; accuracy: number; weights: NamedWeights } | null = null;
    const fineTuned = !(o.outOfTime?.() ?? false);
    if (!fineTuned) {
      // out of time: the largest predicted reduction, weights inherited as they are
      const c = candidates.reduce((a, b) => (b.latencyMs < a.latencyMs ? b : a));
      chosen = { c, accuracy: NaN, weights: inheritWeights(spec, weights, c.spec, o.input, o.numClasses).weights };
      proposals.push({ group: c.group, fromChannels: c.from, toChannels: c.to, latencyMs: c.latencyMs, accuracy: NaN });
    }
    for (const c of fineTuned ? candidates : []) {
      if (o.cancel?.cancelled) break;
      const inherited = inheritWeights(spec, weights, c.spec, o.input, o.numClasses).weights;
      let tuned: { accuracy: number; weights: NamedWeights };
      try {
        tuned = await o.fineTune(c.spec, inherited, 'short');
      } catch (e) {
        // cancelled (or failed) inside a fine-tune: free what this step holds
        disposeWeights(inherited);
        if (chosen) disposeWeights(chosen.weights);
        if (owned) disposeWeights(weights);
        throw e;
      }
      if (tuned.weights !== inherited) disposeWeights(inherited);
      proposals.push({ group: c.group, fromChannels: c.from, toChannels: c.to, latencyMs: c.latencyMs, accuracy: tuned.accuracy });
      o.onProposal?.(k, proposals.length, candidates.length);
      const better = chosen === null || tuned.accuracy > chosen.accuracy
        || (tuned.accuracy === chosen.accuracy && c.latencyMs < chosen.c.latencyMs);
      if (better) {
        if (chosen) disposeWeights(chosen.weights);
        chosen = { c, accuracy: tuned.accuracy, weights: tuned.weights };
      } else {
        disposeWeights(tuned.weights);
      }
    }
    if (chosen === null) { stoppedBecause = 'cancelled'; break; }
    if (owned) disposeWeights(weights);
    weights = chosen.weights;
    owned = true;
    const step: NetAdaptStep = {
      step: k, fineTuned, deltaMs, latencyBeforeMs: latencyMs, latencyAfterMs: chosen.c.latencyMs, proposals,
      chosen: proposals.find((p) => p.group === chosen!.c.group)!, spec: chosen.c.spec,
    };
    spec = chosen.c.spec;
    latencyMs = chosen.c.latencyMs;
    accuracy = chosen.accuracy;
    steps.push(step);
    o.onStep?.(step);
  }
  const longFineTuneSkipped = !o.skipLongFineTune && stoppedBecause !== 'cancelled' && !(o.cancel?.cancelled) && (o.outOfTime?.() ?? false);
  if (!o.skipLongFineTune && !longFineTuneSkipped && stoppedBecause !== 'cancelled' && !(o.cancel?.cancelled)) {
    let tuned: { accuracy: number; weights: NamedWeights };
    try {
      tuned = await o.fineTune(spec, weights, 'long');
    } catch (e) {
      if (owned) disposeWeights(weights);
      throw e;
    }
    if (tuned.weights !== weights && owned) disposeWeights(weights);
    weights = tuned.weights;
    owned = true;
    accuracy = tuned.accuracy;
  }
  if (!owned) weights = cloneWeights(weights);
  const reachedTarget = latencyMs <= o.targetMs;
  return {
    spec, weights, latencyMs, accuracy, steps, reachedTarget,
    stoppedBecause: reachedTarget ? 'target' : stoppedBecause === 'target' ? 'no-reduction' : stoppedBecause,
    missByMs: reachedTarget ? 0 : latencyMs - o.targetMs, longFineTuneSkipped,
  };
}

function cloneWeights(w: NamedWeights): NamedWeights {
  return new Map([...w].map(([k, ts]) => [k, ts.map((t) => t.clone())]));
}
