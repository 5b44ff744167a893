// What every stage of one `nas run` shares: the stored row and options, the
// dataset, the latency predictor and measurer, the event sink and cancel
// signal, the time budget (src/app/run-budget.ts), the measured throughput,
// and the store helpers (stage checkpoints, weights as artifacts). A stage
// reads its input checkpoint, writes its output checkpoint to the store and
// only then emits the event about it.

import { dataPaths } from '../../config/paths.ts';
import { type LoadDatasetOptions, loadDataset } from '../../data/registry.ts';
import type { Dataset } from '../../data/types.ts';
import type { ModelCard } from '../../export/model-card.ts';
import { type CalibratedPredictor, loadCalibratedPredictor } from '../../latency/index.ts';
import type { DeviceMeasurement } from '../../refine/measure.ts';
import { measureOnDevice } from '../../refine/measure.ts';
import { disposeWeights, type NamedWeights } from '../../refine/prune.ts';
import { decodeWeights, encodeWeights } from '../../refine/weights-blob.ts';
import { archCost } from '../../space/cost.ts';
import type { ArchSpec, InputShape } from '../../space/types.ts';
import type { SearchDeps } from '../search.ts';
import { putArtifact, readArtifact } from '../../store/artifacts.ts';
import type { Db } from '../../store/db.ts';
import {
  addCheckpoint, finishModel, getModel, listCheckpoints, type ModelCheckpoint, type ModelRecord, setModelPlan, updateModel,
} from '../../store/models.ts';
import { useTrainingBackend } from '../../train/backend.ts';
import { defaultTrainConfig, type TrainConfig } from '../../train/config.ts';
import { TrainingCancelledError } from '../../train/trainer.ts';
import { type CancelSignal, CancelledError, type EventSink, type NasEvent, now, type RunStage } from '../events.ts';
import { RunBudget, type SplitCounts, type StoredPlan, Throughput } from '../run-budget.ts';
import { type RunOptions, resolveRunOptions, type RunOptionsInput } from '../run-options.ts';
import type { PlanStage } from '../run-plan.ts';
import { HEARTBEAT_MS, StageProgress } from '../run-progress.ts';

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
  /** the job's clock for its budget and heartbeats, ms (default Date.now; tests use a fake one) */
  clock?: () => number;
  /** longest silence inside a training run (default HEARTBEAT_MS) */
  heartbeatMs?: number;
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

/** Whether `e` is a cancel (between units of work, inside a training run, between export formats). */
export function isCancel(e: unknown): boolean {
  return e instanceof CancelledError || e instanceof TrainingCancelledError;
}

export async function datasetOf(o: Pick<RunOptions, 'dataset'>, deps?: RunDeps): Promise<{ dataset: Dataset; input: InputShape }> {
  const dataset = await loadDataset(o.dataset, deps?.datasetOptions ?? { cacheDir: dataPaths().datasets });
  const m = dataset.manifest;
  return { dataset, input: { height: m.height, width: m.width, channels: m.channels } };
}

export class RunSession {
  stage: RunStage = 'queued';
  searchId: string | null;
  readonly throughput: Throughput;
  readonly budget: RunBudget | null;
  private readonly held: NamedWeights[] = [];
  private stageStart: { stage: PlanStage; at: number } | null = null;
  readonly clock: () => number;
  /** Number(T.toPrecision(6)), for messages */
  readonly Tms: number;

  private constructor(
    readonly db: Db, readonly row: ModelRecord, readonly o: RunOptions, readonly ctx: RunContext,
    readonly dataset: Dataset, readonly dsInput: InputShape, readonly predictor: CalibratedPredictor,
  ) {
    this.searchId = row.searchId;
    this.clock = ctx.deps?.clock ?? Date.now;
    this.Tms = Number(o.latencyTargetMs.toPrecision(6));
    const plan = row.plan as StoredPlan | null;
    this.budget = plan ? new RunBudget(plan, this.clock) : null;
    this.throughput = new Throughput(plan?.imagesPerSec ?? 0);
  }

  static async open(db: Db, modelId: string, ctx: RunContext): Promise<RunSession> {
    const row = getModel(db, modelId);
    const o = resolveRunOptions(row.options as RunOptionsInput);
    // refinement and final training run in this process: on the fastest backend (tfjs-node(-gpu), else WASM + native kernels)
    await useTrainingBackend();
    const { dataset, input } = await datasetOf(o, ctx.deps);
    const predictor = ctx.deps?.predictor ?? await loadCalibratedPredictor(o.deviceId);
    return new RunSession(db, row, o, ctx, dataset, input, predictor);
  }

  get modelId(): string { return this.row.id; }
  get T(): number { return this.o.latencyTargetMs; }
  get K(): number { return this.dataset.manifest.classes.length; }
  get trainCount(): number { return this.dataset.manifest.splits.train.count; }
  get counts(): SplitCounts {
    const sp = this.dataset.manifest.splits;
    return { train: sp.train.count, validation: sp.validation.count, test: sp.test.count };
  }

  predict(s: ArchSpec, i: InputShape): number {
    return this.predictor.predict(s, i, this.K).latencyMs;
  }

  macs(s: ArchSpec, i: InputShape): number {
    return archCost(s, i, this.K).macs;
  }

