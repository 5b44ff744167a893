// Transfer of a latency table to a host (or device) where only a subset of
// its kernels was measured: the measured kernels keep their measurements,
// every other kernel's time is predicted from its time in the source table.
// Two methods, both on the kernels' own times (entry less the empty-model
// baseline of its side), in log space:
//
//   per-class: log host = a + b log source, fitted per stratum (strata.ts)
//              when it has >= MIN_GROUP (3) measured kernels, else per class
//              (operator class at one input), else per operator class, else
//              over all; the slope b is kept in [0.8, 1.25] (1 below
//              MIN_SLOPE_POINTS kernels: a median offset);
//   features:  log(host / source) as a linear function of kernel features
//              (class, kernel size, stride, activation one-hot; log MACs,
//              log memory traffic, log weights, log source time), one fit
//              over all measured kernels (ml-regression).
//
// Which one is used is measured, not assumed: k-fold cross-validation over
// the measured kernels, scored by the time-weighted mean absolute relative
// error (a network's latency is dominated by its large kernels); the lower
// wins. The table records both scores.

import { MultivariateLinearRegression } from 'ml-regression';
import { kernelIoElems, kernelMacs } from './kernels.ts';
import { netKernelMs } from './calibration.ts';
import { classOf, kernelClass, stratumOf, type KernelClass, type TableKernel } from './strata.ts';
import { createRng } from '../space/rng.ts';
import { MeasurementError } from './runtime.ts';

export type TransferMethod = 'per-class' | 'features';
export const TRANSFER_METHODS: readonly TransferMethod[] = ['per-class', 'features'];

/** One measured kernel: its own time in the source table and on the target (each less its side's baseline), any units. */
export interface TransferPair {
  kernel: TableKernel;
  sourceNet: number;
  targetNet: number;
}

/** Predicts a kernel's own target time from its own source time. */
export type KernelMap = (k: TableKernel, sourceNet: number) => number;

const MIN_GROUP = 3;
const MIN_SLOPE_POINTS = 8;
const SLOPE_BOUNDS: readonly [number, number] = [0.8, 1.25];
/** Smallest own time considered (a kernel whose entry is at the baseline still costs something). */
const FLOOR = 1e-9;

const logOf = (x: number) => Math.log(Math.max(x, FLOOR));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
}

/** a + b x on log values, robust enough for a dozen points: the slope from least squares (bounded), the offset as the median residual. */
function fitLogLine(xs: number[], ys: number[]): (x: number) => number {
  let b = 1;
  if (xs.length >= MIN_SLOPE_POINTS) {
    const mx = xs.reduce((s, v) => s + v, 0) / xs.length;
    const my = ys.reduce((s, v) => s + v, 0) / ys.length;
    let sxy = 0, sxx = 0;
    for (let i = 0; i < xs.length; i++) {
      sxy += (xs[i] - mx) * (ys[i] - my);
      sxx += (xs[i] - mx) ** 2;
    }
    if (sxx > 1e-6) b = Math.min(SLOPE_BOUNDS[1], Math.max(SLOPE_BOUNDS[0], sxy / sxx));
  }
  const a = median(ys.map((y, i) => y - b * xs[i]));
  return (x) => a + b * x;
}

/** The per-class method: a log-log line per stratum, backing off to class, operator class and all kernels. */
export function fitPerClass(pairs: readonly TransferPair[]): KernelMap {
  if (pairs.length === 0) throw new MeasurementError('transfer needs at least one measured kernel');
  const levels: ((k: TableKernel) => string)[] = [stratumOf, classOf, (k) => kernelClass(k.kernel), () => 'all'];
  const fits = levels.map((key) => {
    const groups = new Map<string, [number[], number[]]>();
    for (const p of pairs) {
      const g = key(p.kernel);
      let v = groups.get(g);
      if (!v) groups.set(g, (v = [[], []]));
      v[0].push(logOf(p.sourceNet));
      v[1].push(logOf(p.targetNet));
    }
    const out = new Map<string, (x: number) => number>();
    for (const [g, [xs, ys]] of groups) if (xs.length >= MIN_GROUP || key === levels[3]) out.set(g, fitLogLine(xs, ys));
    return { key, out };
  });
  return (k, sourceNet) => {
    for (const f of fits) {
      const line = f.out.get(f.key(k));
      if (line) return Math.exp(line(logOf(sourceNet)));
    }
    throw new Error('unreachable: the last level covers every kernel');
  };
}

const CLASSES: readonly KernelClass[] = ['conv', 'dwconv', 'se', 'add', 'gap', 'dense'];
const KSIZES = [3, 5, 7];
const ACTS = ['relu6', 'hswish', 'swish', 'linear'];

function featureRow(k: TableKernel, sourceNet: number): number[] {
  const kk = k.kernel;
  const io = kernelIoElems(kk);
  return [
    ...CLASSES.map((c) => (kernelClass(kk) === c ? 1 : 0)), // conv1x1 is the reference level
    ...KSIZES.map((s) => (kk.op !== 'gap' && kk.kernel === s ? 1 : 0)),
    kk.stride === 2 ? 1 : 0,
    ...ACTS.map((a) => (kk.activation === a ? 1 : 0)), // relu is the reference level
    Math.log1p(kernelMacs(kk)), Math.log1p(io.inElems + io.outElems), Math.log1p(io.weightElems), logOf(sourceNet), Math.log(kk.inH),
  ];
}

