// Profiling a device on a local runtime: enumerate the space's kernels for
// each target input, measure each as a one-kernel model (minus an empty-model
// baseline recorded), then measure a sample of whole networks to fit the per-network
// overhead and to check how well kernel sums add up (fusion check). Returns a
// complete table; the caller saves it. Any failure throws, so a partial
// table never reaches disk; with a PartialProfile (partial.ts) each kernel
// is appended to it as it is measured, and a rerun skips what it holds.

import { MultivariateLinearRegression } from 'ml-regression';
import { expandNetwork } from '../space/network.ts';
import { createRng } from '../space/rng.ts';
import { sampleArch } from '../space/sampler.ts';
import type { Skeleton } from '../space/skeleton.ts';
import type { InputShape } from '../space/types.ts';
import type { DeviceProfile } from './device.ts';
import { enumerateSpaceKernels } from './enumerate.ts';
import { decomposePlan, kernelPlan, type DecomposedKernel } from './kernels.ts';
import { describeMachine } from './machine.ts';
import type { PartialProfile } from './partial.ts';
import { createPredictor } from './predictor.ts';
import { MeasurementError, REFERENCE_ID, type Measurer } from './runtime.ts';
import { median } from './stats.ts';
import { LATENCY_SPACE_VERSION, TABLE_FORMAT, TABLE_FORMAT_VERSION, type LatencyTable, type OverheadModel, type TableEntry } from './table.ts';

export interface ProfileTarget {
  skeleton: Skeleton;
  input: InputShape;
}

export interface ProfileOptions {
  device: DeviceProfile;
  measurer: Measurer;
  targets: ProfileTarget[];
  numClasses: number;
  /** measure at most this many kernels per target (deterministic random subset); default all */
  maxKernelsPerTarget?: number;
  /** whole networks measured to fit the overhead model (default 30) */
  calibrationNetworks?: number;
  seed?: number;
  /** abort (throw) when profiling takes longer than this */
  timeBudgetMs?: number;
  onProgress?: (message: string) => void;
  /** measurements kept on disk as they are made; those it already holds are not measured again */
  partial?: PartialProfile;
}

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rng = createRng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The kernels a profile measures, per target, in measuring order. */
export function profileKernels(opts: Pick<ProfileOptions, 'targets' | 'numClasses' | 'maxKernelsPerTarget' | 'seed'>): DecomposedKernel[] {
  const seen = new Set<string>();
  const out: DecomposedKernel[] = [];
  for (const t of opts.targets) {
    let ks = enumerateSpaceKernels({ skeleton: t.skeleton, input: t.input, numClasses: opts.numClasses });
    if (opts.maxKernelsPerTarget !== undefined && ks.length > opts.maxKernelsPerTarget) {
      ks = shuffled(ks, opts.seed ?? 1).slice(0, opts.maxKernelsPerTarget);
    }
    for (const k of ks) if (!seen.has(k.key)) (seen.add(k.key), out.push(k));
  }
  return out;
}

/** The empty-model baseline: a 1x1x8 add, the cheapest network a runtime can hold. */
export const BASELINE_KERNEL = { op: 'add', kernel: 1, stride: 1, inC: 8, outC: 8, inH: 1, inW: 1, expansion: 1, activation: 'linear' } as const;

export interface CalibrationPoint {
  measuredMs: number;
  kernelSumMs: number;
  nKernels: number;
  outMelems: number;
  /** the network's input ("28x28x1"), for a fit with one slope per input */
  input?: string;
}

/** Networks per input a fit with one slope per input needs (each input), and inputs it needs. */
export const PER_INPUT_MIN_NETWORKS = 6;

/** Whether these points allow one slope per input: every point names its input, >= 2 inputs, each with PER_INPUT_MIN_NETWORKS. */
export function canFitPerInput(points: readonly { input?: string }[]): boolean {
  const counts = new Map<string, number>();
  for (const p of points) {
    if (p.input === undefined) return false;
    counts.set(p.input, (counts.get(p.input) ?? 0) + 1);
  }
  return counts.size >= 2 && [...counts.values()].every((n) => n >= PER_INPUT_MIN_NETWORKS);
}

/**
 * Overhead model e2e = slope*sum + perKernel*n + perOutMelem*Melems + intercept, fitted on relative error.
 * perInput: one slope per input (the points must allow it: canFitPerInput); `slope` is then their
 * network-weighted mean, for other inputs.
 */
