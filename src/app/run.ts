// The `nas run` use case: search (or a given base architecture) -> scale up
// (compound scaling, when the best is well under the target) or NetAdapt down
// (over the target) to T -> final training -> export (.tflite float32, int8,
// TF.js), verified -> latency measured on the device's runtime -> model card.
// Called alike by the CLI, the HTTP layer and job workers; no terminal or
// HTTP knowledge here. Every stage's result is checkpointed in the store
// (models / model_checkpoints, migration 004) before its event is emitted,
// so a restarted run (resumeRun) continues at the stage it was in.
//
// Hard mode: the delivered model's MEASURED latency never exceeds T. When
// measurement disagrees with the prediction, NetAdapt shrinks again to the
// target scaled by predicted/measured, a bounded number of times; a model
// still over T is not delivered (the run fails and says by how much).

import { join } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import { type LoadDatasetOptions, loadDataset } from '../data/registry.ts';
import type { Dataset } from '../data/types.ts';
import { type InputResize, type ModelCard, type RunCardInfo, writeModelCard } from '../export/model-card.ts';
import { type CalibratedPredictor, loadCalibratedPredictor, loadPredictor } from '../latency/index.ts';
import { deliver, readFileBytes } from '../refine/deliver.ts';
import { trainerFineTune, trainWeights } from '../refine/finetune.ts';
import { useTrainingBackend } from '../train/backend.ts';
import { measureOnDevice, type DeviceMeasurement } from '../refine/measure.ts';
import { netAdapt } from '../refine/netadapt.ts';
import { disposeWeights, type NamedWeights } from '../refine/prune.ts';
import { fillTarget, gridSearch } from '../refine/scaling.ts';
import { decodeWeights, encodeWeights } from '../refine/weights-blob.ts';
import { archId, fromWire } from '../space/archspec.ts';
import { resolveArch } from '../space/resolve.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { defaultTrainConfig, type TrainConfig } from '../train/config.ts';
import { type Db, openDb } from '../store/db.ts';
import { diskFullMessage, putArtifact, readArtifact } from '../store/artifacts.ts';
import {
  addCheckpoint, addModelFile, finishModel, getModel, insertModel, listCheckpoints, type ModelCheckpoint, type ModelRecord, updateModel,
} from '../store/models.ts';
import { getSearchReport } from '../search/report.ts';
import type { RunStage } from './events.ts';
import { type CancelSignal, type EventSink, type NasEvent, now } from './events.ts';
import { createSearch, runStoredSearch, type SearchDeps } from './search.ts';
import { resolveRunOptions, RunInputError, type RunOptions, type RunOptionsInput } from './run-options.ts';

export { resolveRunOptions, RunInputError, type RunOptions, type RunOptionsInput } from './run-options.ts';

export interface RunDeps {
  db?: Db;
  datasetOptions?: LoadDatasetOptions;
  search?: SearchDeps;
  /** measure latency on the device's runtime (default measureOnDevice in the predictor's unit; tests may substitute) */
  measure?: (deviceId: string, spec: ArchSpec, input: InputShape, numClasses: number) => Promise<DeviceMeasurement>;
  /** the latency predictor (default: loadCalibratedPredictor, host-calibrated for local devices) */
  predictor?: CalibratedPredictor;
  /** where exports are written (default <data dir>/out/models) */
  outDir?: string;
}

export interface RunContext extends EventSink {
  cancel?: CancelSignal;
  deps?: RunDeps;
}

export interface RunResult {
  modelId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  /** the stage the run ended in */
  stage: RunStage;
  searchId: string | null;
  error: string | null;
  spec: ArchSpec | null;
  input: InputShape | null;
  predictedLatencyMs: number | null;
  measuredLatencyMs: number | null;
  metTarget: boolean;
  /** how far the closest model found is over the target (0 when met) */
  missByMs: number;
  card: ModelCard | null;
  files: { format: string; name: string; path: string; sha256: string }[];
}

