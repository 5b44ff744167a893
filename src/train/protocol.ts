// Messages between the trial pool (parent) and a training worker (child
// process). Everything is plain JSON: the architecture travels as canonical
// ArchSpec JSON (src/space/archspec.ts toCanonicalJson).

import type { LoadDatasetOptions } from '../data/registry.ts';
import type { TrainConfig } from './config.ts';
import type { EpochReport, TrainResult } from './trainer.ts';

export interface TrialRequest {
  /** caller's trial id, echoed in every reply */
  id: string;
  /** canonical ArchSpec JSON */
  arch: string;
  /** dataset name: fashion-mnist | mnist | folder:<path> | synthetic */
  dataset: string;
  datasetOptions?: LoadDatasetOptions;
  config: TrainConfig;
  evaluateTest?: boolean;
  /** save the trained weights (tfjs layers format) to this directory */
  saveDir?: string;
}

export type TrialResult = Omit<TrainResult, 'model'>;

export type ParentMessage =
  | { type: 'train'; request: TrialRequest }
  | { type: 'shutdown' };

export interface WireError {
  name: string;
  message: string;
  status?: number;
  stack?: string;
}

export type WorkerMessage =
  | { type: 'ready'; pid: number; backend: string }
  | { type: 'epoch'; id: string; report: EpochReport }
  | { type: 'done'; id: string; result: TrialResult }
  | { type: 'error'; id: string; error: WireError };

export function toWireError(e: unknown): WireError {
  if (e instanceof Error) {
    const status = (e as { status?: unknown }).status;
    return { name: e.name, message: e.message, status: typeof status === 'number' ? status : undefined, stack: e.stack };
  }
  return { name: 'Error', message: String(e) };
}
