// Progress events of one stage of a `nas run` (NasEvent 'progress'): a
// report at each unit of work, and heartbeats from inside a training run at
// least every HEARTBEAT_MS (the trainer calls back after every batch), with
// the throughput measured so far and the stage's and the whole job's ETA.

import type { TrainHooks } from '../refine/finetune.ts';
import type { CancelSignal, NasEvent, ProgressEvent, RunStage } from './events.ts';
import { now } from './events.ts';

/** Longest silence inside a training run. */
export const HEARTBEAT_MS = 30_000;

/** A progress event's own fields (etaS: this stage's remaining seconds); the reporter adds the rest. */
export type ProgressUpdate = Pick<ProgressEvent, 'task' | 'done' | 'total' | 'unit' | 'imagesPerSec' | 'etaS' | 'message'>;

export interface StageProgressOptions {
  emit: (e: NasEvent) => void;
  key: () => string;
  stage: RunStage;
  clock: () => number;
  heartbeatMs: number;
  /** seconds planned for the stages after this one (undefined: unknown) */
  laterS: () => number | undefined;
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

export class StageProgress {
  private lastAt = -Infinity;

  constructor(private readonly o: StageProgressOptions) {}

  report(u: ProgressUpdate): void {
    this.lastAt = this.o.clock();
    const etaS = finite(u.etaS) ? Math.max(0, u.etaS) : undefined;
    const later = etaS === undefined ? undefined : this.o.laterS();
    this.o.emit({
      type: 'progress', searchId: this.o.key(), stage: this.o.stage, task: u.task, done: u.done, total: u.total, unit: u.unit,
      ...(finite(u.imagesPerSec) ? { imagesPerSec: u.imagesPerSec } : {}),
      ...(etaS !== undefined ? { etaS } : {}),
      ...(etaS !== undefined && finite(later) ? { jobEtaS: etaS + later } : {}),
      ...(u.message ? { message: u.message } : {}),
      at: now(),
    });
  }

  /** report only when HEARTBEAT_MS passed since the last report */
  beat(u: () => ProgressUpdate): void {
    if (this.o.clock() - this.lastAt >= this.o.heartbeatMs) this.report(u());
  }

  /**
   * Trainer hooks for one training run of this stage: a report per epoch, a
   * heartbeat between batches; `afterS` is the stage's work after this run
   * (seconds), added to the ETA.
   */
  training(task: string, t: {
    epochs: number; imagesPerEpoch: number; afterS?: () => number; cancel?: CancelSignal; stopEarly?: () => boolean;
  }): TrainHooks {
    const after = () => t.afterS?.() ?? 0;
    const left = (images: number, ips: number) => Math.max(0, t.epochs * t.imagesPerEpoch - images) / ips + after();
    return {
      cancel: t.cancel,
      stopEarly: t.stopEarly,
      onBatch: (b) => this.beat(() => ({
        task, done: b.epoch - 1 + b.step / b.stepsPerEpoch, total: t.epochs, unit: 'epoch', imagesPerSec: b.imagesPerSec,
        etaS: left(b.images, b.imagesPerSec), message: `epoch ${b.epoch} of ${t.epochs}, batch ${b.step} of ${b.stepsPerEpoch}`,
      })),
      onEpoch: (r) => this.report({
        task, done: r.epoch, total: t.epochs, unit: 'epoch', imagesPerSec: r.imagesPerSec,
        etaS: left(r.epoch * t.imagesPerEpoch, r.imagesPerSec),
        message: Number.isFinite(r.valAccuracy) ? `epoch ${r.epoch} of ${t.epochs}: validation accuracy ${(100 * r.valAccuracy).toFixed(2)}%` : `epoch ${r.epoch} of ${t.epochs}`,
      }),
    };
  }
}
