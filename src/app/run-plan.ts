// The time plan of a whole `nas run` job (HTTP `run: true`), made when
// the job is submitted: minutes per stage (search, refine, final training,
// measurement, export with verification) from the user's budget, the run's
// options and a training-throughput estimate, and the work that fits in them.
// A pure function; src/app/run-budget.ts enforces it while the job runs.
//
// Shares, in order:
//  1. measurement and export/verification get fixed reserves
//     (MEASURE_MINUTES, EXPORT_MINUTES_PER_FORMAT; together at most
//     RESERVE_MAX_SHARE of the budget). They are never cut.
//  2. the search gets its estimated full cost (trials x what scoring one
//     costs at the assumed throughput: a proxy training, a supernet
//     evaluation, or a predictor call; plus re-scoring the predictor's best
//     with the supernet), at most SEARCH_MAX_SHARE of the rest;
//  3. final training gets its full recipe, leaving the refinement at least
//     REFINE_MIN_SHARE of what remains; the refinement gets the rest.
//  Unused minutes go to the search (up to its full cost), then stay with the
//  refinement; the shares add up to the budget. Without a budget the plan is
//  the estimated full cost of each stage (nothing cut, nothing enforced).
//
// When the budget is short, work is cut in this order (CUT_ORDER):
//  1. fewer scaling-grid candidates (down to 1: EfficientNet's triple);
//  2. a shorter proxy recipe per grid candidate and NetAdapt training
//     (fewer epochs, then fewer images) and, at run time, fewer NetAdapt
//     steps (larger latency reductions per step); NetAdapt steps past the
//     refine deadline are taken without fine-tuning;
//  3. a shorter final recipe: fewer epochs (down to 1), then fewer images;
//  never: verification, export, measurement.
// A supernet-scored run (evaluator supernet or predictor) refines by
// inheriting the base's weights from the supernet (one evaluation, no
// training, no grid): its refine stage is planned at that cost, and the
// minutes a grid would have had go to the final training.

export const PLAN_STAGES = ['search', 'refine', 'final-training', 'measure', 'export'] as const;
export type PlanStage = (typeof PLAN_STAGES)[number];

export const CUT_ORDER = [
  'scaling-grid candidates',
  'proxy recipe per grid candidate / NetAdapt training (epochs, then images; fewer NetAdapt steps)',
  'final-training epochs',
  'final-training images',
] as const;

/** measurement on the device's runtime (host wall clock), a reserve */
export const MEASURE_MINUTES = 0.5;
/** export + verification in the interpreter, per format, a reserve */
export const EXPORT_MINUTES_PER_FORMAT = 0.25;
/** the two reserves together take at most this share of a budget */
export const RESERVE_MAX_SHARE = 0.2;
/** the search takes at most this share of what the reserves leave */
export const SEARCH_MAX_SHARE = 0.4;
/** the refinement keeps at least this share of what the search leaves */
export const REFINE_MIN_SHARE = 0.2;
/** a grid candidate (phi = 1: about 2x the base's FLOPs) trains at about half the base's images/s */
export const CANDIDATE_COST_FACTOR = 2;
/** augmentation, batching and model building on top of the images' forward and backward passes */
export const TRAIN_OVERHEAD = 1.1;
/** an evaluated image (validation, test, BN recalibration: forward only) costs this fraction of a trained one */
export const EVAL_COST = 1 / 3;
/** a proxy search trial's start (worker process, dataset, model build), seconds */
export const TRIAL_OVERHEAD_S = 10;
/** a supernet evaluation's own work besides its forward passes (weight extraction, model build), seconds */
export const SUPERNET_EVAL_OVERHEAD_S = 1;
/**
 * a trial scored by the accuracy predictor (strategy step, latency
 * prediction, predictor call, trial row), seconds: bench:run's 2,000-trial
 * predictor search took about 30 s on the 2-core machine; rounded up
 */
