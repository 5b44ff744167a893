// A latency runtime: something that can run a network plan. Profilers measure
// kernels (one-op plans) and whole networks the same way, through a Measurer:
//
//   warm-up; then `repeats` rounds, each timing a batch of the target's
//   inferences and right after it a batch of a fixed reference network's
//   inferences; a round's sample is the ratio target/reference; the result is
//   median(ratio) x the reference's latency (measured once, or taken from the
//   device's table so that tables and later measurements share one unit).
//
// Why: this machine is shared (load above its 2 cores is common). Wall-clock
// medians of one network measured twice agreed within 10% for only ~25-35%
// of networks under that load; process CPU time removes preemption, and the
// interleaved reference ratio removes the remaining slow drift (cache and SMT
// contention): 100% of networks agreed within 5% (probe, 30 networks x 2).
// CPU time is the process's (getrusage); WASM is compiled fully up front
// (no background tier-up) and outliers from V8's GC threads are left to the
// median.
// `clock: 'wall'` measures plain wall time (what a phone or browser reports).

import { setFlagsFromString } from 'node:v8';
import type { NetworkPlan } from '../space/network.ts';
import type { ArchSpec } from '../space/types.ts';
import { expandNetwork } from '../space/network.ts';
import { sampleProblems, summarize, type SampleSummary } from './stats.ts';

export type RuntimeId = 'tflite-wasm' | 'tfjs-wasm' | 'fake' | 'tflite-android' | 'tflite-browser';
export const RUNTIME_IDS: readonly RuntimeId[] = ['tflite-wasm', 'tfjs-wasm', 'fake', 'tflite-android', 'tflite-browser'];
/** Runtimes this process can run itself (others are measured remotely and uploaded). */
export const LOCAL_RUNTIME_IDS: readonly RuntimeId[] = ['tflite-wasm', 'tfjs-wasm', 'fake'];

export type Clock = 'cpu' | 'wall';

/** A network loaded into a runtime, ready to be timed. */
export interface PreparedModel {
  /** ms per inference over `count` back-to-back inferences, by the given clock */
  timeBatch(count: number, clock: Clock): number | Promise<number>;
  dispose(): void;
}

export interface LatencyRuntime {
  readonly id: RuntimeId;
  /** runtime name and version, e.g. "@tensorflow/tfjs-tflite 0.0.1-alpha.10 (XNNPACK, SIMD)" */
  readonly version: string;
  readonly threads: number;
  prepare(plan: NetworkPlan): Promise<PreparedModel>;
  close(): Promise<void>;
}

/** Times `count` calls of a synchronous function; ms per call. */
export function timeSync(run: () => void, count: number, clock: Clock): number {
  if (clock === 'cpu') {
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) run();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / count;
  }
  const t0 = performance.now();
  for (let i = 0; i < count; i++) run();
  return (performance.now() - t0) / count;
}

/** Dispersion (IQR / median) above which a measurement is repeated. */
export const RETRY_REL_IQR = 0.2;
/** Measurement attempts before a measurement is rejected as unusable. */
export const MAX_ATTEMPTS = 4;

export class MeasurementError extends Error {
  readonly status = 422;
  constructor(message: string) {
    super(message);
    this.name = 'MeasurementError';
  }
}

/** The fixed reference network (28x28x1, ~0.3 MFLOP-class mix of conv, depthwise, SE, pooling). Never change it: tables name it. */
export const REFERENCE_ID = 'ref-v1';
export function referencePlan(): NetworkPlan {
  const spec: ArchSpec = {
    version: 1,
    stem: { channels: 16, kernel: 3, stride: 1, activation: 'relu' },
    blocks: [
      { op: 'ir', repeats: 1, kernel: 3, stride: 2, expansion: 3, channels: 24, seRatio: 0, skip: true, activation: 'relu6' },
      { op: 'ds', repeats: 1, kernel: 5, stride: 2, expansion: 1, channels: 32, seRatio: 0.25, skip: true, activation: 'hswish' },
    ],
    head: { channels: 64, activation: 'relu', dropout: 0 },
  };
  return expandNetwork(spec, { height: 28, width: 28, channels: 1 }, 10);
}

export interface MeasureOptions {
  /** untimed inferences first (default 5) */
  warmup?: number;
  /** timed rounds (default 15) */
  repeats?: number;
  /** timed rounds for whole networks: calibration and evaluation (default 41) */
  networkRepeats?: number;
  /** target wall length of one timed batch (default 1 ms) */
  batchMs?: number;
  clock?: Clock;
  /** interleave the reference network and report ratio x referenceMs (default true) */
  useReference?: boolean;
}

export interface Measurement extends SampleSummary {
  /** per-round latency in ms (ratio x referenceMs when a reference is used) */
  samplesMs: number[];
  /** per-round time of one reference call, by the measurer's clock (empty without a reference): how fast the host ran meanwhile */
  referenceRoundMs: number[];
}

