// Predictor accuracy against end-to-end measurements of random networks
// from the space (never the calibration networks the overhead was fitted on).

import { archId } from '../space/archspec.ts';
import { expandNetwork } from '../space/network.ts';
import { createRng } from '../space/rng.ts';
import { sampleArch } from '../space/sampler.ts';
import type { Skeleton } from '../space/skeleton.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import type { LatencyPredictor } from './predictor.ts';
import { MeasurementError, type Measurer } from './runtime.ts';
import { accuracy, type AccuracyReport } from './stats.ts';

export interface EvaluateOptions {
  measurer: Measurer;
  predictor: LatencyPredictor;
  skeleton: Skeleton;
  input: InputShape;
  numClasses: number;
  networks: number;
  seed: number;
  /** architecture ids that must not be evaluated (e.g. the calibration set) */
  exclude?: Set<string>;
  /** stop sampling new networks after this long (the report says how many ran) */
  timeBudgetMs?: number;
  onProgress?: (done: number) => void;
}

export interface EvaluatedNetwork {
  id: string;
  spec: ArchSpec;
  measuredMs: number;
  predictedMs: number;
  relIqr: number;
  coverage: number;
}

export interface EvaluationResult {
  accuracy: AccuracyReport;
  networks: EvaluatedNetwork[];
  meanCoverage: number;
  medianRelIqr: number;
  wallS: number;
}

export async function evaluatePredictor(opts: EvaluateOptions): Promise<EvaluationResult> {
  const t0 = Date.now();
  const rng = createRng(opts.seed);
  const seen = new Set<string>();
  const nets: EvaluatedNetwork[] = [];
  let draws = 0;
  while (nets.length < opts.networks && draws < opts.networks * 20) {
    draws++;
    const spec: ArchSpec = sampleArch(opts.skeleton, rng);
    const id = archId(spec);
    if (seen.has(id) || opts.exclude?.has(id)) continue;
    seen.add(id);
    const pred = opts.predictor.predict(spec, opts.input, opts.numClasses);
    const plan = expandNetwork(spec, opts.input, opts.numClasses);
    let m;
    for (let attempt = 1; !m; attempt++) {
      try {
        m = await opts.measurer.measure(plan, opts.measurer.options.networkRepeats);
      } catch (e) {
        if (!(e instanceof MeasurementError) || attempt >= 4) throw e;
      }
    }
    nets.push({ id, spec, measuredMs: m.medianMs, predictedMs: pred.latencyMs, relIqr: m.relIqr, coverage: pred.coverage });
    opts.onProgress?.(nets.length);
    if (opts.timeBudgetMs !== undefined && Date.now() - t0 > opts.timeBudgetMs) break;
  }
  const sortedIqr = nets.map((n) => n.relIqr).sort((a, b) => a - b);
  return {
    accuracy: accuracy(nets.map((n) => n.predictedMs), nets.map((n) => n.measuredMs)),
    networks: nets,
    meanCoverage: nets.reduce((s, n) => s + n.coverage, 0) / nets.length,
    medianRelIqr: sortedIqr[Math.floor(sortedIqr.length / 2)],
    wallS: (Date.now() - t0) / 1000,
  };
}

/** Ids of the calibration networks a profile with this seed measured (to exclude them). */
export function calibrationIds(targets: { skeleton: Skeleton; input: InputShape }[], n: number, seed: number): Set<string> {
  const rng = createRng(seed + 1_000_003);
  const ids = new Set<string>();
  for (let i = 0; i < n; i++) ids.add(archId(sampleArch(targets[i % targets.length].skeleton, rng)));
  return ids;
}