export function fitOverhead(points: CalibrationPoint[], o: { perInput?: boolean } = {}): OverheadModel {
  if (points.length < 5) throw new MeasurementError(`need at least 5 calibration networks to fit the overhead, got ${points.length}`);
  if (o.perInput) {
    if (!canFitPerInput(points)) throw new MeasurementError(`a slope per input needs >= 2 inputs with >= ${PER_INPUT_MIN_NETWORKS} networks each, every network naming its input`);
    const inputs = [...new Set(points.map((p) => p.input!))].sort();
    const mlr = new MultivariateLinearRegression(
      points.map((p) => [...inputs.map((i) => (p.input === i ? p.kernelSumMs / p.measuredMs : 0)), p.nKernels / p.measuredMs, p.outMelems / p.measuredMs, 1 / p.measuredMs]),
      points.map(() => [1]),
      { intercept: false, statistics: false },
    );
    const w = mlr.weights.map((r) => r[0]);
    const [perKernelMs, perOutMelemMs, interceptMs] = w.slice(inputs.length);
    const slopeByInput = Object.fromEntries(inputs.map((i, j) => [i, w[j]]));
    if (!w.every(Number.isFinite)) throw new MeasurementError('overhead fit failed (degenerate calibration networks)');
    const slope = points.reduce((s, p) => s + slopeByInput[p.input!], 0) / points.length;
    return { slope, perKernelMs, perOutMelemMs, interceptMs, slopeByInput, fittedOn: points.length };
  }
  // Least squares on relative error (rows divided by the measured time), so that
  // 224x224 networks of 50 ms do not outweigh 28x28 networks of 1 ms.
  const mlr = new MultivariateLinearRegression(
    points.map((p) => [p.kernelSumMs / p.measuredMs, p.nKernels / p.measuredMs, p.outMelems / p.measuredMs, 1 / p.measuredMs]),
    points.map(() => [1]),
    { intercept: false, statistics: false },
  );
  const [[slope], [perKernelMs], [perOutMelemMs], [interceptMs]] = mlr.weights;
  if (![slope, perKernelMs, perOutMelemMs, interceptMs].every(Number.isFinite)) throw new MeasurementError('overhead fit failed (degenerate calibration networks)');
  return { slope, perKernelMs, perOutMelemMs, interceptMs, fittedOn: points.length };
}

/** Re-measure a table's calibration networks (more rounds, same unit) and refit its overhead model. */
export async function recalibrate(table: LatencyTable, opts: Omit<ProfileOptions, 'device'>): Promise<LatencyTable> {
  if (opts.measurer.referenceMs !== table.measure.referenceMs) throw new MeasurementError('recalibrate: the measurer must use the table\'s reference latency');
  const n = opts.calibrationNetworks ?? table.calibration?.networks ?? 30;
  const points = await measureCalibration(table, { ...opts, device: table.device }, n, () => {});
  const baselineMs = table.measure.baselineMs;
  return {
    ...table,
    measure: { ...table.measure, networkRepeats: opts.measurer.options.networkRepeats },
    overhead: fitOverhead(points),
    calibration: {
      networks: points.length, seed: opts.seed ?? 1,
      medianSumOverMeasured: median(points.map((p) => (p.kernelSumMs - (p.nKernels - 1) * baselineMs) / p.measuredMs)),
    },
  };
}

