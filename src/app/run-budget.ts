// The time budget of a `nas run` while it runs: the plan made at submission
// (src/app/run-plan.ts) with what happened since — minutes spent per stage,
// the cuts decided on the way (each with its reason) and the throughput
// measured — stored with the model row (models.plan, migration 006) and
// returned by the API. Each stage's deadline is the job's start plus the
// planned minutes of every stage up to it, so minutes a stage leaves unused
// go to the next one. The job's clock counts the minutes spent in earlier
// runs of it (a resumed job continues its budget).

import type { InputShape } from '../space/types.ts';
import { resolveSearchOptions, usesSupernet } from '../search/options.ts';
import { DEFAULT_BN_IMAGES, DEFAULT_VALIDATION_IMAGES } from '../supernet/evaluator.ts';
import { RESCORE_TOP } from './run-stages/refine-inherit.ts';
import { gridCandidates } from '../refine/scaling.ts';
import type { RunOptions } from './run-options.ts';
import { defaultTrainConfig, type TrainConfig } from '../train/config.ts';
import {
  BUDGET_PROXY_EVAL_IMAGES, EVAL_COST, minutesAfter, minutesThrough, type PlanInput, type PlanStage, planRun, PREDICTOR_TRIAL_S, type Recipe, recipeMinutes, type RunPlan,
  SUPERNET_EVAL_OVERHEAD_S, TRIAL_OVERHEAD_S,
} from './run-plan.ts';

/** A cut made while the job ran, in the plan's cut order. */
export interface BudgetDecision {
  stage: PlanStage;
  what: string;
  planned: number;
  actual: number;
  reason: string;
}

/** The plan as stored with the model row and shown by the API. */
export interface StoredPlan extends RunPlan {
  /** minutes spent per stage so far (stages entered again by a hard-mode re-shrink add up) */
  actual: Partial<Record<PlanStage, number>>;
  decisions: BudgetDecision[];
  /** images/s this run's final training measured (the next plan's estimate on this dataset) */
  measuredImagesPerSec: number | null;
}

/**
 * Training throughput assumed when no run on the dataset measured one:
 * images/s at 28x28x1 (bench:train: 210-313 images/s for MobileNetV2-0.5 on
 * the 2-core machine, rounded down), scaled by the input's pixels.
 */
export const DEFAULT_IMAGES_PER_SEC_28x28 = 200;

export function defaultImagesPerSec(input: InputShape): number {
  return (DEFAULT_IMAGES_PER_SEC_28x28 * 28 * 28) / (input.height * input.width * input.channels);
}

export interface SplitCounts { train: number; validation: number; test: number }

/** The proxy recipe of grid candidates and NetAdapt: under a budget, validation and BN recalibration on at most BUDGET_PROXY_EVAL_IMAGES images. */
export function proxyConfig(o: RunOptions): Partial<TrainConfig> {
  if (o.budgetMinutes === null) return o.proxy;
  const cap = (v: number | undefined, def: number) => Math.min(v ?? def, BUDGET_PROXY_EVAL_IMAGES);
  return { ...o.proxy, validationSubset: cap(o.proxy.validationSubset, Infinity), bnRecalibrationImages: cap(o.proxy.bnRecalibrationImages, defaultTrainConfig().bnRecalibrationImages) };
}

/** A training configuration's cost as a Recipe on a dataset of these split sizes (`test`: it evaluates the test split). */
export function recipeOf(c: Partial<TrainConfig>, counts: SplitCounts, test = false): Recipe {
  const d = defaultTrainConfig(c);
  const images = Math.min(d.subset ?? counts.train, counts.train);
  return {
    epochs: d.epochs, images,
    evalImages: Math.min(d.validationSubset ?? counts.validation, counts.validation) / d.validateEvery + Math.min(d.bnRecalibrationImages, images),
    testImages: test ? counts.test : 0,
  };
}