export const PREDICTOR_TRIAL_S = 0.05;
/** the fewest training images a cut leaves (a run of fewer says nothing) */
export const MIN_TRAIN_IMAGES = 256;
/** under a budget, proxy trainings (grid candidates, NetAdapt) validate on and recalibrate BN with at most this many images, as a search's trials do */
export const BUDGET_PROXY_EVAL_IMAGES = 1000;

/**
 * One training run: `epochs` x `images` trained; each epoch also evaluates
 * `evalImages` (validation + BN recalibration), and the run `testImages` once.
 */
export interface Recipe {
  epochs: number;
  images: number;
  evalImages: number;
  testImages: number;
}

export interface PlanInput {
  /** the whole job's wall-time budget; null: no budget (the plan estimates, nothing is cut) */
  budgetMinutes: number | null;
  /** the search's trials; null when a base architecture is given */
  search: null | {
    maxTrials: number;
    parallel: number;
    /** trained-image equivalents of scoring one trial: its proxy training, or a supernet evaluation's forward passes; 0 for the predictor */
    imagesPerTrial: number;
    /** seconds per trial besides those images (TRIAL_OVERHEAD_S, SUPERNET_EVAL_OVERHEAD_S, PREDICTOR_TRIAL_S) */
    trialOverheadS: number;
    /** trained-image equivalents spent after the trials, within the search stage (the predictor's best re-scored by the supernet); 0 if none */
    afterTrialsImages: number;
    /** seconds after the trials besides those images (loading the supernet, extracting each re-scored subnet) */
    afterTrialsOverheadS: number;
    maxWallMinutes: number | null;
  };
  /**
   * a supernet-scored run: the refine stage inherits the base's weights at
   * the cost of one supernet evaluation (these trained-image equivalents,
   * plus SUPERNET_EVAL_OVERHEAD_S) instead of proxy-training grid candidates;
   * null: proxy refinement (NetAdapt or scaling)
   */
  inheritImages: number | null;
  /** proxy recipe of grid candidates and NetAdapt training */
  proxy: Recipe;
  final: Recipe;
  gridCandidates: number;
  formats: number;
  /** training throughput assumed for the plan (images/s) */
  imagesPerSec: number;
  throughputSource: 'measured' | 'default';
}

export interface PlanCut {
  stage: PlanStage;
  what: string;
  from: number;
  to: number;
}

export interface RunPlan {
  budgetMinutes: number | null;
  /** minutes per stage, in run order; they add up to budgetMinutes when there is one */
  minutes: Record<PlanStage, number>;
  work: {
    searchTrials: number | null;
    gridCandidates: number;
    gridCandidatesTotal: number;
    /** one round of parallel search trials plus the work after the trials, minutes (the search stops starting trials this long before its deadline) */
    searchRoundMinutes: number | null;
    /** proxy recipe per grid candidate / NetAdapt training run */
    proxyEpochs: number;
    proxyImages: number;
    finalEpochs: number;
    finalImages: number;
    formats: number;
  };
  /** what the plan cut to fit the budget, in CUT_ORDER */
  cuts: PlanCut[];
  imagesPerSec: number;
  throughputSource: 'measured' | 'default';
}

/** Minutes to train `images` trained-image equivalents (with TRAIN_OVERHEAD) at `imagesPerSec`. */
export function trainMinutes(images: number, imagesPerSec: number): number {
  return (images * TRAIN_OVERHEAD) / imagesPerSec / 60;
}

/** Trained-image equivalents that fit in `minutes` at `imagesPerSec` (inverse of trainMinutes). */
export function imagesIn(minutes: number, imagesPerSec: number): number {
  return Math.floor((Math.max(0, minutes) * 60 * imagesPerSec) / TRAIN_OVERHEAD);
}

/** Minutes of a training run at `imagesPerSec`, its evaluations included. */
export function recipeMinutes(r: Recipe, imagesPerSec: number): number {
  return trainMinutes(r.epochs * (r.images + EVAL_COST * r.evalImages) + EVAL_COST * r.testImages, imagesPerSec);
}