export async function profileDevice(opts: ProfileOptions): Promise<LatencyTable> {
  const { measurer, device } = opts;
  const runtime = measurer.runtime;
  if (runtime.id !== device.runtime) throw new MeasurementError(`device ${device.id} uses runtime ${device.runtime}, not ${runtime.id}`);
  const t0 = Date.now();
  const checkTime = () => {
    if (opts.timeBudgetMs !== undefined && Date.now() - t0 > opts.timeBudgetMs) {
      throw new MeasurementError(`profiling exceeded its time budget of ${(opts.timeBudgetMs / 1000).toFixed(0)} s; no table written`);
    }
  };
  const log = opts.onProgress ?? (() => {});
  const partial = opts.partial;
  let baselineMs: number;
  if (partial?.baseline) {
    baselineMs = partial.baseline.latencyMs;
  } else {
    const tb = performance.now();
    const b = await measurer.measure(kernelPlan({ ...BASELINE_KERNEL }));
    baselineMs = b.medianMs;
    partial?.add({ t: 'baseline', latencyMs: b.medianMs, rawMs: b.medianMs, relIqr: b.relIqr, repeats: b.repeats, s: (performance.now() - tb) / 1000 });
  }
  log(`baseline (empty model) ${baselineMs.toFixed(4)} ms`);
  const kernels = profileKernels(opts);
  const entries: Record<string, TableEntry> = {};
  if (partial && partial.kernels.size > 0) log(`resuming: ${partial.kernels.size} of ${kernels.length} kernels measured before (${partial.path})`);
  let i = 0;
  for (const k of kernels) {
    const kept = partial?.kernels.get(k.key);
    if (kept) {
      entries[k.key] = kept;
      i++;
      continue;
    }
    const tk = performance.now();
    let r;
    // A kernel whose repeats disagree (a burst of load) is measured afresh, up to 3 more times.
    for (let attempt = 1; !r; attempt++) {
      try {
        r = await measurer.measure(kernelPlan(k.kernel, opts.numClasses));
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        if (attempt >= 4) throw new MeasurementError(`kernel ${k.key}: ${e.message}`);
        log(`kernel ${k.key}: repeats disagreed, measuring again (${attempt}/3)`);
      }
    }
    entries[k.key] = { latencyMs: r.medianMs, rawMs: r.medianMs, relIqr: r.relIqr, repeats: r.repeats };
    partial?.add({ t: 'kernel', key: k.key, ...entries[k.key], s: (performance.now() - tk) / 1000 });
    if (++i % 200 === 0) {
      log(`kernels ${i}/${kernels.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      checkTime();
    }
  }
  const table: LatencyTable = {
    format: TABLE_FORMAT,
    formatVersion: TABLE_FORMAT_VERSION,
    spaceVersion: LATENCY_SPACE_VERSION,
    device: { ...device, runtimeVersion: runtime.version, threads: runtime.threads },
    machine: describeMachine(),
    createdAt: new Date().toISOString(),
    inputs: opts.targets.map((t) => ({
      skeleton: t.skeleton.name, input: `${t.input.height}x${t.input.width}x${t.input.channels}`, numClasses: opts.numClasses,
      kernels: enumerateSpaceKernels({ skeleton: t.skeleton, input: t.input, numClasses: opts.numClasses }).length,
    })),
    measure: {
      ...measurer.options, reference: measurer.options.useReference ? REFERENCE_ID : null,
      referenceMs: measurer.referenceMs, baselineMs,
    },
    overhead: null,
    entries,
  };
  const nCal = opts.calibrationNetworks ?? 30;
  if (nCal > 0) {
    const points = await measureCalibration(table, opts, nCal, checkTime);
    table.overhead = fitOverhead(points);
    table.calibration = {
      networks: points.length,
      seed: opts.seed ?? 1,
      medianSumOverMeasured: median(points.map((p) => (p.kernelSumMs - (p.nKernels - 1) * baselineMs) / p.measuredMs)),
    };
    log(`overhead fitted on ${points.length} networks: ${JSON.stringify(table.overhead)}`);
  }
  return table;
}

export async function measureCalibration(table: LatencyTable, opts: ProfileOptions, n: number, checkTime: () => void): Promise<CalibrationPoint[]> {
  const predictor = createPredictor({ ...table, overhead: null });
  const rng = createRng((opts.seed ?? 1) + 1_000_003);
  const points: CalibrationPoint[] = [];
  for (let i = 0; i < n; i++) {
    const t = opts.targets[i % opts.targets.length];
    const plan = expandNetwork(sampleArch(t.skeleton, rng), t.input, opts.numClasses);
    const ks = decomposePlan(plan);
    let r;
    for (let attempt = 1; !r; attempt++) {
      try {
        r = await opts.measurer.measure(plan, opts.measurer.options.networkRepeats);
      } catch (e) {
        if (!(e instanceof MeasurementError) || attempt >= 4) throw e;
      }
    }
    const pk = predictor.predictKernels(ks);
    points.push({ measuredMs: r.medianMs, kernelSumMs: pk.kernelSumMs, nKernels: ks.length, outMelems: pk.outMelems });
    checkTime();
  }
  return points;
}
