// Stage 1 of `nas run`: the base architecture, from a search (created here
// for the CLI, or by the service at submission) or given (`--arch`).
// Output checkpoint 'search': the spec and where it came from. Under a
// budget the search runs at most its planned minutes (its wall-time stop);
// a progress event follows every finished trial.

import { getSearchReport } from '../../search/report.ts';
import { archId, fromWire } from '../../space/archspec.ts';
import { resolveArch } from '../../space/resolve.ts';
import type { ArchSpec } from '../../space/types.ts';
import type { ModelCheckpoint } from '../../store/models.ts';
import { updateModel } from '../../store/models.ts';
import { CancelledError } from '../events.ts';
import { createSearch, runStoredSearch } from '../search.ts';
import type { RunSession } from './session.ts';
import { rescoreWithSupernet } from './refine-inherit.ts';

export async function searchStage(s: RunSession): Promise<ModelCheckpoint> {
  const done = s.last('search');
  if (done) return done;
  const { o } = s;
  s.enter('search');
  let spec: ArchSpec;
  let detail: Record<string, unknown>;
  if (o.baseArch !== null) {
    spec = resolveArch(o.baseArch, { input: s.dsInput });
    detail = { source: 'given', baseArch: o.baseArch };
  } else {
    if (s.searchId === null) {
      const created = await createSearch(s.db, {
        ...o.search, dataset: o.dataset, deviceId: o.deviceId, latencyTargetMs: o.latencyTargetMs, mode: o.search.mode ?? o.mode,
        seed: o.search.seed ?? o.seed, maxWallMs: o.budgetMinutes === null ? o.search.maxWallMs : o.budgetMinutes * 60_000,
      }, { deps: s.ctx.deps?.search });
      s.searchId = created.id;
      updateModel(s.db, s.modelId, { searchId: s.searchId });
    }
    const searchId = s.searchId;
    const report = getSearchReport(s.db, searchId);
    const sr = report.search.status === 'succeeded'
      ? { status: 'succeeded' as const, error: null, report }
      : await runStoredSearch(s.db, searchId, {
        onEvent: trialProgress(s, report.search.options.maxTrials, report.counts.succeeded + report.counts.failed),
        cancel: s.ctx.cancel, deps: { predictor: s.predictor, ...s.ctx.deps?.search, db: s.db },
        // trials in flight at the search's wall-time stop finish: it stops starting them a round of trials before its share ends
        ...(s.budget?.enforced ? { maxWallMs: Math.max(1000, (s.budget.state.minutes.search - (s.budget.state.work.searchRoundMinutes ?? 0)) * 60_000) } : {}),
      }, report.search.status !== 'queued');
    if (sr.status === 'cancelled') throw new CancelledError('search cancelled');
    const best = sr.report.best;
    if (sr.status !== 'succeeded' || !best) throw new Error(`search ${searchId} found no trained architecture: ${sr.error ?? 'no best trial'}`);
    const so = sr.report.search.options;
    if (so.evaluator === 'predictor') {
      // the predictor ranked them; the supernet scores the best few before one is chosen
      const r = await rescoreWithSupernet(s, sr.report.trials, so);
      spec = r.spec;
      detail = { source: 'search', searchId, trialId: r.best.trialId, evaluator: so.evaluator, supernetId: so.supernetId, predictedAccuracy: r.best.predicted, supernetAccuracy: r.best.supernet, rescored: r.rescored, predictedLatencyMs: s.predict(spec, s.dsInput) };
    } else {
      spec = fromWire(best.spec);
      detail = { source: 'search', searchId, trialId: best.id, evaluator: so.evaluator, ...(so.supernetId ? { supernetId: so.supernetId } : {}), proxyAccuracy: best.accuracy, predictedLatencyMs: best.latencyMs };
    }
  }
  const ck = s.checkpoint({ stage: 'search', spec, input: s.dsInput, weightsArtifactId: null, detail });
  s.log(`base architecture ${archId(spec)} (${String(detail.source)}), predicted ${s.predict(spec, s.dsInput).toFixed(4)} ms for a ${s.Tms} ms target`);
  return ck;
}

/** The search's events, passed on, plus a progress event per finished trial (trials that train, of the budget). */
function trialProgress(s: RunSession, maxTrials: number, trainedBefore: number) {
  const progress = s.progress();
  const t0 = s.clock();
  let trained = 0;
  return (e: Parameters<RunSession['emit']>[0]) => {
    s.emit(e);
    if (e.type !== 'trial-finished') return;
    if (e.status === 'succeeded' || e.status === 'failed') trained++;
    const total = trainedBefore + trained;
    const perTrialS = trained > 0 ? (s.clock() - t0) / 1000 / trained : NaN;
    const leftS = s.budget?.enforced ? s.budget.remainingMs('search') / 1000 : Infinity;
    progress.report({
      task: 'search trials', done: Math.min(total, maxTrials), total: maxTrials, unit: 'trial',
      etaS: Math.min(perTrialS * Math.max(0, maxTrials - total), leftS),
      message: `trial ${e.trialId} ${e.status}${e.accuracy === null ? '' : `, accuracy ${(100 * e.accuracy).toFixed(1)}%`} (${e.trialsDone} proposals, ${e.cacheHits} cache hits)`,
    });
  };
}
