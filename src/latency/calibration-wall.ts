// Wall-clock latency the way a plain harness measures it: load the model,
// run `warmup` untimed Invoke() calls, then time `calls` single calls one by
// one with the wall clock (1 thread) and take the median. Host calibration,
// the pipeline's "measured" figure and the benchmark's wall-clock section all
// use this one function, so their figures agree.
//
// Reproducibility: a measurement is made of `passes` independent passes of
// `calls` timed calls; when their medians disagree by more than `tolerance`
// (a burst of load from other processes), it is measured again after a
// pause with passes twice as long, up to `maxAttempts`; then refused with the
// reason (a MeasurementError, status 422).

import { readFileSync } from 'node:fs';
import { loadTfliteModel } from '../tflite/interpreter.ts';
import { MeasurementError, type PreparedModel } from './runtime.ts';
import { median, summarize } from './stats.ts';

export interface WallClockOptions {
  /** untimed calls first (default 10) */
  warmup?: number;
  /** timed single calls per pass (default 60) */
  calls?: number;
  /** independent passes whose medians must agree (default 2) */
  passes?: number;
  /** largest allowed relative spread of the pass medians, (max - min) / median (default 0.05) */
  tolerance?: number;
  /** attempts, each with passes twice as long as the last (default 3) */
  maxAttempts?: number;
  /** performance.now() after which no new pass starts (the measurement is refused); default none */
  deadline?: number;
}

export const DEFAULT_WALL_CLOCK: Required<WallClockOptions> = { warmup: 10, calls: 60, passes: 2, tolerance: 0.05, maxAttempts: 3, deadline: Infinity };

export interface WallClockMeasurement {
  /** median of all timed calls of the accepted attempt (ms per Invoke) */
  medianMs: number;
  /** interquartile range / median of those calls */
  relIqr: number;
  /** the medians of each pass of the accepted attempt */
  passMediansMs: number[];
  /** (max - min) / median of the pass medians */
  spread: number;
  /** timed calls of the accepted attempt */
  calls: number;
  attempts: number;
}

export function wallClockOptions(o: WallClockOptions = {}): Required<WallClockOptions> {
  const r = { ...DEFAULT_WALL_CLOCK, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  for (const k of ['calls', 'passes', 'maxAttempts'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new RangeError(`wall clock: ${k} must be an integer >= 1, got ${r[k]}`);
  }
  if (!Number.isInteger(r.warmup) || r.warmup < 0) throw new RangeError(`wall clock: warmup must be an integer >= 0, got ${r.warmup}`);
  if (!(r.tolerance > 0)) throw new RangeError(`wall clock: tolerance must be > 0, got ${r.tolerance}`);
  return r;
}

/** Times `n` single calls, one wall-clock reading around each; ms per call. */
async function timedCalls(model: PreparedModel, n: number): Promise<number[]> {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = await model.timeBatch(1, 'wall');
  return out;
}

/** Wall-clock median of single Invoke() calls of a prepared model, with the agreement check. */
export async function measureWallClock(model: PreparedModel, opts: WallClockOptions = {}, what = 'model'): Promise<WallClockMeasurement> {
  const o = wallClockOptions(opts);
  if (o.warmup > 0) await timedCalls(model, o.warmup);
  let last = '';
  for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
    const calls = o.calls * 2 ** (attempt - 1);
    const passes: number[][] = [];
    for (let p = 0; p < o.passes; p++) {
      if (performance.now() > o.deadline) throw new MeasurementError(`${what}: out of time for measuring (time bound reached)${last ? `; ${last}` : ''}`);
      passes.push(await timedCalls(model, calls));
    }
    const all = passes.flat();
    const bad = all.find((x) => !(Number.isFinite(x) && x >= 0));
    if (bad !== undefined) throw new MeasurementError(`${what}: a timed call returned ${bad} ms`);
    const meds = passes.map((s) => median(s));
    const mid = median(meds);
    const spread = mid > 0 ? (Math.max(...meds) - Math.min(...meds)) / mid : 0;
    if (spread <= o.tolerance) {
      const s = summarize(all);
      return { medianMs: s.medianMs, relIqr: s.relIqr, passMediansMs: meds, spread, calls: all.length, attempts: attempt };
    }
    last = `pass medians ${meds.map((m) => m.toFixed(4)).join(' / ')} ms differ by ${(100 * spread).toFixed(1)}% (limit ${(100 * o.tolerance).toFixed(0)}%) with ${calls} calls per pass`;
    if (attempt < o.maxAttempts) await new Promise((r) => setTimeout(r, 50 * attempt));
  }
  throw new MeasurementError(`${what}: wall-clock repeats disagree after ${o.maxAttempts} attempts (machine busy?): ${last}`);
}

/** A .tflite model (bytes or file) prepared for wall-clock timing in the local TFLite WASM interpreter, 1 thread. */
export async function prepareTfliteBytes(bytesOrPath: Uint8Array | string): Promise<PreparedModel> {
  const bytes = typeof bytesOrPath === 'string' ? new Uint8Array(readFileSync(bytesOrPath)) : bytesOrPath;
  const model = await loadTfliteModel(bytes, { numThreads: 1 });
  const n = model.inputs[0].shape.reduce((a, d) => a * d, 1);
  const dtype = model.inputs[0].dtype;
  const x = dtype === 'float32' ? new Float32Array(n).map((_, i) => Math.sin(i) * 0.5)
    : dtype === 'uint8' ? new Uint8Array(n).fill(128) : new Int8Array(n);
  model.setInputs([x]);
  return {
    timeBatch(count: number): number {
      const t0 = performance.now();
      for (let i = 0; i < count; i++) model.invoke();
      return (performance.now() - t0) / count;
    },
    dispose: () => model.dispose(),
  };
}

/** Wall-clock median latency of a .tflite file on this host (the pipeline's "measured"). */
export async function measureTfliteWallClock(bytesOrPath: Uint8Array | string, opts: WallClockOptions = {}): Promise<WallClockMeasurement> {
  const model = await prepareTfliteBytes(bytesOrPath);
  try {
    return await measureWallClock(model, opts, typeof bytesOrPath === 'string' ? bytesOrPath : '.tflite model');
  } finally {
    model.dispose();
  }
}

export interface LatencyCheck {
  predictedMs: number;
  /** null when the measurement was refused (repeats disagreed) */
  measuredMs: number | null;
  /** measured / predicted */
  ratio: number | null;
  calls: number;
  refused?: string;
  /** "predicted X ms, measured Y ms, ratio Z (...)" */
  line: string;
}

/** Predicted vs wall-clock measured latency of a .tflite file; a refused measurement is reported, not thrown. */
export async function checkTfliteLatency(path: string, predictedMs: number, opts: WallClockOptions = {}): Promise<LatencyCheck> {
  try {
    const m = await measureTfliteWallClock(path, opts);
    const ratio = m.medianMs / predictedMs;
    return {
      predictedMs, measuredMs: m.medianMs, ratio, calls: m.calls,
      line: `predicted ${predictedMs.toFixed(3)} ms, measured ${m.medianMs.toFixed(3)} ms, ratio ${ratio.toFixed(3)} (wall clock, median of ${m.calls} Invoke() calls, 1 thread)`,
    };
  } catch (e) {
    if (!(e instanceof MeasurementError)) throw e;
    return { predictedMs, measuredMs: null, ratio: null, calls: 0, refused: e.message, line: `predicted ${predictedMs.toFixed(3)} ms, measured: refused (${e.message})` };
  }
}