/**
 * The recipe that fits `minutes`: fewer epochs first (down to 1), then fewer
 * images (down to MIN_TRAIN_IMAGES, never more than given); evaluations are
 * kept (they cost what they cost).
 */
export function fitRecipe(r: Recipe, minutes: number, imagesPerSec: number): Recipe {
  const fits = (Math.max(0, minutes) * 60 * imagesPerSec) / TRAIN_OVERHEAD - EVAL_COST * r.testImages;
  const perEpoch = r.images + EVAL_COST * r.evalImages;
  const epochs = Math.max(1, Math.min(r.epochs, Math.floor(fits / perEpoch + 1e-9)));
  const images = epochs > 1 || fits >= perEpoch ? r.images : Math.min(r.images, Math.max(MIN_TRAIN_IMAGES, Math.floor(fits - EVAL_COST * r.evalImages)));
  return { ...r, epochs, images };
}

/** One round of parallel trials: they share the cores, so it takes as long as all of them one after another. */
function roundMinutes(s: NonNullable<PlanInput['search']>, ips: number): number {
  return trainMinutes(s.parallel * s.imagesPerTrial, ips) + s.trialOverheadS / 60;
}

/** Minutes of the work after the trials (re-scoring), inside the search stage. */
function afterTrialsMinutes(s: NonNullable<PlanInput['search']>, ips: number): number {
  return (s.afterTrialsImages > 0 ? trainMinutes(s.afterTrialsImages, ips) : 0) + s.afterTrialsOverheadS / 60;
}

/** What the search holds back before its deadline: a round of trials in flight, then the work after the trials. */
function searchRoundMinutes(s: NonNullable<PlanInput['search']>, ips: number): number {
  return roundMinutes(s, ips) + afterTrialsMinutes(s, ips);
}

function searchFullMinutes(s: NonNullable<PlanInput['search']>, ips: number): number {
  const trials = Math.ceil(s.maxTrials / Math.max(1, s.parallel)) * roundMinutes(s, ips);
  // the search's own wall-time stop ends its trials; the re-scoring runs after it
  return (s.maxWallMinutes === null ? trials : Math.min(trials, s.maxWallMinutes)) + afterTrialsMinutes(s, ips);
}

