// The supernet use case: train a weight-shared supernet for a dataset (the
// skeleton its input size selects), checkpointed in the store as it goes,
// resumable after a crash at its last checkpoint, reused by every later
// search of the same (dataset, skeleton, input). Called alike by the CLI
// (`nas supernet train`), the HTTP layer (POST /v1/supernets, a job) and the
// search use case (a supernet search whose dataset has none trains one
// first). Progress goes out as typed events; nothing here knows of terminals
// or HTTP.
//
// Time budget: with `minutes`, the first steps measure the step time and the
// run fixes its total steps to fill the budget (stored, so a resumed run
// keeps the same schedule); with `steps`, that many. Cancel is checked every
// step; a cancelled run stores a checkpoint first, so it can be resumed.

import { dataPaths } from '../config/paths.ts';
import { type LoadDatasetOptions, loadDataset } from '../data/registry.ts';
import type { Dataset } from '../data/types.ts';
import { skeletonFor } from '../space/skeleton.ts';
import { getSkeleton } from '../space/skeleton.ts';
import { putArtifact, readArtifact } from '../store/artifacts.ts';
import { type Db, openDb } from '../store/db.ts';
import {
  findSupernet, getSupernet, insertSupernet, replaceSupernetCheckpoint, type SupernetRecord, supernetsFor, updateSupernet,
  supernetUsableBy,
} from '../store/supernets.ts';
import { encodeCheckpoint, loadCheckpoint } from '../supernet/checkpoint.ts';
import { supernetLayout } from '../supernet/layout.ts';
import { DEFAULT_SUPERNET_RECIPE, type SupernetRecipe, SupernetTrainer, subnetsPerStep } from '../supernet/train.ts';
import { useTrainingBackend } from '../train/backend.ts';
import { SupernetEvaluator } from '../supernet/evaluator.ts';
import { AccuracyPredictor, type PredictorFit, type PredictorSample } from '../supernet/predictor.ts';
import { createRng } from '../space/rng.ts';
import { archFromDecisions, sampleDecisions } from '../space/sampler.ts';
import { type CancelSignal, type EventSink, type NasEvent, now } from './events.ts';

export interface SupernetOptions {
  dataset: string;
  /** wall-time budget of the training, minutes (null: `steps` decides) */
  minutes: number | null;
  /** fixed number of steps (null: `minutes` decides) */
  steps: number | null;
  seed: number;
  recipe: SupernetRecipe;
  /** a checkpoint at least this often (and at the end, and on cancel) */
  checkpointMinutes: number;
  /** random architectures scored by the trained supernet to fit its accuracy predictor (0: none) */
  predictorSamples: number;
  /**
   * warm start: the weights of this trained supernet (same dataset, skeleton, input and classes)
   * instead of random ones; the optimizer starts fresh. OFA's order: a trained network first,
   * then progressive shrinking on top (recipe.progressive).
   */
  initFrom: string | null;
}

export type SupernetOptionsInput = Partial<Omit<SupernetOptions, 'recipe'>> & { dataset: string; recipe?: Partial<SupernetRecipe> };

export class SupernetInputError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'SupernetInputError';
  }
}

/** A supernet that cannot serve a request (none trained, or trained for something else): 409 with how to fix it. */
export class SupernetUnavailableError extends Error {
  readonly status = 409;
  readonly code = 'supernet_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'SupernetUnavailableError';
  }
}

/** Architectures the accuracy predictor is fitted on by default (about a second each on 2 cores). */
export const DEFAULT_PREDICTOR_SAMPLES = 300;

/** Steps measured before a time-budgeted run fixes its total (they are part of warm-up). */
export const CALIBRATION_STEPS = 6;
const MIN_STEPS = 20;

function check(ok: boolean, msg: string): void {
  if (!ok) throw new SupernetInputError(msg);
}

