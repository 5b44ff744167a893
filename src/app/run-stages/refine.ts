// Stage 2 of `nas run`: the base to the latency target T. NetAdapt down when
// it is predicted over T; a supernet-scored base within T keeps its
// architecture and inherits the supernet's weights (refine-inherit.ts);
// otherwise compound scaling up when well under (below
// (1 - scaleUpSlack) x T), else kept. Input: the 'search' checkpoint; output:
// a 'refine' checkpoint (spec, input, weights when trained, what was done and
// the budget's cuts). Hard mode fails here when NetAdapt cannot reach T.

import type { ModelCheckpoint } from '../../store/models.ts';
import { netAdaptDown } from './refine-netadapt.ts';
import { scaleUp } from './refine-scaling.ts';
import { inheritFromSupernet } from './refine-inherit.ts';
import type { RunResult, RunSession } from './session.ts';

export type RefineOutcome = { ck: ModelCheckpoint; failed?: undefined } | { failed: RunResult; ck?: undefined };

export async function refineStage(s: RunSession, base: ModelCheckpoint): Promise<RefineOutcome> {
  const done = s.last('refine');
  if (done) return { ck: done };
  const baseMs = s.predict(base.spec, base.input);
  if (baseMs > s.T) return netAdaptDown(s, base, baseMs);
  // a supernet-scored base keeps its architecture (its space's) and inherits its weights
  const supernetId = (base.detail as { supernetId?: unknown }).supernetId;
  if (typeof supernetId === 'string') return { ck: await inheritFromSupernet(s, base, supernetId, baseMs) };
  const below = (1 - s.o.scaleUpSlack) * s.T;
  if (baseMs < below) return { ck: await scaleUp(s, base, baseMs, below) };
  s.enter('refine', `kept: ${baseMs.toFixed(4)} ms predicted is within ${(100 * s.o.scaleUpSlack).toFixed(0)}% under ${s.Tms} ms`);
  const ck = s.checkpoint({ stage: 'refine', spec: base.spec, input: base.input, weightsArtifactId: null, detail: { method: 'none', predictedLatencyMs: baseMs } });
  s.progress().report({ task: 'refine', done: 1, total: 1, unit: 'network', message: 'kept as searched (within the target)' });
  return { ck };
}
