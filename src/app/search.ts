// The search use case: create a search row (so a job runner can enqueue it
// by id), run it, resume it after a crash. Called alike by the CLI, the HTTP
// layer and job workers; it knows nothing of terminals or HTTP. Every state
// change is written to the store before the event about it is emitted.

import { availableParallelism } from 'node:os';
import { dataPaths } from '../config/paths.ts';
import { type LoadDatasetOptions, loadDataset } from '../data/registry.ts';
import { type CalibratedPredictor, describeCalibration, loadCalibratedPredictor, loadPredictor } from '../latency/index.ts';
import { skeletonFor } from '../space/skeleton.ts';
import { type Db, openDb } from '../store/db.ts';
import { latestCheckpoint } from '../store/checkpoints.ts';
import { claimSearch, finishSearch, getSearch, insertSearch, type SearchRecord } from '../store/searches.ts';
import { resetInterruptedTrials } from '../store/trials.ts';
import type { TrialExecutor } from '../search/executor.ts';
import { fastestArch } from '../search/fastest.ts';
import { type EvaluatorName, resolveSearchOptions, type SearchOptions, type SearchOptionsInput, TargetBelowFastestError, usesSupernet } from '../search/options.ts';
import { getSearchReport, type SearchReport } from '../search/report.ts';
import { SearchRunner, type StopReason } from '../search/runner.ts';
import { createStrategy as defaultCreateStrategy } from '../search/strategies/index.ts';
import type { SearchStrategy, StrategyName, StrategyOptions } from '../search/strategy.ts';
import type { SearchSpace } from '../search/trial_plan.ts';
import { TrialPool } from '../train/pool.ts';
import { type CancelSignal, type EventSink, type NasEvent, now } from './events.ts';
import { SupernetUnavailableError, trainedSupernetFor, isSharedDataset, loadSupernetPredictor } from './supernet.ts';
import { findSupernet, supernetUsableBy, type SupernetRecord } from '../store/supernets.ts';
import { readArtifact } from '../store/artifacts.ts';
import { SupernetEvaluator } from '../supernet/evaluator.ts';
import { predictorExecutor, supernetExecutor } from '../supernet/executor.ts';
import { getSkeleton } from '../space/skeleton.ts';
import { useTrainingBackend } from '../train/backend.ts';

export interface SearchDeps {
  /** where trials run (default: a local TrialPool of maxParallelTrials workers, closed at the end) */
  executor?: TrialExecutor;
  createStrategy?: (name: StrategyName, opts: StrategyOptions) => SearchStrategy;
  /** the store (default: dataPaths().store, opened and closed here) */
  db?: Db;
  datasetOptions?: LoadDatasetOptions;
  /**
   * the latency predictor (default: loaded here, host-calibrated with the reference network timed
   * now). `nas run` passes its own, so that the search and the stages after it speak one unit;
   * searches compared side by side share one, so that T means the same for each.
   */
  predictor?: CalibratedPredictor;
}

export interface SearchContext extends EventSink {
  cancel?: CancelSignal;
  deps?: SearchDeps;
  /** a tighter wall-time bound for this run of the search than its own (a `nas run` budget's search share) */
  maxWallMs?: number;
}

export interface SearchResult {
  searchId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  stoppedBy: StopReason;
  error: string | null;
  report: SearchReport;
}

export class SearchConflictError extends Error {
  readonly status = 409;
  constructor(message: string) {
    super(message);
    this.name = 'SearchConflictError';
  }
}

function datasetOptionsOf(deps?: SearchDeps): LoadDatasetOptions {
  return deps?.datasetOptions ?? { cacheDir: dataPaths().datasets };
}

interface Prepared {
  space: SearchSpace;
  predictor: CalibratedPredictor;
}

/** Dataset shape, predictor and skeleton of a search; checks the target against the fastest architecture. */
async function prepare(o: SearchOptions, deps?: SearchDeps, measureCalibration = true): Promise<Prepared> {
  // host-calibrated: LAT in this host's ms. Running a search measures a missing or stale
  // calibration first (bounded, cached per host); creating one (an HTTP request) only reads the cache.
  const predictor = deps?.predictor ?? (measureCalibration ? await loadCalibratedPredictor(o.deviceId) : loadPredictor(o.deviceId));
  const ds = await loadDataset(o.dataset, datasetOptionsOf(deps));
  const m = ds.manifest;
  const input = { height: m.height, width: m.width, channels: m.channels };
  const space: SearchSpace = { skeleton: skeletonFor(input), input, numClasses: m.classes.length };
  const fastest = fastestArch(space.skeleton, predictor, input, space.numClasses);
  if (o.latencyTargetMs < fastest.latencyMs) {
    throw new TargetBelowFastestError(
      `latency target ${o.latencyTargetMs} ms is below the fastest architecture of the space on ${o.deviceId}: ` +
      `${fastest.latencyMs.toFixed(3)} ms predicted for ${m.height}x${m.width}x${m.channels} inputs ` +
      `(smallest choices per block refined by coordinate descent on the predictor); choose a target >= ${fastest.latencyMs.toFixed(3)} ms`,
      fastest.latencyMs, o.latencyTargetMs);
  }
  return { space, predictor };
}

