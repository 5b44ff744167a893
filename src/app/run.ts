// The `nas run` use case: search (or a given base architecture) -> scale up
// (compound scaling, when the best is well under the target) or NetAdapt down
// (over the target) to T -> final training -> latency measured on the
// device's runtime -> export (.tflite float32, int8, TF.js), verified ->
// model card. Called alike by the CLI, the HTTP layer and job workers; no
// terminal or HTTP knowledge here. Each stage is one function
// (src/app/run-stages/*) that reads its input checkpoint, writes its output
// checkpoint to the store (models / model_checkpoints) and only then emits
// its events, so a restarted run (resumeRun) continues at the stage it was
// in; runStoredModel below only sequences them.
//
// Hard mode: the delivered model's MEASURED latency never exceeds T. When
// measurement disagrees with the prediction, NetAdapt shrinks again to the
// target scaled by predicted/measured, a bounded number of times; a model
// still over T is not delivered (the run fails and says by how much).
//
// Time: every run has a plan (src/app/run-plan.ts, stored with its row):
// minutes per stage. With a budget (`budgetMinutes`, HTTP
// `budget.maxWallTimeS`) the plan holds the whole job to it, cutting work in
// a stated order (src/app/run-budget.ts); without one it only estimates.

import type { Db } from '../store/db.ts';
import { openDb } from '../store/db.ts';
import { dataPaths } from '../config/paths.ts';
import { loadPredictor } from '../latency/index.ts';
import { resolveArch } from '../space/resolve.ts';
import { diskFullMessage } from '../store/artifacts.ts';
import { getModel, insertModel, type ModelRecord, recentMeasuredThroughput } from '../store/models.ts';
import { defaultImagesPerSec, newStoredPlan, planInputFor, type StoredPlan } from './run-budget.ts';
import { describePlan } from './run-plan.ts';
import { resolveRunOptions, RunInputError, type RunOptions, type RunOptionsInput } from './run-options.ts';
import { exportStage } from './run-stages/export.ts';
import { finalTrainingStage } from './run-stages/final-training.ts';
import { measureStage } from './run-stages/measure.ts';
import { refineStage } from './run-stages/refine.ts';
import { reshrink } from './run-stages/refine-netadapt.ts';
import { searchStage } from './run-stages/search.ts';
import { datasetOf, isCancel, type RunContext, type RunDeps, type RunResult, RunSession } from './run-stages/session.ts';

export { resolveRunOptions, RunInputError, type RunOptions, type RunOptionsInput } from './run-options.ts';
export type { RunContext, RunDeps, RunResult } from './run-stages/session.ts';

/**
 * The run's time plan: its options and dataset, at the throughput the latest
 * run on this dataset measured (else a default scaled by the input size).
 */
export async function planFor(db: Db, o: RunOptions, deps?: RunDeps): Promise<StoredPlan> {
  const { dataset, input } = await datasetOf(o, deps);
  const measured = recentMeasuredThroughput(db, o.dataset);
  const throughput = measured === null ? { imagesPerSec: defaultImagesPerSec(input), source: 'default' as const } : { imagesPerSec: measured, source: 'measured' as const };
  const sp = dataset.manifest.splits;
  return newStoredPlan(planInputFor(o, { train: sp.train.count, validation: sp.validation.count, test: sp.test.count }, throughput));
}

/** Store a 'queued' model row with its plan for validated options (a job runner runs it later with runStoredModel). */
export async function insertRunModel(db: Db, options: RunOptions, o: { owner?: string | null; searchId?: string | null; deps?: RunDeps } = {}): Promise<ModelRecord> {
  const plan = await planFor(db, options, o.deps);
  return insertModel(db, { options, stage: 'queued', status: 'queued', owner: o.owner ?? null, searchId: o.searchId ?? null, plan });
}

/**
 * Validate the options (recipes, dataset, base architecture, device) and store
 * a 'queued' model row; a job runner runs it later with runStoredModel.
 */
export async function createRun(db: Db, input: RunOptionsInput, o: { owner?: string | null; deps?: RunDeps } = {}): Promise<ModelRecord> {
  const options = resolveRunOptions(input);
  // a bad dataset or base architecture is a 400 before any row exists
  const { input: dsInput } = await datasetOf(options, o.deps);
  if (options.baseArch !== null) resolveArch(options.baseArch, { input: dsInput });
  if (!o.deps?.predictor) loadPredictor(options.deviceId); // unknown device: 400 now
  return insertRunModel(db, options, o);
}

/** Create a model row and run it to its end. */
export async function runRun(input: RunOptionsInput, ctx: RunContext & { owner?: string | null } = {}): Promise<RunResult> {
  return withDb(ctx.deps, async (db) => {
    const m = await createRun(db, input, { owner: ctx.owner, deps: ctx.deps });
    return runStoredModel(db, m.id, ctx);
  });
}

/** Continue a run (crashed while running, cancelled or failed) at the stage it was in. */
export async function resumeRun(modelId: string, ctx: RunContext = {}): Promise<RunResult> {
  return withDb(ctx.deps, (db) => runStoredModel(db, modelId, ctx));
}

function withDb<T>(deps: RunDeps | undefined, f: (db: Db) => Promise<T>): Promise<T> {
  if (deps?.db) return f(deps.db);
  const db = openDb(dataPaths().store);
  return f(db).finally(() => db.close());
}

/** search -> refine -> (final training -> measure -> hard mode: re-shrink and again) -> export. */
export async function runStoredModel(db: Db, modelId: string, ctx: RunContext): Promise<RunResult> {
  if (getModel(db, modelId).status === 'succeeded') throw new RunInputError(`model ${modelId} is already finished; nothing to resume`);
  const s = await RunSession.open(db, modelId, ctx);
  if (s.budget) s.log(describePlan(s.budget.state));
  try {
    const base = await searchStage(s);
    s.checkCancel();
    const r = await refineStage(s, base);
    if (r.failed) return r.failed;
    let refined = r.ck;
    s.checkCancel();
    for (let attempt = 0; ; attempt++) {
      const trained = await finalTrainingStage(s, refined);
      s.checkCancel();
      const m = await measureStage(s, trained);
      if (s.o.mode === 'hard' && m.overMs > 0) {
        if (attempt >= s.o.hardRetries) {
          const value = m.measuredMs ?? m.predictedMs;
          const msg = `hard mode: after ${attempt} re-shrink(s) the model is ${m.measuredMs === null ? 'predicted' : 'measured'} at ${value.toFixed(4)} ms, ${m.overMs.toFixed(4)} ms over the ${s.Tms} ms target; no model delivered`;
          return s.fail(msg, { spec: m.spec, input: m.input, predictedLatencyMs: m.predictedMs, measuredLatencyMs: m.measuredMs, missByMs: m.overMs });
        }
        refined = await reshrink(s, trained, m, attempt);
        continue;
      }
      s.checkCancel();
      return await exportStage(s, { base, refined, trained, measured: m });
    }
  } catch (e) {
    if (isCancel(e)) return s.cancelled();
    s.fail(diskFullMessage(e) ?? (e as Error)?.message ?? String(e));
    throw e;
  } finally {
    s.dispose();
  }
}