/**
 * Validate the options (recipes, dataset, base architecture, device) and store
 * a 'queued' model row; a job runner runs it later with runStoredModel.
 */
export async function createRun(db: Db, input: RunOptionsInput, o: { owner?: string | null; deps?: RunDeps } = {}): Promise<ModelRecord> {
  const options = resolveRunOptions(input);
  await baseArchOf(options, o.deps ?? {}); // a bad dataset or base architecture is a 400 before any row exists
  if (!o.deps?.predictor) loadPredictor(options.deviceId); // unknown device: 400 now
  return insertModel(db, { options, stage: 'queued', status: 'queued', owner: o.owner ?? null });
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

async function baseArchOf(o: RunOptions, deps?: RunDeps): Promise<{ spec: ArchSpec; input: InputShape; dataset: Dataset }> {
  const dataset = await loadDataset(o.dataset, deps?.datasetOptions ?? { cacheDir: dataPaths().datasets });
  const m = dataset.manifest;
  const input = { height: m.height, width: m.width, channels: m.channels };
  return { spec: o.baseArch === null ? (null as unknown as ArchSpec) : resolveArch(o.baseArch, { input }), input, dataset };
}

class Cancelled extends Error {}

export async function runStoredModel(db: Db, modelId: string, ctx: RunContext): Promise<RunResult> {
  const row = getModel(db, modelId);
  if (row.status === 'succeeded') throw new RunInputError(`model ${modelId} is already finished; nothing to resume`);
  const o = resolveRunOptions(row.options as RunOptionsInput);
  // refinement and final training run in this process: on the fastest backend (tfjs-node(-gpu), else WASM + native kernels)
  await useTrainingBackend();
  const { dataset, input: dsInput } = await baseArchOf({ ...o, baseArch: null }, ctx.deps);
  const K = dataset.manifest.classes.length;
  const T = o.latencyTargetMs;
  const Tms = Number(T.toPrecision(6)); // for messages: a measured target prints as 0.815586, not 0.8155854999998837
  const predictor = ctx.deps?.predictor ?? await loadCalibratedPredictor(o.deviceId);
  const predict = (s: ArchSpec, i: InputShape) => predictor.predict(s, i, K).latencyMs;
  // measured in the unit the predictor speaks: host wall-clock ms under a host calibration, else the table's unit
  const unit = predictor.calibration.calibration ? 'host-ms' as const : 'table' as const;
  const measure = ctx.deps?.measure ?? ((d: string, s: ArchSpec, i: InputShape, k: number) => measureOnDevice(d, s, i, k, { unit }));
  let searchId = row.searchId;
  const key = () => searchId ?? modelId;
  const emit = (e: NasEvent) => ctx.onEvent?.(e);
  let stage: RunStage = 'queued';
  const enter = (s: RunStage, detail?: string) => {
    stage = s;
    updateModel(db, modelId, { stage: s, status: 'running' });
    emit({ type: 'stage-changed', searchId: key(), stage: s, detail, at: now() });
  };
  const log = (message: string, level: 'info' | 'warn' = 'info') => emit({ type: 'log', searchId: key(), level, message, at: now() });
  const checkCancel = () => { if (ctx.cancel?.cancelled) throw new Cancelled(); };
  const cfg = (c: Partial<TrainConfig>, side: number) => defaultTrainConfig({ seed: o.seed, ...c, resolution: side === dsInput.height ? c.resolution : side });
  const saveWeights = (w: NamedWeights) => putArtifact(db, 'weights', 'weights.nasw', encodeWeights(w)).id;
  const loadWeights = (c: ModelCheckpoint) => (c.weightsArtifactId ? decodeWeights(readArtifact(db, c.weightsArtifactId)) : null);
  const checkpoints = () => listCheckpoints(db, modelId);
  const last = (s: string) => checkpoints().filter((c) => c.stage === s).pop() ?? null;
  const result = (status: RunResult['status'], error: string | null, extra: Partial<RunResult> = {}): RunResult => ({
    modelId, status, stage, searchId, error, spec: null, input: null, predictedLatencyMs: null, measuredLatencyMs: null,
    metTarget: false, missByMs: 0, card: null, files: [], ...extra,
  });
  const held: NamedWeights[] = [];
  const hold = (w: NamedWeights | null) => { if (w) held.push(w); return w; };

  try {
    // 1. Search (or the given base architecture).
    let base = last('search');
    if (!base) {
      enter('search');
      let spec: ArchSpec;
      let detail: Record<string, unknown>;
      if (o.baseArch !== null) {
        spec = resolveArch(o.baseArch, { input: dsInput });
        detail = { source: 'given', baseArch: o.baseArch };
      } else {
        if (searchId === null) {
          const s = await createSearch(db, {
            ...o.search, dataset: o.dataset, deviceId: o.deviceId, latencyTargetMs: T, mode: o.search.mode ?? o.mode,
            seed: o.search.seed ?? o.seed, maxWallMs: o.budgetMinutes === null ? o.search.maxWallMs : o.budgetMinutes * 60_000,
          }, { deps: ctx.deps?.search });
          searchId = s.id;
          updateModel(db, modelId, { searchId });
        }
        const report = getSearchReport(db, searchId);
        const sr = report.search.status === 'succeeded'
          ? { status: 'succeeded' as const, error: null, report }
          : await runStoredSearch(db, searchId, { onEvent: ctx.onEvent, cancel: ctx.cancel, deps: { ...ctx.deps?.search, db } }, report.search.status !== 'queued');
        if (sr.status === 'cancelled') throw new Cancelled();
        const best = sr.report.best;
        if (sr.status !== 'succeeded' || !best) throw new Error(`search ${searchId} found no trained architecture: ${sr.error ?? 'no best trial'}`);
        spec = fromWire(best.spec);
        detail = { source: 'search', searchId, trialId: best.id, proxyAccuracy: best.accuracy, predictedLatencyMs: best.latencyMs };
      }
      base = addCheckpoint(db, { modelId, stage: 'search', spec, input: dsInput, weightsArtifactId: null, detail });
      log(`base architecture ${archId(spec)} (${String(detail.source)}), predicted ${predict(spec, dsInput).toFixed(4)} ms for a ${Tms} ms target`);
    }
    checkCancel();

    // 2. Refine to the target: NetAdapt down, compound scaling up, or keep.
    let refined = last('refine');
    if (!refined) {
      const baseMs = predict(base.spec, base.input);
      if (baseMs > T) {
        enter('refine', `NetAdapt: ${baseMs.toFixed(4)} ms predicted > ${Tms} ms`);
        const trained = hold((await trainWeights(base.spec, dataset, cfg(o.proxy, base.input.height))).weights)!;
        checkCancel();
        const r = await netAdapt({
          spec: base.spec, input: base.input, numClasses: K, weights: trained, targetMs: T,
          predictLatencyMs: (s) => predict(s, base!.input),
          fineTune: trainerFineTune(dataset, { short: cfg({ ...o.proxy, epochs: 1, warmupEpochs: 0, ...o.netadapt.shortTune }, base.input.height), long: cfg(o.proxy, base.input.height) }),
          schedule: o.netadapt.schedule, maxSteps: o.netadapt.maxSteps, cancel: ctx.cancel,
          onStep: (s) => log(`NetAdapt step ${s.step}: ${s.latencyBeforeMs.toFixed(4)} -> ${s.latencyAfterMs.toFixed(4)} ms (delta ${s.deltaMs.toFixed(4)}), ${s.proposals.length} proposals, kept blocks [${s.chosen.group.join(',')}] ${s.chosen.fromChannels}->${s.chosen.toChannels} filters, accuracy ${s.chosen.accuracy.toFixed(3)}`),
        });
        hold(r.weights);
        if (r.stoppedBecause === 'cancelled') throw new Cancelled();
        if (!r.reachedTarget) {
          const msg = `no architecture NetAdapt reached meets ${Tms} ms on ${o.deviceId}: the closest, ${archId(r.spec)}, is predicted at ${r.latencyMs.toFixed(4)} ms, ${r.missByMs.toFixed(4)} ms (${(100 * r.missByMs / T).toFixed(1)}%) over`;
          if (o.mode === 'hard') {
            finishModel(db, modelId, 'failed', { error: msg });
            emit({ type: 'failed', searchId: key(), error: msg, at: now() });
            return result('failed', msg, { spec: r.spec, input: base.input, predictedLatencyMs: r.latencyMs, missByMs: r.missByMs });
          }
          log(`${msg}; soft mode: delivering the closest`, 'warn');
        }
        refined = addCheckpoint(db, {
          modelId, stage: 'refine', spec: r.spec, input: base.input, weightsArtifactId: saveWeights(r.weights),
          detail: { method: 'netadapt', steps: r.steps.length, predictedLatencyMs: r.latencyMs, proxyAccuracy: r.accuracy, missByMs: r.missByMs, stoppedBecause: r.stoppedBecause },
        });
      } else if (baseMs < (1 - o.scaleUpSlack) * T) {
        enter('refine', `compound scaling: ${baseMs.toFixed(4)} ms predicted < ${((1 - o.scaleUpSlack) * T).toFixed(4)} ms`);
        const gridMinutes = o.scaling.maxMinutes ?? (o.budgetMinutes === null ? null : o.budgetMinutes / 2);
        const grid = await gridSearch(base.spec, base.input, async (s, i) => {
          checkCancel();
          return (await trainWeights(s, dataset, cfg(o.proxy, i.height)).then((r) => { disposeWeights(r.weights); return r; })).accuracy;
        }, {
          grid: o.scaling.grid, cancel: ctx.cancel, deadlineMs: gridMinutes === null ? undefined : Date.now() + gridMinutes * 60_000,
          onCandidate: (c) => log(`scaling grid alpha ${c.alpha} beta ${c.beta} gamma ${c.gamma}: proxy accuracy ${c.accuracy.toFixed(3)}`),
        });
        if (grid.tried.length < grid.candidates) log(`scaling grid: ${grid.tried.length} of ${grid.candidates} candidates tried within its ${gridMinutes} min`);
        checkCancel();
        const phi = fillTarget(base.spec, base.input, grid.best, T, predict, { maxPhi: o.scaling.maxPhi });
        log(`compound scaling: alpha ${grid.best.alpha}, beta ${grid.best.beta}, gamma ${grid.best.gamma}, phi ${phi.phi.toFixed(3)} -> ${phi.latencyMs.toFixed(4)} ms, input ${phi.input.height}x${phi.input.width}`);
        refined = addCheckpoint(db, {
          modelId, stage: 'refine', spec: phi.spec, input: phi.input, weightsArtifactId: null,
          detail: { method: 'compound-scaling', coefficients: grid.best, phi: phi.phi, factors: phi.factors, tried: grid.tried, gridCandidates: grid.candidates, predictedLatencyMs: phi.latencyMs },
        });
      } else {
        enter('refine', `kept: ${baseMs.toFixed(4)} ms predicted is within ${(100 * o.scaleUpSlack).toFixed(0)}% under ${Tms} ms`);
        refined = addCheckpoint(db, { modelId, stage: 'refine', spec: base.spec, input: base.input, weightsArtifactId: null, detail: { method: 'none', predictedLatencyMs: baseMs } });
      }
    }
    checkCancel();

    // 3-5. Final training, export, measurement; hard mode re-shrinks on a measured miss.
    for (let attempt = 0; ; attempt++) {
      let trainedCk = checkpoints().filter((c) => c.stage === 'final-training' && c.seq > refined!.seq).pop() ?? null;
      if (!trainedCk) {
        enter('final-training');
        const start = hold(loadWeights(refined));
        const r = await trainWeights(refined.spec, dataset, cfg(o.final, refined.input.height), start ?? undefined, true);
        hold(r.weights);
        trainedCk = addCheckpoint(db, {
          modelId, stage: 'final-training', spec: refined.spec, input: refined.input, weightsArtifactId: saveWeights(r.weights),
          detail: { validationAccuracy: r.accuracy, testAccuracy: r.testAccuracy ?? null },
        });
        log(`final training: validation ${(100 * r.accuracy).toFixed(2)}%, test ${(100 * (r.testAccuracy ?? NaN)).toFixed(2)}%`);
      }
      checkCancel();
      const spec = trainedCk.spec;
      const inp = trainedCk.input;
      const predictedMs = predict(spec, inp);
      enter('measure');
      const meas = await measure(o.deviceId, spec, inp, K);
      const measuredMs = meas.measured ? meas.latencyMs : null;
      log(meas.measured ? `measured ${meas.latencyMs.toFixed(4)} ms on ${meas.runtime} (predicted ${predictedMs.toFixed(4)} ms)` : `not measured: ${meas.reason}`, meas.measured ? 'info' : 'warn');
      const overMs = (measuredMs ?? predictedMs) - T;
      if (o.mode === 'hard' && overMs > 0) {
        if (attempt >= o.hardRetries) {
          const msg = `hard mode: after ${attempt} re-shrink(s) the model is ${measuredMs === null ? 'predicted' : 'measured'} at ${(measuredMs ?? predictedMs).toFixed(4)} ms, ${overMs.toFixed(4)} ms over the ${Tms} ms target; no model delivered`;
          finishModel(db, modelId, 'failed', { error: msg });
          emit({ type: 'failed', searchId: key(), error: msg, at: now() });
          return result('failed', msg, { spec, input: inp, predictedLatencyMs: predictedMs, measuredLatencyMs: measuredMs, missByMs: overMs });
        }
        // shrink to the target scaled by predicted/measured: the predictor's bias on this network
        const scaledT = T * (predictedMs / (measuredMs ?? predictedMs)) * 0.98;
        enter('refine', `measured ${measuredMs?.toFixed(4)} ms > ${Tms} ms: NetAdapt to ${scaledT.toFixed(4)} ms predicted (re-shrink ${attempt + 1} of ${o.hardRetries})`);
        const w = hold(loadWeights(trainedCk))!;
        const r = await netAdapt({
          spec, input: inp, numClasses: K, weights: w, targetMs: scaledT, predictLatencyMs: (s) => predict(s, inp),
          fineTune: trainerFineTune(dataset, { short: cfg({ ...o.proxy, epochs: 1, warmupEpochs: 0, ...o.netadapt.shortTune }, inp.height), long: cfg(o.proxy, inp.height) }),
          schedule: o.netadapt.schedule, maxSteps: o.netadapt.maxSteps, cancel: ctx.cancel,
        });
        hold(r.weights);
        if (r.stoppedBecause === 'cancelled') throw new Cancelled();
        refined = addCheckpoint(db, {
          modelId, stage: 'refine', spec: r.spec, input: inp, weightsArtifactId: saveWeights(r.weights),
          detail: { method: 'netadapt', reshrink: attempt + 1, measuredMs, predictedMs, scaledTargetMs: scaledT, predictedLatencyMs: r.latencyMs },
        });
        continue;
      }

      // Export the model that passed.
      checkCancel();
      enter('export');
      const detail = trainedCk.detail as { validationAccuracy: number; testAccuracy: number | null };
      const weights = hold(loadWeights(trainedCk))!;
      const outDir = join(ctx.deps?.outDir ?? join(dataPaths().outputs, 'models'), modelId);
      const delivered = await deliver({
        spec, input: inp, numClasses: K, weights, dataset, outDir, formats: o.formats,
        accuracy: detail.testAccuracy === null ? { top1: detail.validationAccuracy, split: 'validation' } : { top1: detail.testAccuracy, split: 'test' },
        predictedLatency: { latencyMs: predictedMs, device: o.deviceId },
      });
      const failedVerify = delivered.filter((d) => !d.result.verification?.passed).map((d) => d.format);
      const refineDetail = refined.detail as Record<string, unknown>;
      const runInfo: RunCardInfo = {
        modelId, searchId, baseArchId: archId(base.spec),
        target: { latencyMs: T, device: o.deviceId, mode: o.mode },
        refinement: { method: (refineDetail.method as RunCardInfo['refinement']['method']) ?? 'none', detail: refineDetail },
        predictedLatencyMs: predictedMs, measuredLatencyMs: measuredMs, metTarget: (measuredMs ?? predictedMs) <= T,
        testAccuracy: detail.testAccuracy, validationAccuracy: detail.validationAccuracy,
      };
      const resize: InputResize | undefined = inp.height !== dsInput.height || inp.width !== dsInput.width
        ? { from: { height: dsInput.height, width: dsInput.width }, to: { height: inp.height, width: inp.width }, method: 'bilinear (half-pixel centres)' }
        : undefined;
      const files: RunResult['files'] = [];
      let card: ModelCard | null = null;
      for (const d of delivered) {
        const c: ModelCard = {
          ...d.result.card, run: runInfo, ...(resize ? { inputResize: resize } : {}),
          measuredLatency: measuredMs === null ? d.result.card.measuredLatency : { latencyMs: measuredMs, device: o.deviceId, runtime: meas.measured ? meas.runtime : undefined },
        };
        writeModelCard(join(outDir, d.format), c);
        card ??= c;
        for (const f of d.files) {
          const a = putArtifact(db, `model-${d.format}`, f.name, readFileBytes(f.path));
          addModelFile(db, modelId, { format: d.format, name: f.name, artifactId: a.id });
          files.push({ format: d.format, name: f.name, path: f.path, sha256: a.sha256 });
        }
      }
      updateModel(db, modelId, { spec, archId: archId(spec) });
      if (failedVerify.length > 0) {
        const msg = `verification failed for ${failedVerify.join(', ')}`;
        finishModel(db, modelId, 'failed', { card, error: msg });
        emit({ type: 'failed', searchId: key(), error: msg, at: now() });
        return result('failed', msg, { spec, input: inp, predictedLatencyMs: predictedMs, measuredLatencyMs: measuredMs, card, files, metTarget: runInfo.metTarget });
      }
      stage = 'done';
      finishModel(db, modelId, 'succeeded', { card });
      updateModel(db, modelId, { stage: 'done' });
      emit({ type: 'stage-changed', searchId: key(), stage: 'done', at: now() });
      emit({ type: 'done', searchId: key(), status: 'succeeded', bestTrialId: null, modelId, at: now() });
      return result('succeeded', null, {
        spec, input: inp, predictedLatencyMs: predictedMs, measuredLatencyMs: measuredMs, metTarget: runInfo.metTarget,
        missByMs: Math.max(0, overMs), card, files,
      });
    }
  } catch (e) {
    if (e instanceof Cancelled) {
      const msg = `cancelled during ${stage}; kept ${checkpoints().length} stage checkpoint(s) (${checkpoints().map((c) => c.stage).join(', ') || 'none'}); resume continues from there`;
      finishModel(db, modelId, 'cancelled', { error: msg });
      emit({ type: 'cancelled', searchId: key(), at: now() });
      return result('cancelled', msg);
    }
    const msg = diskFullMessage(e) ?? (e as Error)?.message ?? String(e);
    finishModel(db, modelId, 'failed', { error: msg });
    emit({ type: 'failed', searchId: key(), error: msg, at: now() });
    throw e;
  } finally {
    for (const w of held) disposeWeights(w);
  }
}

