// Latency predictor: sum of the device's table entries for the network's
// kernels, a regression for kernels the table lacks (never 0 ms; coverage
// says how many were found), and the table's fitted per-network overhead.

import type { ArchSpec, InputShape } from '../space/types.ts';
import { decompose, kernelIoElems, type DecomposedKernel } from './kernels.ts';
import { fitKernelRegressor, type KernelRegressor } from './regression.ts';
import type { LatencyTable, OverheadModel } from './table.ts';

export interface PredictedKernel {
  key: string;
  node: string;
  latencyMs: number;
  source: 'table' | 'regression';
}

export interface LatencyPrediction {
  /** in this host's wall-clock ms when a host calibration is applied (src/latency/index.ts), else in table units */
  latencyMs: number;
  /** the table-unit prediction, present when a host calibration mapped latencyMs */
  tableLatencyMs?: number;
  /** under a host calibration: the prediction in units of the reference network's latency on this host (latencyMs / referenceMs) */
  referenceRatio?: number;
  /** under a host calibration: the reference network's wall time on this host used for latencyMs */
  referenceMs?: number;
  /** fraction of the network's kernels found in the table (1 = all measured) */
  coverage: number;
  /** sum of kernel times before the per-network overhead model */
  kernelSumMs: number;
  /** millions of elements the kernels write (feature of the overhead model) */
  outMelems: number;
  /** the table's empty-model baseline, which every kernel entry carries once (table units) */
  baselineMs: number;
  kernels: PredictedKernel[];
}

export interface LatencyPredictor {
  readonly deviceId: string;
  predict(spec: ArchSpec, input: InputShape, numClasses: number): LatencyPrediction;
  /** `input` ("28x28x1"): the network's input, for a table whose overhead model has a slope per input */
  predictKernels(kernels: DecomposedKernel[], input?: string): LatencyPrediction;
}

/** "28x28x1": how tables, bundles and overhead models name an input. */
export const inputKey = (i: InputShape): string => `${i.height}x${i.width}x${i.channels}`;

/**
 * Kernel sum -> network latency. Each kernel entry holds one per-inference
 * overhead (about the empty-model baseline); without a fitted model the sum
 * keeps one of them.
 */
export function applyOverhead(o: OverheadModel | null, baselineMs: number, sumMs: number, nKernels: number, outMelems = 0, input?: string): number {
  if (!o) return Math.max(sumMs - (nKernels - 1) * baselineMs, sumMs / nKernels);
  const slope = (input !== undefined ? o.slopeByInput?.[input] : undefined) ?? o.slope;
  const y = slope * sumMs + o.perKernelMs * nKernels + (o.perOutMelemMs ?? 0) * outMelems + o.interceptMs;
  // A linear fit must not turn a tiny network's time negative: never below a tenth of the sum.
  return Math.max(y, sumMs * 0.1);
}

export function createPredictor(table: LatencyTable, regressor?: KernelRegressor): LatencyPredictor {
  const reg = regressor ?? fitKernelRegressor(table.entries);
  const predictKernels = (ks: DecomposedKernel[], input?: string): LatencyPrediction => {
    let hits = 0;
    const kernels = ks.map((d): PredictedKernel => {
      const e = table.entries[d.key];
      if (e) {
        hits++;
        return { key: d.key, node: d.node, latencyMs: e.latencyMs, source: 'table' };
      }
      return { key: d.key, node: d.node, latencyMs: reg.predictMs(d.kernel), source: 'regression' };
    });
    const kernelSumMs = kernels.reduce((s, k) => s + k.latencyMs, 0);
    const outMelems = ks.reduce((s, d) => s + kernelIoElems(d.kernel).outElems, 0) / 1e6;
    return {
      latencyMs: applyOverhead(table.overhead, table.measure.baselineMs, kernelSumMs, kernels.length, outMelems, input),
      coverage: ks.length === 0 ? 1 : hits / ks.length,
      kernelSumMs,
      outMelems,
      baselineMs: table.measure.baselineMs,
      kernels,
    };
  };
  return {
    deviceId: table.device.id,
    predictKernels,
    predict: (spec, input, numClasses) => predictKernels(decompose(spec, input, numClasses), inputKey(input)),
  };
}