/** The planner's input for a run's options on a dataset of these split sizes. */
export function planInputFor(o: RunOptions, counts: SplitCounts, throughput: { imagesPerSec: number; source: 'measured' | 'default' }): PlanInput {
  let search: PlanInput['search'] = null;
  let inheritImages: number | null = null;
  if (o.baseArch === null) {
    const so = resolveSearchOptions({ ...o.search, dataset: o.dataset, deviceId: o.deviceId, latencyTargetMs: o.latencyTargetMs });
    const maxWallMinutes = o.budgetMinutes === null && so.maxWallMs !== null ? so.maxWallMs / 60_000 : null;
    if (usesSupernet(so.evaluator)) {
      // one supernet evaluation: BN re-estimation and validation, forward passes only (src/supernet/evaluator.ts)
      const evalImages = EVAL_COST * (Math.min(DEFAULT_BN_IMAGES, counts.train) + Math.min(DEFAULT_VALIDATION_IMAGES, counts.validation));
      inheritImages = evalImages;
      search = so.evaluator === 'supernet'
        ? { maxTrials: so.maxTrials, parallel: 1, imagesPerTrial: evalImages, trialOverheadS: SUPERNET_EVAL_OVERHEAD_S, afterTrialsImages: 0, afterTrialsOverheadS: 0, maxWallMinutes }
        : {
          maxTrials: so.maxTrials, parallel: 1, imagesPerTrial: 0, trialOverheadS: PREDICTOR_TRIAL_S,
          afterTrialsImages: RESCORE_TOP * evalImages, afterTrialsOverheadS: RESCORE_TOP * SUPERNET_EVAL_OVERHEAD_S, maxWallMinutes,
        };
    } else {
      const p = so.proxy;
      const trial = recipeOf({ epochs: p.epochs, subset: p.subset, validationSubset: p.validationSubset, bnRecalibrationImages: p.bnRecalibrationImages }, counts);
      search = {
        maxTrials: so.maxTrials, parallel: so.maxParallelTrials, imagesPerTrial: trial.epochs * (trial.images + EVAL_COST * trial.evalImages),
        trialOverheadS: TRIAL_OVERHEAD_S, afterTrialsImages: 0, afterTrialsOverheadS: 0, maxWallMinutes,
      };
    }
  }
  return {
    budgetMinutes: o.budgetMinutes, search, inheritImages,
    proxy: recipeOf(proxyConfig(o), counts), final: recipeOf(o.final, counts, true),
    gridCandidates: gridCandidates(o.scaling.grid).length, formats: o.formats.length,
    imagesPerSec: throughput.imagesPerSec, throughputSource: throughput.source,
  };
}

export function newStoredPlan(input: PlanInput): StoredPlan {
  return { ...planRun(input), actual: {}, decisions: [], measuredImagesPerSec: null };
}

/** The budget of one running job: its clock, the stage deadlines, the decisions. */
export class RunBudget {
  private readonly t0: number;

  constructor(readonly state: StoredPlan, private readonly clock: () => number) {
    const priorMs = Object.values(state.actual).reduce((s, m) => s + (m ?? 0), 0) * 60_000;
    this.t0 = clock() - priorMs;
  }

  /** whether the plan has a budget to hold (else it only estimates) */
  get enforced(): boolean {
    return this.state.budgetMinutes !== null;
  }

  elapsedMs(): number {
    return this.clock() - this.t0;
  }

  /** ms left until `stage`'s deadline (Infinity without a budget; negative when past it) */
  remainingMs(stage: PlanStage): number {
    return this.enforced ? minutesThrough(this.state, stage) * 60_000 - this.elapsedMs() : Infinity;
  }

  past(stage: PlanStage): boolean {
    return this.remainingMs(stage) <= 0;
  }

  /** seconds planned for the stages after `stage` (the rest of the job's ETA) */
  laterS(stage: PlanStage): number {
    return minutesAfter(this.state, stage) * 60;
  }

  decide(d: BudgetDecision): BudgetDecision {
    this.state.decisions.push(d);
    return d;
  }

  addActual(stage: PlanStage, ms: number): void {
    this.state.actual[stage] = (this.state.actual[stage] ?? 0) + ms / 60_000;
  }
}

/**
 * Training throughput measured in this job: the last training's images/s,
 * scaled down for a network with more MACs (never assumed faster for a
 * smaller one); the plan's assumption before any training ran.
 */
export class Throughput {
  private last: { macs: number; imagesPerSec: number } | null = null;

  constructor(private readonly assumed: number) {}

  record(macs: number, imagesPerSec: number): void {
    if (Number.isFinite(imagesPerSec) && imagesPerSec > 0 && macs > 0) this.last = { macs, imagesPerSec };
  }

  get measured(): boolean {
    return this.last !== null;
  }

  /** whether the last measurement was of a network of exactly `macs` (no extrapolation needed) */
  measuredFor(macs: number): boolean {
    return this.last !== null && this.last.macs === macs;
  }

  imagesPerSec(macs: number): number {
    if (!this.last) return this.assumed;
    return this.last.imagesPerSec * Math.min(1, this.last.macs / macs);
  }

  /** minutes of a training run of a network of `macs` */
  minutes(r: Recipe, macs: number): number {
    return recipeMinutes(r, this.imagesPerSec(macs));
  }
}