/** The feature method: log(target/source) linear in kernel features; falls back to the per-class method when the fit is degenerate. */
export function fitFeatures(pairs: readonly TransferPair[]): KernelMap {
  const rows = pairs.map((p) => featureRow(p.kernel, p.sourceNet));
  const ys = pairs.map((p) => logOf(p.targetNet) - logOf(p.sourceNet));
  const fallback = fitPerClass(pairs);
  // columns that vary (a constant one-hot column would make the design singular)
  const cols = rows.length === 0 ? [] : rows[0].map((_, c) => c).filter((c) => rows.some((r) => Math.abs(r[c] - rows[0][c]) > 1e-12));
  if (rows.length < cols.length + 5) return fallback;
  let mlr: MultivariateLinearRegression;
  try {
    mlr = new MultivariateLinearRegression(rows.map((r) => cols.map((c) => r[c])), ys.map((y) => [y]), { intercept: true, statistics: false });
  } catch {
    return fallback;
  }
  const predictLog = (k: TableKernel, s: number) => (mlr.predict(cols.map((c) => featureRow(k, s)[c])) as number[])[0];
  if (!pairs.every((p) => Number.isFinite(predictLog(p.kernel, p.sourceNet)))) return fallback;
  return (k, s) => {
    const r = predictLog(k, s);
    return Number.isFinite(r) ? Math.exp(logOf(s) + r) : fallback(k, s);
  };
}

export const fitTransfer = (method: TransferMethod, pairs: readonly TransferPair[]): KernelMap => (method === 'per-class' ? fitPerClass(pairs) : fitFeatures(pairs));

export interface CrossValidation {
  method: TransferMethod;
  /** time-weighted mean |predicted / measured - 1| over the held-out kernels */
  weightedErr: number;
  /** fraction of held-out kernels within ±10% */
  within10: number;
  /** per class: time-weighted mean |error| of its held-out kernels */
  classErr: Record<string, number>;
}

/** k-fold cross-validation of a method over the measured kernels (seeded folds). */
export function crossValidate(method: TransferMethod, pairs: readonly TransferPair[], folds = 5, seed = 7): CrossValidation {
  if (pairs.length < folds * 2) throw new MeasurementError(`cross-validation needs at least ${folds * 2} measured kernels, got ${pairs.length}`);
  const rng = createRng(seed);
  const fold = pairs.map((_, i) => i % folds);
  for (let i = fold.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [fold[i], fold[j]] = [fold[j], fold[i]];
  }
  const errs: { cls: string; w: number; e: number }[] = [];
  for (let f = 0; f < folds; f++) {
    const train = pairs.filter((_, i) => fold[i] !== f);
    const map = fitTransfer(method, train);
    pairs.forEach((p, i) => {
      if (fold[i] !== f) return;
      errs.push({ cls: classOf(p.kernel), w: p.targetNet, e: Math.abs(map(p.kernel, p.sourceNet) / Math.max(p.targetNet, FLOOR) - 1) });
    });
  }
  const wmean = (xs: typeof errs) => xs.reduce((s, x) => s + x.w * x.e, 0) / Math.max(xs.reduce((s, x) => s + x.w, 0), FLOOR);
  const classErr: Record<string, number> = {};
  for (const cls of new Set(errs.map((x) => x.cls))) classErr[cls] = wmean(errs.filter((x) => x.cls === cls));
  return { method, weightedErr: wmean(errs), within10: errs.filter((x) => x.e <= 0.1).length / errs.length, classErr };
}

export interface ChosenTransfer {
  method: TransferMethod;
  map: KernelMap;
  /** cross-validation of both methods (empty when too few kernels were measured to compare: per-class is used) */
  crossValidation: CrossValidation[];
}

/** Both methods cross-validated on the measured kernels; the better one (or `forced`, for comparisons) fitted on all of them. */
export function chooseTransfer(pairs: readonly TransferPair[], forced?: TransferMethod): ChosenTransfer {
  let cv: CrossValidation[] = [];
  try {
    cv = TRANSFER_METHODS.map((m) => crossValidate(m, pairs));
  } catch (e) {
    if (!(e instanceof MeasurementError)) throw e;
  }
  const method = forced ?? (cv.length === 0 ? 'per-class' : cv.reduce((a, b) => (b.weightedErr < a.weightedErr ? b : a)).method);
  return { method, map: fitTransfer(method, pairs), crossValidation: cv };
}

/** The pairs of measured kernels: own times on both sides (entries less each side's baseline). */
export function transferPairs(kernels: readonly TableKernel[], source: (key: string) => number | undefined, sourceBaselineMs: number, measured: ReadonlyMap<string, number>, targetBaselineMs: number): TransferPair[] {
  const out: TransferPair[] = [];
  for (const k of kernels) {
    const s = source(k.key);
    const t = measured.get(k.key);
    if (s === undefined || t === undefined) continue;
    out.push({ kernel: k, sourceNet: netKernelMs(s, sourceBaselineMs), targetNet: netKernelMs(t, targetBaselineMs) });
  }
  return out;
}