export interface Measurer {
  readonly runtime: LatencyRuntime;
  /** latency of the reference network in this measurer's unit (ms) */
  readonly referenceMs: number;
  readonly options: Required<MeasureOptions>;
  /** `repeats` overrides the measurer's rounds (whole networks use more: their truth must be tight) */
  measure(plan: NetworkPlan, repeats?: number): Promise<Measurement>;
  close(): void;
}

async function batchSize(m: PreparedModel, batchMs: number): Promise<number> {
  const one = await m.timeBatch(3, 'wall');
  return Math.min(2000, Math.max(1, Math.ceil(batchMs / Math.max(one, 1e-4))));
}

export interface MeasurerOptions extends MeasureOptions {
  /** the reference latency of a stored table; measured now when absent */
  referenceMs?: number;
}

let v8Quiet = false;
/** Keep V8's helper threads out of process CPU time (process-wide; measuring processes only). */
function quietV8(): void {
  if (v8Quiet) return;
  v8Quiet = true;
  // Only compile-time flags: changing GC threading flags at run time crashes V8.
  for (const f of ['--no-liftoff', '--no-wasm-tier-up']) {
    try {
      setFlagsFromString(f);
    } catch {
      // unknown flag on this V8: ignore
    }
  }
}

/**
 * Rounds of timings until their repeats agree. Disagreeing repeats (a burst of
 * load, a GC pause inside a short batch) are measured again after a pause by
 * `run(attempt)`, which times batches 2^(attempt-1) times as long, so pauses
 * average out; bounded by MAX_ATTEMPTS (the caller refuses what still disagrees).
 */
async function untilConsistent(run: (attempt: number) => Promise<number[]>): Promise<number[]> {
  let samples = await run(1);
  for (let attempt = 2; attempt <= MAX_ATTEMPTS && sampleProblems(samples, RETRY_REL_IQR).length > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
    samples = await run(attempt);
  }
  return samples;
}

export async function createMeasurer(runtime: LatencyRuntime, opts: MeasurerOptions = {}): Promise<Measurer> {
  if ((opts.clock ?? 'cpu') === 'cpu') quietV8();
  const options: Required<MeasureOptions> = {
    warmup: opts.warmup ?? 5, repeats: opts.repeats ?? 15, networkRepeats: opts.networkRepeats ?? 41, batchMs: opts.batchMs ?? 1,
    clock: opts.clock ?? 'cpu', useReference: opts.useReference ?? true,
  };
  const ref = options.useReference ? await runtime.prepare(referencePlan()) : undefined;
  let refBatch = 1;
  let referenceMs = opts.referenceMs ?? 0;
  if (ref) {
    // Warm up for ~0.5 s of wall time so that JIT/WASM tier-up has settled.
    const tw = performance.now();
    while (performance.now() - tw < 500) await ref.timeBatch(1, 'wall');
    refBatch = await batchSize(ref, options.batchMs);
    if (opts.referenceMs === undefined) {
      const s = await untilConsistent(async (attempt) => {
        const out: number[] = [];
        for (let i = 0; i < Math.max(31, options.repeats * 2); i++) out.push(await ref.timeBatch(refBatch * 2 ** (attempt - 1), options.clock));
        return out;
      });
      const problems = sampleProblems(s);
      if (problems.length > 0) throw new MeasurementError(`reference network on ${runtime.id}: ${problems.join('; ')}`);
      referenceMs = summarize(s).medianMs;
    }
    if (!(referenceMs > 0) || !Number.isFinite(referenceMs)) throw new MeasurementError(`reference latency must be a positive number, got ${referenceMs}`);
  }
  return {
    runtime,
    referenceMs,
    options,
    async measure(plan, repeatsOverride) {
      const repeats = repeatsOverride ?? options.repeats;
      const model = await runtime.prepare(plan);
      try {
        if (options.warmup > 0) await model.timeBatch(options.warmup, 'wall');
        const b = await batchSize(model, options.batchMs);
        let refRounds: number[] = [];
        const rounds = async (n: number, scale: number) => {
          const out: number[] = [];
          refRounds = [];
          for (let i = 0; i < n; i++) {
            const t = await model.timeBatch(b * scale, options.clock);
            if (ref) {
              const r = await ref.timeBatch(refBatch * scale, options.clock);
              refRounds.push(r);
              out.push(r > 0 ? (t / r) * referenceMs : Number.NaN);
            } else {
              out.push(t);
            }
          }
          return out;
        };
        // retries run twice the rounds as well
        const samples = await untilConsistent((attempt) => (attempt === 1 ? rounds(repeats, 1) : rounds(repeats * 2, 2 ** (attempt - 1))));
        const problems = sampleProblems(samples);
        if (problems.length > 0) {
          throw new MeasurementError(`unusable measurement on ${runtime.id}: ${problems.join('; ')} (samples ms: ${samples.map((x) => x.toFixed(4)).join(' ')})`);
        }
        return { ...summarize(samples), samplesMs: samples, referenceRoundMs: refRounds };
      } finally {
        model.dispose();
      }
    },
    close() {
      ref?.dispose();
    },
  };
}