export function resolveSupernetOptions(i: SupernetOptionsInput): SupernetOptions {
  check(typeof i.dataset === 'string' && i.dataset !== '', 'dataset is required');
  const minutes = i.minutes ?? (i.steps == null ? 60 : null);
  const steps = i.steps ?? null;
  check(minutes === null || (Number.isFinite(minutes) && minutes > 0 && minutes <= 24 * 60), `minutes must be in (0, 1440], got ${minutes}`);
  check(steps === null || (Number.isInteger(steps) && steps >= 1 && steps <= 10_000_000), `steps must be an integer >= 1, got ${steps}`);
  check(!(minutes !== null && steps !== null), 'give minutes or steps, not both');
  const seed = i.seed ?? 1;
  check(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31, `seed must be an integer in [0, 2^31), got ${seed}`);
  const recipe: SupernetRecipe = { ...DEFAULT_SUPERNET_RECIPE, ...Object.fromEntries(Object.entries(i.recipe ?? {}).filter(([, v]) => v !== undefined)) };
  check(Number.isInteger(recipe.batchSize) && recipe.batchSize >= 2 && recipe.batchSize <= 1024, `batch size must be an integer in [2, 1024], got ${recipe.batchSize}`);
  check(Number.isInteger(recipe.randomSubnets) && recipe.randomSubnets >= 0 && recipe.randomSubnets <= 8, `random subnets per step must be an integer in [0, 8], got ${recipe.randomSubnets}`);
  check(recipe.learningRate > 0 && recipe.learningRate <= 1, `learning rate must be in (0, 1], got ${recipe.learningRate}`);
  check(recipe.weightDecay >= 0 && recipe.weightDecay < 1, `weight decay must be in [0, 1), got ${recipe.weightDecay}`);
  check(Number.isInteger(recipe.warmupSteps) && recipe.warmupSteps >= 0, `warm-up steps must be an integer >= 0, got ${recipe.warmupSteps}`);
  check(recipe.subset === null || (Number.isInteger(recipe.subset) && recipe.subset >= 1), `subset must be a positive integer, got ${recipe.subset}`);
  const checkpointMinutes = i.checkpointMinutes ?? 2;
  check(checkpointMinutes > 0, `checkpoint minutes must be > 0, got ${checkpointMinutes}`);
  const predictorSamples = i.predictorSamples ?? DEFAULT_PREDICTOR_SAMPLES;
  check(Number.isInteger(predictorSamples) && (predictorSamples === 0 || (predictorSamples >= 10 && predictorSamples <= 100_000)), `predictor samples must be 0 or an integer in [10, 100000], got ${predictorSamples}`);
  check(recipe.progressive === undefined || typeof recipe.progressive === 'boolean', `progressive must be true or false, got ${JSON.stringify(recipe.progressive)}`);
  const initFrom = i.initFrom ?? null;
  check(initFrom === null || (typeof initFrom === 'string' && /^sn_[0-9a-f]{16}$/.test(initFrom)), `initFrom must be a supernet id (sn_ and 16 hex digits), got ${JSON.stringify(initFrom)}`);
  return { dataset: i.dataset, minutes, steps, seed, recipe, checkpointMinutes, predictorSamples, initFrom };
}

export interface SupernetDeps {
  db?: Db;
  datasetOptions?: LoadDatasetOptions;
}

export interface SupernetContext extends EventSink {
  cancel?: CancelSignal;
  deps?: SupernetDeps;
  /** the event stream these events belong to (default: the supernet's id) */
  streamId?: string;
  /** fit the accuracy predictor on this many architectures if the supernet has none (a trained one included) */
  predictorSamples?: number;
}

const datasetOptionsOf = (deps?: SupernetDeps): LoadDatasetOptions => deps?.datasetOptions ?? { cacheDir: dataPaths().datasets };

async function datasetShape(dataset: string, deps?: SupernetDeps): Promise<{ ds: Dataset; input: { height: number; width: number; channels: number }; numClasses: number }> {
  const ds = await loadDataset(dataset, datasetOptionsOf(deps));
  const m = ds.manifest;
  return { ds, input: { height: m.height, width: m.width, channels: m.channels }, numClasses: m.classes.length };
}

/** The input shape of a dataset as a supernet sees it (the dataset is loaded). */
export async function supernetDatasetShape(dataset: string, deps?: SupernetDeps): Promise<{ height: number; width: number; channels: number }> {
  return (await datasetShape(dataset, deps)).input;
}

/**
 * The supernet a warm start takes its weights from, checked against the one it starts: it must be
 * visible to the caller, trained, and of the same dataset, skeleton, input and classes (else a
 * 409 naming the mismatch).
 */