  measure(s: ArchSpec, i: InputShape): Promise<DeviceMeasurement> {
    // measured in the unit the predictor speaks: host wall-clock ms under a host calibration, else the table's unit
    const unit = this.predictor.calibration.calibration ? 'host-ms' as const : 'table' as const;
    return this.ctx.deps?.measure ? this.ctx.deps.measure(this.o.deviceId, s, i, this.K) : measureOnDevice(this.o.deviceId, s, i, this.K, { unit });
  }

  key(): string { return this.searchId ?? this.modelId; }

  emit(e: NasEvent): void { this.ctx.onEvent?.(e); }

  log(message: string, level: 'info' | 'warn' = 'info'): void {
    this.emit({ type: 'log', searchId: this.key(), level, message, at: now() });
  }

  /** Enter a stage: the row says so (store first), then the event. */
  enter(s: Exclude<RunStage, 'queued' | 'done' | 'supernet'>, detail?: string): void {
    this.closeStage();
    this.stage = s;
    this.stageStart = { stage: s, at: this.clock() };
    updateModel(this.db, this.modelId, { stage: s, status: 'running' });
    this.emit({ type: 'stage-changed', searchId: this.key(), stage: s, detail, at: now() });
  }

  /** Add the time of the stage in progress to the plan's actual minutes and store the plan. */
  closeStage(): void {
    if (this.stageStart && this.budget) {
      this.budget.addActual(this.stageStart.stage, this.clock() - this.stageStart.at);
      this.savePlan();
    }
    this.stageStart = null;
  }

  savePlan(): void {
    if (this.budget) setModelPlan(this.db, this.modelId, this.budget.state);
  }

  /** Progress reporter of the stage in progress. */
  progress(): StageProgress {
    const stage = this.stage as PlanStage;
    return new StageProgress({
      emit: (e) => this.emit(e), key: () => this.key(), stage: this.stage, clock: this.clock,
      heartbeatMs: this.ctx.deps?.heartbeatMs ?? HEARTBEAT_MS,
      laterS: () => this.budget?.laterS(stage),
    });
  }

  checkCancel(): void {
    if (this.ctx.cancel?.cancelled) throw new CancelledError(`cancelled during ${this.stage}`);
  }

  /** A stop-early predicate for training runs of `stage`: true once its deadline passed (budgeted runs only). */
  deadlinePassed(stage: PlanStage): () => boolean {
    return () => this.budget !== null && this.budget.enforced && this.budget.past(stage);
  }

  cfg(c: Partial<TrainConfig>, side: number): TrainConfig {
    return defaultTrainConfig({ seed: this.o.seed, ...c, resolution: side === this.dsInput.height ? c.resolution : side });
  }

  saveWeights(w: NamedWeights): string {
    return putArtifact(this.db, 'weights', 'weights.nasw', encodeWeights(w)).id;
  }

  loadWeights(c: ModelCheckpoint): NamedWeights | null {
    return this.hold(c.weightsArtifactId ? decodeWeights(readArtifact(this.db, c.weightsArtifactId)) : null);
  }

  /** keep weights to dispose when the run ends */
  hold<W extends NamedWeights | null>(w: W): W {
    if (w) this.held.push(w);
    return w;
  }

  checkpoints(): ModelCheckpoint[] {
    return listCheckpoints(this.db, this.modelId);
  }

  last(stage: string, afterSeq = 0): ModelCheckpoint | null {
    return this.checkpoints().filter((c) => c.stage === stage && c.seq > afterSeq).pop() ?? null;
  }

  checkpoint(c: Omit<ModelCheckpoint, 'seq' | 'createdAt' | 'modelId'>): ModelCheckpoint {
    return addCheckpoint(this.db, { modelId: this.modelId, ...c });
  }

  result(status: RunResult['status'], error: string | null, extra: Partial<RunResult> = {}): RunResult {
    return {
      modelId: this.modelId, status, stage: this.stage, searchId: this.searchId, error, spec: null, input: null,
      predictedLatencyMs: null, measuredLatencyMs: null, metTarget: false, missByMs: 0, card: null, files: [], ...extra,
    };
  }

  /** End the run failed with `msg` (store first, then the event). */
  fail(msg: string, extra: Partial<RunResult> = {}, card?: unknown): RunResult {
    this.closeStage();
    finishModel(this.db, this.modelId, 'failed', { error: msg, ...(card !== undefined ? { card } : {}) });
    this.emit({ type: 'failed', searchId: this.key(), error: msg, at: now() });
    return this.result('failed', msg, extra);
  }

  /** End the run cancelled, naming the stage and what is kept. */
  cancelled(): RunResult {
    this.closeStage();
    const cks = this.checkpoints();
    const msg = `cancelled during ${this.stage}; kept ${cks.length} stage checkpoint(s) (${cks.map((c) => c.stage).join(', ') || 'none'}); resume continues from there`;
    finishModel(this.db, this.modelId, 'cancelled', { error: msg });
    this.emit({ type: 'cancelled', searchId: this.key(), message: msg, at: now() });
    return this.result('cancelled', msg);
  }

  dispose(): void {
    for (const w of this.held.splice(0)) disposeWeights(w);
  }
}