function withDb<T>(deps: SearchDeps | undefined, f: (db: Db) => Promise<T>): Promise<T> {
  if (deps?.db) return f(deps.db);
  const db = openDb(dataPaths().store);
  return f(db).finally(() => db.close());
}

/**
 * The supernet a supernet-evaluated search uses: the one named, else the newest trained one for
 * the dataset the caller may use; none is a 409 that says how to train one.
 */
export function supernetForSearch(db: Db, o: SearchOptions, space: SearchSpace, owner: string | null): SupernetRecord {
  if (o.supernetId !== null) {
    const s = findSupernet(db, o.supernetId);
    if (!s || !supernetUsableBy(s, owner, isSharedDataset(s.dataset))) throw new SupernetUnavailableError(`supernet ${o.supernetId} not found`);
    if (s.status !== 'succeeded' || !s.checkpointArtifactId) throw new SupernetUnavailableError(`supernet ${s.id} is ${s.status}, not trained; wait for it, or resume it with \`nas supernet resume ${s.id}\``);
    const mismatch = s.dataset !== o.dataset ? `dataset ${s.dataset}, the search's is ${o.dataset}`
      : s.skeleton !== space.skeleton.name ? `skeleton ${s.skeleton}, the search's space is ${space.skeleton.name}`
        : JSON.stringify(s.input) !== JSON.stringify(space.input) ? `input ${s.input.height}x${s.input.width}x${s.input.channels}, the search's is ${space.input.height}x${space.input.width}x${space.input.channels}` : null;
    if (mismatch) throw new SupernetUnavailableError(`supernet ${s.id} does not match this search: it was trained for ${mismatch}`);
    return withPredictorIfNeeded(s, o);
  }
  const s = trainedSupernetFor(db, { dataset: o.dataset, input: space.input, owner });
  if (!s) {
    throw new SupernetUnavailableError(
      `no trained supernet for dataset ${o.dataset} (${space.input.height}x${space.input.width}x${space.input.channels}, skeleton ${space.skeleton.name}): ` +
      `train one first with \`nas supernet train --dataset ${o.dataset}\` or POST /v1/supernets {"dataset":"${o.dataset}"}, import one (\`nas supernet import <file>\`, POST /v1/supernets/import), or search with evaluator proxy`);
  }
  return withPredictorIfNeeded(s, o);
}

function withPredictorIfNeeded(s: SupernetRecord, o: SearchOptions): SupernetRecord {
  if (o.evaluator === 'predictor' && !(s.metrics.predictor as { artifactId?: string } | undefined)?.artifactId) {
    throw new SupernetUnavailableError(`supernet ${s.id} has no accuracy predictor (trained with predictorSamples 0): search with evaluator supernet, or train a supernet with a predictor`);
  }
  return s;
}

/** Validate the options (dataset, device, target) and store a 'queued' search; returns its row. */
export async function createSearch(db: Db, input: SearchOptionsInput, o: { owner?: string | null; deps?: SearchDeps } = {}): Promise<SearchRecord> {
  let options = resolveSearchOptions(input);
  const { space } = await prepare(options, o.deps, false);
  if (usesSupernet(options.evaluator)) options = { ...options, supernetId: supernetForSearch(db, options, space, o.owner ?? null).id };
  // the strategy and its options must construct before the search is stored
  const create = o.deps?.createStrategy ?? defaultCreateStrategy;
  create(options.strategy, { skeleton: space.skeleton, seed: options.seed, ...options.strategyOptions }).dispose();
  return insertSearch(db, options, o.owner ?? null);
}

/** Create and run a search to its end. */
export async function runSearch(input: SearchOptionsInput, ctx: SearchContext = {}): Promise<SearchResult> {
  return withDb(ctx.deps, async (db) => {
    const s = await createSearch(db, input, { deps: ctx.deps });
    return runStoredSearch(db, s.id, ctx, false);
  });
}

/** Continue a search (queued, crashed while running, cancelled or failed) from its last completed trial. */
export async function resumeSearch(searchId: string, ctx: SearchContext = {}): Promise<SearchResult> {
  return withDb(ctx.deps, (db) => runStoredSearch(db, searchId, ctx, true));
}