export function warmStartSource(db: Db, id: string, target: { dataset: string; skeleton: string; input: { height: number; width: number; channels: number }; numClasses: number; owner: string | null }): SupernetRecord {
  const src = findSupernet(db, id);
  if (!src || !supernetUsableBy(src, target.owner, isSharedDataset(src.dataset))) throw new SupernetInputError(`initFrom: supernet "${id}" not found`);
  const shape = (x: { height: number; width: number; channels: number }) => `${x.height}x${x.width}x${x.channels}`;
  const diffs = [
    src.dataset !== target.dataset && `dataset ${src.dataset}, not ${target.dataset}`,
    src.skeleton !== target.skeleton && `skeleton ${src.skeleton}, not ${target.skeleton}`,
    shape(src.input) !== shape(target.input) && `input ${shape(src.input)}, not ${shape(target.input)}`,
    src.numClasses !== target.numClasses && `${src.numClasses} classes, not ${target.numClasses}`,
  ].filter(Boolean);
  if (diffs.length > 0) throw new SupernetUnavailableError(`initFrom: supernet ${id} does not match: ${diffs.join('; ')}`);
  if (src.status !== 'succeeded' || !src.checkpointArtifactId) throw new SupernetUnavailableError(`initFrom: supernet ${id} is ${src.status}, not trained; finish it first (nas supernet resume ${id})`);
  return src;
}

/** Validate and store a queued supernet row (the dataset is loaded to learn its shape). */
export async function createSupernet(db: Db, input: SupernetOptionsInput, o: { owner?: string | null; deps?: SupernetDeps } = {}): Promise<SupernetRecord> {
  const options = resolveSupernetOptions(input);
  const { input: shape, numClasses } = await datasetShape(options.dataset, o.deps);
  if (options.initFrom) warmStartSource(db, options.initFrom, { dataset: options.dataset, skeleton: skeletonFor(shape).name, input: shape, numClasses, owner: o.owner ?? null });
  return insertSupernet(db, {
    owner: o.owner ?? null, dataset: options.dataset, skeleton: skeletonFor(shape).name, input: shape, numClasses,
    options: options as unknown as Record<string, unknown>,
  });
}

/** A dataset every installation has (built in): its supernets serve every caller. Uploads and folders are their owner's. */
export function isSharedDataset(dataset: string): boolean {
  return !dataset.startsWith('dataset:') && !dataset.startsWith('folder:');
}

/** The newest succeeded supernet a caller may use for this dataset, or null. */
export function trainedSupernetFor(db: Db, k: { dataset: string; input: { height: number; width: number; channels: number }; owner: string | null }): SupernetRecord | null {
  const shared = isSharedDataset(k.dataset);
  return supernetsFor(db, { ...k, skeleton: skeletonFor(k.input).name, shared }).find((s) => s.status === 'succeeded' && s.checkpointArtifactId) ?? null;
}

/** The options a stored supernet trains with (a row recorded before smallestPerOp existed trained the ds smallest only: it continues so). */
export function storedSupernetOptions(row: SupernetRecord): SupernetOptions {
  const o = resolveSupernetOptions(row.options as unknown as SupernetOptionsInput);
  const storedRecipe = (row.options.recipe ?? {}) as Record<string, unknown>;
  if (!('smallestPerOp' in storedRecipe)) o.recipe = { ...o.recipe, smallestPerOp: false };
  return o;
}

