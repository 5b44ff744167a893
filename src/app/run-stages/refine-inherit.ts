// Refinement of a supernet-searched base: no proxy training, no scaling (a
// scaled network is outside the supernet's space): the base's weights are
// extracted from the supernet that scored it, so the final training
// fine-tunes them instead of starting from a random initialisation ("train
// once, serve every target"). Output: a 'refine' checkpoint with those
// weights.
//
// With the predictor evaluator the search's scores are the predictor's; the
// best few candidates are re-scored by the supernet itself first
// (rescoreWithSupernet) and the best of those becomes the base.

import { archId, fromWire } from '../../space/archspec.ts';
import type { ArchSpec } from '../../space/types.ts';
import { readArtifact } from '../../store/artifacts.ts';
import type { ModelCheckpoint } from '../../store/models.ts';
import { getSupernet, type SupernetRecord } from '../../store/supernets.ts';
import type { TrialRecord } from '../../store/trials.ts';
import { trialReward } from '../../search/reward.ts';
import type { SearchOptions } from '../../search/options.ts';
import { betterTrial } from '../../search/runner.ts';
import { SupernetEvaluator } from '../../supernet/evaluator.ts';
import type { RunSession } from './session.ts';

/** Candidates the predictor ranked best that the supernet re-scores. */
export const RESCORE_TOP = 8;

async function evaluatorOf(s: RunSession, sn: SupernetRecord): Promise<SupernetEvaluator> {
  return new SupernetEvaluator(readArtifact(s.db, sn.checkpointArtifactId!), s.dataset);
}

export async function inheritFromSupernet(s: RunSession, base: ModelCheckpoint, supernetId: string, baseMs: number): Promise<ModelCheckpoint> {
  const sn = getSupernet(s.db, supernetId);
  s.enter('refine', `inherited: the weights of ${archId(base.spec)} come from supernet ${sn.id}; the final training fine-tunes them`);
  const ev = await evaluatorOf(s, sn);
  try {
    const score = ev.evaluate(base.spec);
    const weights = s.hold(ev.extract(base.spec));
    const ck = s.checkpoint({
      stage: 'refine', spec: base.spec, input: base.input, weightsArtifactId: s.saveWeights(weights),
      detail: { method: 'inherit', supernetId: sn.id, predictedLatencyMs: baseMs, supernetAccuracy: score.accuracy },
    });
    s.progress().report({ task: 'refine', done: 1, total: 1, unit: 'network', message: `weights inherited from supernet ${sn.id} (${(100 * score.accuracy).toFixed(1)}% before fine-tuning)` });
    return ck;
  } finally {
    ev.dispose();
  }
}

export interface Rescored { trialId: string; archId: string; predicted: number; supernet: number; reward: number }

/**
 * The best `RESCORE_TOP` trials of a predictor-scored search (meeting the
 * target first, then by reward) scored again by the supernet; the new best
 * by reward on the supernet's accuracy.
 */
export async function rescoreWithSupernet(s: RunSession, trials: TrialRecord[], o: SearchOptions): Promise<{ spec: ArchSpec; best: Rescored; rescored: Rescored[] }> {
  const sn = getSupernet(s.db, o.supernetId!);
  const seen = new Set<string>();
  const ranked = trials.filter((t) => t.status === 'succeeded' && t.reward !== null && !seen.has(t.archId) && seen.add(t.archId))
    .sort((a, b) => (betterTrial({ latencyMs: a.latencyMs, reward: a.reward! }, { latencyMs: b.latencyMs, reward: b.reward! }, o.latencyTargetMs) ? -1 : 1))
    .slice(0, RESCORE_TOP);
  if (ranked.length === 0) throw new Error('the search has no scored candidate to re-score');
  const ev = await evaluatorOf(s, sn);
  const progress = s.progress();
  const out: Rescored[] = [];
  try {
    for (const [i, t] of ranked.entries()) {
      s.checkCancel();
      const acc = ev.evaluate(fromWire(t.spec)).accuracy;
      out.push({ trialId: t.id, archId: t.archId, predicted: t.accuracy!, supernet: acc, reward: trialReward(acc, t.latencyMs, t.macs, o) });
      progress.report({ task: `re-scoring the predictor's best with supernet ${sn.id}`, done: i + 1, total: ranked.length, unit: 'network', message: `${t.archId}: predicted ${(100 * t.accuracy!).toFixed(1)}%, supernet ${(100 * acc).toFixed(1)}%` });
    }
  } finally {
    ev.dispose();
  }
  const latency = new Map(ranked.map((t) => [t.id, t.latencyMs]));
  const best = out.reduce((a, b) => (betterTrial({ latencyMs: latency.get(b.trialId)!, reward: b.reward }, { latencyMs: latency.get(a.trialId)!, reward: a.reward }, o.latencyTargetMs) ? b : a));
  return { spec: fromWire(ranked.find((t) => t.id === best.trialId)!.spec), best, rescored: out };
}
