// Options of `nas run` as given (RunOptionsInput: CLI flags, an HTTP body, a
// job payload) and as stored and run (RunOptions: every default filled in,
// every training recipe validated up front). The stored JSON goes back
// through resolveRunOptions on resume, so a run continues with the options it
// started with.

import { EXPORT_FORMATS, type ExportFormat } from '../export/export-model.ts';
import type { NetAdaptSchedule } from '../refine/netadapt.ts';
import type { Grid } from '../refine/scaling.ts';
import type { SearchOptionsInput } from '../search/options.ts';
import { defaultTrainConfig, type TrainConfig } from '../train/config.ts';

export interface RunOptions {
  dataset: string;
  deviceId: string;
  latencyTargetMs: number;
  mode: 'hard' | 'soft';
  /**
   * the whole job's wall-time budget in minutes, shared among the stages by
   * its plan (src/app/run-plan.ts) and held by cutting work; null: no budget
   * (the search's own budgets only)
   */
  budgetMinutes: number | null;
  /** skip the search and start from this architecture (preset, block strings or ArchSpec JSON) */
  baseArch: string | null;
  /** passed to the search (strategy, maxTrials, proxy recipe, ...) */
  search: Partial<SearchOptionsInput>;
  seed: number;
  /** proxy training: the base before NetAdapt, each scaling-grid candidate */
  proxy: Partial<TrainConfig>;
  /** scale up when the base is predicted under (1 - scaleUpSlack) x T */
  scaleUpSlack: number;
  /** maxMinutes: wall time for the scaling grid (default: the budget's refine share when budgeted, else the whole grid) */
  scaling: { grid?: Grid; maxPhi?: number; maxMinutes?: number };
  netadapt: { schedule?: Partial<NetAdaptSchedule>; shortTune?: Partial<TrainConfig>; maxSteps?: number };
  /** final training recipe (longer schedule, crop augmentation) */
  final: Partial<TrainConfig>;
  formats: ExportFormat[];
  /** hard mode: re-shrinks after a measurement over T */
  hardRetries: number;
}

export type RunOptionsInput = Partial<RunOptions> & Pick<RunOptions, 'dataset' | 'deviceId' | 'latencyTargetMs'>;

export class RunInputError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'RunInputError';
  }
}

export function resolveRunOptions(i: RunOptionsInput): RunOptions {
  if (!(typeof i.latencyTargetMs === 'number' && i.latencyTargetMs > 0 && Number.isFinite(i.latencyTargetMs))) {
    throw new RunInputError(`latency target must be a positive number of ms, got ${String(i.latencyTargetMs)}`);
  }
  const mode = i.mode ?? 'hard';
  if (mode !== 'hard' && mode !== 'soft') throw new RunInputError(`mode must be hard or soft, got "${String(mode)}"`);
  if (i.budgetMinutes != null && !(i.budgetMinutes > 0)) throw new RunInputError(`budget minutes must be > 0, got ${i.budgetMinutes}`);
  const formats = i.formats ?? [...EXPORT_FORMATS];
  for (const f of formats) if (!EXPORT_FORMATS.includes(f)) throw new RunInputError(`unknown export format "${f}" (known: ${EXPORT_FORMATS.join(', ')})`);
  if (i.scaling?.maxMinutes != null && !(i.scaling.maxMinutes > 0)) throw new RunInputError(`scaling max minutes must be > 0, got ${i.scaling.maxMinutes}`);
  const hardRetries = i.hardRetries ?? 3;
  if (!(Number.isInteger(hardRetries) && hardRetries >= 0 && hardRetries <= 10)) throw new RunInputError(`hard retries must be an integer in [0, 10], got ${hardRetries}`);
  const o: RunOptions = {
    dataset: i.dataset, deviceId: i.deviceId, latencyTargetMs: i.latencyTargetMs, mode, budgetMinutes: i.budgetMinutes ?? null,
    baseArch: i.baseArch ?? null, search: i.search ?? {}, seed: i.seed ?? 1,
    proxy: { epochs: 2, optimizer: 'adam', ...i.proxy },
    scaleUpSlack: i.scaleUpSlack ?? 0.1, scaling: i.scaling ?? {}, netadapt: i.netadapt ?? {},
    final: { epochs: 10, optimizer: 'adam', cropPadding: 2, ...i.final }, formats, hardRetries,
  };
  // validate every recipe now, not hours later
  for (const c of [o.proxy, o.final, o.netadapt.shortTune ?? {}]) defaultTrainConfig(c);
  return o;
}