/** What decides the weights a training ends with (how often it checkpoints does not). */
function trainingIdentity(o: SupernetOptions): string {
  const recipe = Object.fromEntries(Object.entries(o.recipe).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify({ minutes: o.minutes, steps: o.steps, seed: o.seed, recipe, predictorSamples: o.predictorSamples, initFrom: o.initFrom });
}

/**
 * An unfinished supernet of this dataset (crashed, cancelled or failed) that a new request would
 * resume, or null. With `options`, only one that was asked for with the same training options
 * (budget, seed, recipe, predictor samples, warm-start source): a request that asks for something
 * else starts a new supernet rather than silently continuing the old one with its old options.
 */
export function unfinishedSupernetFor(db: Db, k: { dataset: string; input: { height: number; width: number; channels: number }; owner: string | null; options?: SupernetOptions }): SupernetRecord | null {
  const shared = isSharedDataset(k.dataset);
  const want = k.options ? trainingIdentity(k.options) : null;
  return supernetsFor(db, { ...k, skeleton: skeletonFor(k.input).name, shared })
    .find((s) => s.status !== 'succeeded' && (want === null || trainingIdentity(storedSupernetOptions(s)) === want)) ?? null;
}

export interface SupernetResult {
  supernetId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  step: number;
  totalSteps: number;
  error: string | null;
  record: SupernetRecord;
}

/** Train (or continue) a stored supernet to its end. */
export async function runStoredSupernet(db: Db, id: string, ctx: SupernetContext = {}): Promise<SupernetResult> {
  let row = getSupernet(db, id);
  const fitOnly = row.status === 'succeeded' && (ctx.predictorSamples ?? 0) > 0 && !row.metrics.predictor;
  if (row.status === 'succeeded' && !fitOnly) return { supernetId: id, status: 'succeeded', step: row.step, totalSteps: row.totalSteps ?? row.step, error: null, record: row };
  const o = storedSupernetOptions(row);
  if (ctx.predictorSamples !== undefined) o.predictorSamples = ctx.predictorSamples;
  const key = ctx.streamId ?? id;
  const emit = (e: NasEvent) => ctx.onEvent?.(e);
  const log = (message: string, level: 'info' | 'warn' = 'info') => emit({ type: 'log', searchId: key, level, message, at: now() });
  await useTrainingBackend();
  const { ds, input, numClasses } = await datasetShape(row.dataset, ctx.deps);
  if (JSON.stringify(input) !== JSON.stringify(row.input) || numClasses !== row.numClasses) {
    throw new SupernetUnavailableError(`dataset ${row.dataset} is now ${input.height}x${input.width}x${input.channels} with ${numClasses} classes; supernet ${id} was made for ${row.input.height}x${row.input.width}x${row.input.channels} with ${row.numClasses}`);
  }
  const layout = supernetLayout(getSkeleton(row.skeleton));
  const trainer = new SupernetTrainer(layout, input, numClasses, ds, o.recipe, o.seed);
  const metrics: Record<string, unknown> = { ...row.metrics };
  let step = 0;
  let totalSteps = row.totalSteps ?? o.steps ?? null;
  try {
    if (row.checkpointArtifactId) {
      const meta = loadCheckpoint(readArtifact(db, row.checkpointArtifactId), trainer.weights, trainer.optimizer);
      step = meta.step;
      totalSteps = meta.totalSteps;
      log(`supernet ${id}: resuming at step ${step} of ${totalSteps} from its last checkpoint`);
    } else if (o.initFrom) {
      const src = warmStartSource(db, o.initFrom, row);
      loadCheckpoint(readArtifact(db, src.checkpointArtifactId!), trainer.weights);
      log(`supernet ${id}: starting from the weights of supernet ${src.id} (${src.step} steps); the optimizer starts fresh`);
    }
    row = updateSupernet(db, id, { status: 'running', error: null, ...(totalSteps !== null ? { totalSteps } : {}) });
    emit({ type: 'stage-changed', searchId: key, stage: 'supernet', detail: `supernet ${id}: training on ${row.dataset} from step ${step}${totalSteps !== null ? ` of ${totalSteps}` : ''}`, at: now() });
    let trainSeconds = Number(metrics.trainSeconds ?? 0);
    let lastCheckpointAt = performance.now();
    let lastEventAt = 0;
    let lossEma: number | null = null;
    const t0 = performance.now();
    const startStep = step;
    const save = (reason: string) => {
      const bytes = encodeCheckpoint({ supernetId: id, skeleton: row.skeleton, input, numClasses, dataset: row.dataset, step, totalSteps: totalSteps ?? step }, trainer.weights, trainer.optimizer);
      const a = putArtifact(db, 'supernet-checkpoint', 'supernet.ckpt', bytes);
      Object.assign(metrics, { trainSeconds, lossEma, epochs: step / trainer.stepsPerEpoch, checkpointBytes: bytes.byteLength });
      replaceSupernetCheckpoint(db, id, a.id, step, metrics);
      lastCheckpointAt = performance.now();
      log(`supernet ${id}: checkpoint at step ${step} (${reason}, ${(bytes.byteLength / 2 ** 20).toFixed(0)} MiB)`);
    };
    for (;;) {
      if (totalSteps !== null && step >= totalSteps) break;
      if (ctx.cancel?.cancelled) {
        save('cancelled');
        const msg = `cancelled at step ${step} of ${totalSteps ?? '?'}; the checkpoint is kept, resume continues from it`;
        row = updateSupernet(db, id, { status: 'cancelled', error: msg, finished: true });
        emit({ type: 'cancelled', searchId: key, message: msg, at: now() });
        return { supernetId: id, status: 'cancelled', step, totalSteps: totalSteps ?? step, error: msg, record: row };
      }
      // let IPC and timers run between steps (a cancel message from the service arrives here)
      await new Promise((resolve) => setImmediate(resolve));
      const ts = performance.now();
      const r = trainer.step(step, totalSteps ?? Math.max(MIN_STEPS, step + 1));
      step++;
      trainSeconds += (performance.now() - ts) / 1000;
      lossEma = lossEma === null ? r.loss : 0.95 * lossEma + 0.05 * r.loss;
      if (totalSteps === null && o.minutes !== null && step - startStep >= CALIBRATION_STEPS) {
        // fix the schedule: as many steps as the budget holds at the pace measured so far
        const perStep = (performance.now() - t0) / 1000 / (step - startStep);
        totalSteps = Math.max(MIN_STEPS, step + Math.floor((o.minutes * 60 - (performance.now() - t0) / 1000) / perStep));
        updateSupernet(db, id, { totalSteps });
        log(`supernet ${id}: ${perStep.toFixed(2)} s per step of ${o.recipe.batchSize} images x ${subnetsPerStep(o.recipe)} subnets; ${totalSteps} steps (${(totalSteps / trainer.stepsPerEpoch).toFixed(2)} epochs) fill ${o.minutes} min`);
      }
      const nowMs = performance.now();
      if (nowMs - lastEventAt > 5000 || step === totalSteps) {
        lastEventAt = nowMs;
        const rate = (step - startStep) / ((nowMs - t0) / 1000);
        emit({
          type: 'progress', searchId: key, stage: 'supernet', task: `supernet ${id} training`, done: step, total: totalSteps ?? step + 1, unit: 'step',
          imagesPerSec: rate * o.recipe.batchSize, ...(totalSteps !== null ? { etaS: (totalSteps - step) / rate } : {}),
          message: `epoch ${(step / trainer.stepsPerEpoch).toFixed(2)}, loss ${(lossEma ?? r.loss).toFixed(3)} (largest subnet), ${r.subnetLoss.toFixed(3)} (others)`, at: now(),
        });
      }
      if (nowMs - lastCheckpointAt > o.checkpointMinutes * 60_000 && (totalSteps === null || step < totalSteps)) save('periodic');
    }
    // (a supernet that only gets its predictor fitted keeps its checkpoint as it is)
    if (step !== startStep || !row.checkpointArtifactId) save('final');
    if (o.predictorSamples > 0 && !metrics.predictor) {
      const fitted = await fitPredictor(db, getSupernet(db, id), ds, o, { emit, key, cancel: ctx.cancel });
      if (fitted === 'cancelled') {
        const msg = `cancelled while fitting the accuracy predictor (training is done and kept); resume fits it`;
        row = updateSupernet(db, id, { status: 'cancelled', error: msg, finished: true });
        emit({ type: 'cancelled', searchId: key, message: msg, at: now() });
        return { supernetId: id, status: 'cancelled', step, totalSteps: totalSteps ?? step, error: msg, record: row };
      }
      metrics.predictor = fitted;
      updateSupernet(db, id, { metrics });
    }
    row = updateSupernet(db, id, { status: 'succeeded', error: null, finished: true });
    emit({ type: 'done', searchId: key, status: 'succeeded', bestTrialId: null, supernetId: id, at: now() });
    return { supernetId: id, status: 'succeeded', step, totalSteps: totalSteps ?? step, error: null, record: row };
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    updateSupernet(db, id, { status: 'failed', error: msg, finished: true });
    emit({ type: 'failed', searchId: key, error: msg, at: now() });
    throw e;
  } finally {
    trainer.dispose();
  }
}

export interface PredictorRecord extends PredictorFit {
  artifactId: string;
  /** seconds per supernet evaluation while sampling (median) */
  evaluationSeconds: number;
  fittedAt: string;
}

/**
 * Score `predictorSamples` random architectures with the trained supernet
 * and fit the accuracy predictor on them; stored as an artifact (the
 * predictor and its samples). Progress per evaluation; cancel between them.
 */
async function fitPredictor(db: Db, row: SupernetRecord, ds: Dataset, o: SupernetOptions, io: { emit: (e: NasEvent) => void; key: string; cancel?: CancelSignal }): Promise<PredictorRecord | 'cancelled'> {
  const ev = new SupernetEvaluator(readArtifact(db, row.checkpointArtifactId!), ds);
  const sk = ev.layout.skeleton;
  const rng = createRng((o.seed * 31 + 7) >>> 0);
  const samples: PredictorSample[] = [];
  const seconds: number[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < o.predictorSamples; i++) {
      if (io.cancel?.cancelled) return 'cancelled';
      await new Promise((resolve) => setImmediate(resolve));
      const decisions = sampleDecisions(sk, rng);
      const r = ev.evaluate(archFromDecisions(sk, decisions));
      samples.push({ decisions, accuracy: r.accuracy });
      seconds.push(r.seconds);
      const per = (performance.now() - t0) / 1000 / (i + 1);
      io.emit({
        type: 'progress', searchId: io.key, stage: 'supernet', task: `accuracy predictor: scoring random architectures with supernet ${row.id}`,
        done: i + 1, total: o.predictorSamples, unit: 'network', etaS: per * (o.predictorSamples - i - 1),
        message: `${(100 * r.accuracy).toFixed(1)}% in ${r.seconds.toFixed(2)} s`, at: now(),
      });
    }
  } finally {
    ev.dispose();
  }
  const predictor = await AccuracyPredictor.train(sk, samples, { seed: o.seed });
  try {
    const a = putArtifact(db, 'supernet-predictor', 'predictor.json', new TextEncoder().encode(JSON.stringify({ predictor: predictor.toJSON(), samples })));
    seconds.sort((x, y) => x - y);
    const rec: PredictorRecord = { ...predictor.fit, artifactId: a.id, evaluationSeconds: seconds[Math.floor(seconds.length / 2)]!, fittedAt: now() };
    io.emit({ type: 'log', searchId: io.key, level: 'info', message: `accuracy predictor of supernet ${row.id}: fitted on ${rec.samples} architectures, Kendall tau ${rec.kendallTau.toFixed(3)} and RMSE ${(100 * rec.rmse).toFixed(2)} points on ${rec.heldOut} held out`, at: now() });
    return rec;
  } finally {
    predictor.dispose();
  }
}