export function planRun(i: PlanInput): RunPlan {
  if (!(i.imagesPerSec > 0)) throw new RangeError(`a plan needs a positive throughput, got ${i.imagesPerSec} images/s`);
  if (i.budgetMinutes !== null && !(i.budgetMinutes > 0)) throw new RangeError(`budget minutes must be > 0, got ${i.budgetMinutes}`);
  const ips = i.imagesPerSec;
  const candidateMinutes = recipeMinutes(i.proxy, ips / CANDIDATE_COST_FACTOR);
  const inherit = i.inheritImages !== null;
  const grid = inherit ? 0 : i.gridCandidates;
  const full = {
    search: i.search ? searchFullMinutes(i.search, ips) : 0,
    refine: inherit ? trainMinutes(i.inheritImages!, ips) + SUPERNET_EVAL_OVERHEAD_S / 60 : grid * candidateMinutes,
    final: recipeMinutes(i.final, ips),
    measure: MEASURE_MINUTES,
    export: i.formats * EXPORT_MINUTES_PER_FORMAT,
  };
  const work: RunPlan['work'] = {
    searchTrials: i.search?.maxTrials ?? null, searchRoundMinutes: i.search ? searchRoundMinutes(i.search, ips) : null,
    gridCandidates: grid, gridCandidatesTotal: grid,
    proxyEpochs: i.proxy.epochs, proxyImages: i.proxy.images, finalEpochs: i.final.epochs, finalImages: i.final.images, formats: i.formats,
  };
  const base = { imagesPerSec: ips, throughputSource: i.throughputSource };
  if (i.budgetMinutes === null) {
    return {
      budgetMinutes: null, ...base, work, cuts: [],
      minutes: { search: full.search, refine: full.refine, 'final-training': full.final, measure: full.measure, export: full.export },
    };
  }
  const B = i.budgetMinutes;
  const reserves = full.measure + full.export;
  const scale = Math.min(1, (RESERVE_MAX_SHARE * B) / reserves);
  const measure = full.measure * scale;
  const exportMin = full.export * scale;
  const R = B - measure - exportMin;
  let search = i.search ? Math.min(full.search, SEARCH_MAX_SHARE * R) : 0;
  const R2 = R - search;
  // an inherited refinement needs only its one evaluation; a proxy refinement keeps at least REFINE_MIN_SHARE
  const final = Math.min(full.final, inherit ? Math.max(0, R2 - full.refine) : (1 - REFINE_MIN_SHARE) * R2);
  let refine = R2 - final;
  if (refine > full.refine && i.search) {
    const give = Math.min(refine - full.refine, full.search - search);
    search += give;
    refine -= give;
  }
  const cuts: PlanCut[] = [];
  // 1. grid candidates, 2. images per candidate (a proxy refinement's)
  const fitCandidates = inherit ? 0 : Math.max(1, Math.min(grid, Math.floor(refine / candidateMinutes)));
  if (fitCandidates < grid) cuts.push({ stage: 'refine', what: CUT_ORDER[0], from: grid, to: fitCandidates });
  work.gridCandidates = fitCandidates;
  if (!inherit && candidateMinutes > refine) {
    const proxy = fitRecipe(i.proxy, refine, ips / CANDIDATE_COST_FACTOR);
    if (proxy.epochs < i.proxy.epochs) cuts.push({ stage: 'refine', what: `${CUT_ORDER[1]}: epochs`, from: i.proxy.epochs, to: proxy.epochs });
    if (proxy.images < i.proxy.images) cuts.push({ stage: 'refine', what: `${CUT_ORDER[1]}: images`, from: i.proxy.images, to: proxy.images });
    work.proxyEpochs = proxy.epochs;
    work.proxyImages = proxy.images;
  }
  // 3. final epochs, 4. final images
  const recipe = fitRecipe(i.final, final, ips);
  if (recipe.epochs < i.final.epochs) cuts.push({ stage: 'final-training', what: CUT_ORDER[2], from: i.final.epochs, to: recipe.epochs });
  if (recipe.images < i.final.images) cuts.push({ stage: 'final-training', what: CUT_ORDER[3], from: i.final.images, to: recipe.images });
  work.finalEpochs = recipe.epochs;
  work.finalImages = recipe.images;
  return {
    budgetMinutes: B, ...base, work, cuts,
    minutes: { search, refine, 'final-training': final, measure, export: exportMin },
  };
}

/** Minutes planned for the stages after `stage` (run order). */
export function minutesAfter(plan: RunPlan, stage: PlanStage): number {
  return PLAN_STAGES.slice(PLAN_STAGES.indexOf(stage) + 1).reduce((s, k) => s + plan.minutes[k], 0);
}

/** Minutes planned up to and including `stage`: its deadline, counted from the job's start. */
export function minutesThrough(plan: RunPlan, stage: PlanStage): number {
  return PLAN_STAGES.slice(0, PLAN_STAGES.indexOf(stage) + 1).reduce((s, k) => s + plan.minutes[k], 0);
}

/** One line: `plan for a 10 min budget: search 3.5, refine 1.1, ... min; cuts: ...`. */
export function describePlan(plan: RunPlan): string {
  const m = PLAN_STAGES.map((k) => `${k} ${plan.minutes[k].toFixed(plan.minutes[k] < 1 ? 2 : 1)}`).join(', ');
  const head = plan.budgetMinutes === null ? 'time estimate (no budget)' : `plan for a ${plan.budgetMinutes} min budget`;
  const cuts = plan.cuts.map((c) => `${c.what} ${c.from} -> ${c.to}`).join('; ');
  return `${head}: ${m} min at ${plan.imagesPerSec.toFixed(0)} images/s (${plan.throughputSource})${cuts ? `; planned cuts: ${cuts}` : ''}`;
}
