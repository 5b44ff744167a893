// The one typed event stream of a use case (search, run, profile, export).
// The CLI's progress bar, the HTTP layer's Server-Sent Events and the
// dashboard all read these events; nothing else reports progress.
// State that must survive a crash is written to the store before the event
// about it is emitted.

/** Stages of a job: a run's, and 'supernet' (training a weight-shared supernet, alone or before a search that needs one). */
export type RunStage = 'queued' | 'supernet' | 'search' | 'refine' | 'final-training' | 'export' | 'measure' | 'done';

/** What a progress event counts. */
export type ProgressUnit = 'trial' | 'candidate' | 'step' | 'proposal' | 'epoch' | 'format' | 'network';

/**
 * Progress within a stage of a long job (`nas run`): emitted at least once
 * per unit of work (a trial, a scaling-grid candidate, a NetAdapt step or
 * fine-tune, a training epoch, an exported format, a measurement) and at
 * least every 30 s of training. `done` of `total` units (done may be
 * fractional: 2.5 epochs); `task` names the work (final training, scaling
 * grid candidate 3 of 16, ...); `etaS` is the stage's remaining time
 * estimated from measured throughput, `jobEtaS` the whole job's (the rest of
 * this stage plus the later stages' planned minutes), each absent when unknown.
 */
export interface ProgressEvent {
  type: 'progress';
  searchId: string;
  stage: RunStage;
  task: string;
  done: number;
  total: number;
  unit: ProgressUnit;
  /** training throughput of this task (images/s) */
  imagesPerSec?: number;
  etaS?: number;
  jobEtaS?: number;
  message?: string;
  at: string;
}

export type NasEvent =
  | { type: 'search-started'; searchId: string; strategy: string; trialsBudget: number | null; resumed: boolean; at: string }
  | { type: 'trial-started'; searchId: string; trialId: string; archId: string; at: string }
  | {
      type: 'trial-finished'; searchId: string; trialId: string; archId: string;
      status: 'succeeded' | 'failed' | 'skipped' | 'cached';
      accuracy: number | null; latencyMs: number; reward: number | null; error?: string;
      trialsDone: number; cacheHits: number; at: string;
    }
  | { type: 'best-changed'; searchId: string; trialId: string; archId: string; accuracy: number; latencyMs: number; reward: number; at: string }
  | { type: 'controller-updated'; searchId: string; update: number; meanReward: number; at: string }
  | { type: 'stage-changed'; searchId: string; stage: RunStage; detail?: string; at: string }
  | { type: 'log'; searchId: string; level: 'info' | 'warn'; message: string; at: string }
  | { type: 'done'; searchId: string; status: 'succeeded'; bestTrialId: string | null; modelId?: string; supernetId?: string; at: string }
  | { type: 'failed'; searchId: string; error: string; at: string }
  | { type: 'cancelled'; searchId: string; message?: string; at: string }
  | ProgressEvent;

export type NasEventType = NasEvent['type'];

export interface EventSink {
  onEvent?: (e: NasEvent) => void;
}

/** A signal a use case polls between units of work to stop early and keep what it has. */
export interface CancelSignal {
  readonly cancelled: boolean;
}

/** Thrown where a CancelSignal stopped work between two of its units (e.g. between two export formats). */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function now(): string {
  return new Date().toISOString();
}