/** The accuracy predictor stored with a supernet (the caller disposes it), or null when it has none. */
export function loadSupernetPredictor(db: Db, s: SupernetRecord): AccuracyPredictor | null {
  const p = s.metrics.predictor as PredictorRecord | undefined;
  if (!p?.artifactId) return null;
  const j = JSON.parse(new TextDecoder().decode(readArtifact(db, p.artifactId))) as { predictor: unknown };
  return AccuracyPredictor.fromJSON(j.predictor);
}

/** Create and train (the CLI's path); an unfinished supernet of the same dataset is resumed instead unless `fresh`. */
export async function trainSupernet(input: SupernetOptionsInput, ctx: SupernetContext & { owner?: string | null; fresh?: boolean } = {}): Promise<SupernetResult> {
  const db = ctx.deps?.db ?? openDb(dataPaths().store);
  try {
    const { input: shape } = await datasetShape(input.dataset, ctx.deps);
    const options = resolveSupernetOptions(input);
    const unfinished = ctx.fresh ? null : unfinishedSupernetFor(db, { dataset: input.dataset, input: shape, owner: ctx.owner ?? null, options });
    const row = unfinished ?? await createSupernet(db, input, { owner: ctx.owner, deps: ctx.deps });
    if (unfinished) ctx.onEvent?.({ type: 'log', searchId: ctx.streamId ?? row.id, level: 'info', message: `continuing unfinished supernet ${row.id} (same options; --fresh starts a new one)`, at: now() });
    return await runStoredSupernet(db, row.id, ctx);
  } finally {
    if (!ctx.deps?.db) db.close();
  }
}

/** Continue a stored supernet (the CLI's `nas supernet resume`); with ctx.predictorSamples a trained one without a predictor gets one fitted. */
export async function resumeSupernet(id: string, ctx: SupernetContext = {}): Promise<SupernetResult> {
  const db = ctx.deps?.db ?? openDb(dataPaths().store);
  try {
    if (!findSupernet(db, id)) throw new SupernetInputError(`supernet "${id}" not found`);
    return await runStoredSupernet(db, id, ctx);
  } finally {
    if (!ctx.deps?.db) db.close();
  }
}