/** Run a stored search by id (a job runner's entry point). */
export async function runStoredSearch(db: Db, searchId: string, ctx: SearchContext, resumed: boolean): Promise<SearchResult> {
  const search = getSearch(db, searchId);
  if (search.status === 'succeeded') throw new SearchConflictError(`search ${searchId} already succeeded; nothing to resume`);
  const own = search.options;
  const o = ctx.maxWallMs === undefined ? own : { ...own, maxWallMs: Math.min(own.maxWallMs ?? Infinity, ctx.maxWallMs) };
  const emit = (e: NasEvent) => ctx.onEvent?.(e);
  const { space, predictor } = await prepare(o, ctx.deps);
  const create = ctx.deps?.createStrategy ?? defaultCreateStrategy;
  const strategy = create(o.strategy, { skeleton: space.skeleton, seed: o.seed, ...o.strategyOptions });
  const ckpt = latestCheckpoint(db, searchId);
  if (ckpt) strategy.setState(ckpt.state);
  // a supernet-scored search evaluates here, whatever executor trains proxy trials (a pool, BullMQ workers)
  const ownExecutor = usesSupernet(o.evaluator) || !ctx.deps?.executor;
  const executor = usesSupernet(o.evaluator)
    ? await openSupernetExecutor(db, supernetForSearch(db, o, space, search.owner), o.evaluator, ctx.deps)
    : ctx.deps?.executor ?? poolExecutor(Math.min(o.maxParallelTrials, Math.max(1, availableParallelism())), o.trialTimeoutMs);
  try {
    db.transaction(() => {
      claimSearch(db, searchId);
      resetInterruptedTrials(db, searchId);
    })();
    emit({ type: 'search-started', searchId, strategy: o.strategy, trialsBudget: o.maxTrials, resumed: resumed || ckpt !== null, at: now() });
    if (o.evaluator === 'supernet') emit({ type: 'log', searchId, level: 'info', message: `candidates scored with weights inherited from supernet ${o.supernetId} (BN re-estimated per candidate), not trained`, at: now() });
    if (o.evaluator === 'predictor') emit({ type: 'log', searchId, level: 'info', message: `candidates scored by the accuracy predictor of supernet ${o.supernetId} (fitted on its evaluations), not trained`, at: now() });
    const cal = predictor.calibration;
    emit({ type: 'log', searchId, level: cal.calibration && cal.state !== 'stale' ? 'info' : 'warn', message: `latency on ${o.deviceId}: table ${predictor.table.summary}; calibration ${describeCalibration(cal)}`, at: now() });
    let runner: SearchRunner;
    let stoppedBy: StopReason;
    try {
      runner = new SearchRunner({
        db, searchId, options: o, space, strategy, executor, predictor, datasetOptions: datasetOptionsOf(ctx.deps), emit,
        cancel: ctx.cancel, priorElapsedMs: search.elapsedMs,
      });
      stoppedBy = (await runner.run()).stoppedBy;
    } catch (e) {
      const msg = `internal error: ${(e as Error)?.message ?? String(e)}`;
      finishSearch(db, searchId, 'failed', msg);
      emit({ type: 'failed', searchId, error: msg, at: now() });
      throw e;
    }
    const report = getSearchReport(db, searchId);
    const c = report.counts;
    let status: SearchResult['status'];
    let error: string | null = null;
    if (stoppedBy === 'cancelled') {
      status = 'cancelled';
      finishSearch(db, searchId, 'cancelled');
      emit({ type: 'cancelled', searchId, at: now() });
    } else if (c.succeeded === 0) {
      status = 'failed';
      error = `no trial trained successfully (${c.failed} failed, ${c.skipped} skipped, ${c.cached} cached of ${c.total}; stopped by ${stoppedBy})` +
        (report.trials.find((t) => t.error)?.error ? `; first error: ${report.trials.find((t) => t.error)!.error}` : '');
      finishSearch(db, searchId, 'failed', error);
      emit({ type: 'failed', searchId, error, at: now() });
    } else {
      status = 'succeeded';
      finishSearch(db, searchId, 'succeeded');
      emit({ type: 'done', searchId, status: 'succeeded', bestTrialId: report.best?.id ?? null, at: now() });
    }
    return { searchId, status, stoppedBy, error, report: getSearchReport(db, searchId) };
  } finally {
    strategy.dispose();
    if (ownExecutor) await executor.close();
  }
}

/** The evaluator of a supernet-scored search: the supernet's checkpoint (or its accuracy predictor) loaded in this process. */
async function openSupernetExecutor(db: Db, s: SupernetRecord, evaluator: EvaluatorName, deps?: SearchDeps): Promise<TrialExecutor> {
  await useTrainingBackend();
  if (evaluator === 'predictor') {
    const p = loadSupernetPredictor(db, s);
    if (!p) throw new SupernetUnavailableError(`supernet ${s.id} has no accuracy predictor (it was trained with predictorSamples 0)`);
    return predictorExecutor(p, getSkeleton(s.skeleton), { supernetId: s.id, input: s.input, numClasses: s.numClasses });
  }
  const ds = await loadDataset(s.dataset, datasetOptionsOf(deps));
  return supernetExecutor(new SupernetEvaluator(readArtifact(db, s.checkpointArtifactId!), ds), { supernetId: s.id });
}

/** The local executor: forked training workers (src/train/pool.ts). */
export function poolExecutor(size: number, trialTimeoutMs?: number): TrialExecutor {
  const pool = new TrialPool({ size, trialTimeoutMs });
  return { concurrency: pool.size, run: (r, onEpoch) => pool.run(r, onEpoch), close: () => pool.close() };
}
