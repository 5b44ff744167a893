// Wall-clock latency the way a plain harness measures it: load the model,
// run `warmup` untimed Invoke() calls, then time `calls` single calls one by
// one with the wall clock (1 thread) and take the median. Host calibration,
// the run's and train-export's "measured" figure and the benchmark's wall-clock section all
// use this one function, so their figures agree.
//
// Preemption: on a machine shared with other jobs a call can be switched out
// mid-Invoke, and its wall time then counts the other jobs' time too (a
// network measured 14 ms instead of 2 ms, consistently, at load 18 on 2
// cores). With `dropPreempted` (default) each call is also timed by process
// CPU time and a call whose wall time exceeds its CPU time by more than 10%
// (+10 us) was preempted and is left out; a pass needs `calls` calls that ran
// through, within 4 x `calls` tries, or it fails as "busy". On a quiet
// machine no call is left out, and this is the plain harness's median.
//
// Reproducibility: a measurement is made of `passes` independent passes of
// `calls` timed calls; when their medians disagree by more than `tolerance`
// (a burst of load from other processes), it is measured again after a
// pause with passes twice as long, up to `maxAttempts`; then refused with the
// reason (a MeasurementError, status 422). A pass that is short of calls
// that ran through is measured again at the same length.

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
  /** leave out calls preempted by other processes (wall > 1.1 x CPU time + 10 us); default true. false = the plain harness */
  dropPreempted?: boolean;
}

export const DEFAULT_WALL_CLOCK: Required<WallClockOptions> = { warmup: 10, calls: 60, passes: 2, tolerance: 0.05, maxAttempts: 3, deadline: Infinity, dropPreempted: true };

export interface WallClockMeasurement {
  /** median of the timed calls of the accepted attempt that ran through (ms per Invoke) */
  medianMs: number;
  /** median of every timed call of the accepted attempt, preempted ones included (what a plain harness reports) */
  plainMedianMs: number;
  /** interquartile range / median of those calls */
  relIqr: number;
  /** the medians of each pass of the accepted attempt */
  passMediansMs: number[];
  /** (max - min) / median of the pass medians */
  spread: number;
  /** timed calls of the accepted attempt (preempted ones not counted) */
  calls: number;
  /** calls left out as preempted, over all attempts */
  preemptedCalls: number;
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

/** Times single calls, one wall-clock reading around each, until `n` are kept; ms per call. */
async function timedCalls(model: PreparedModel, n: number, dropPreempted: boolean, deadline = Infinity): Promise<{ kept: number[]; all: number[]; preempted: number }> {
  const kept: number[] = [];
  const all: number[] = [];
  let preempted = 0;
  for (let tries = 0; kept.length < n && tries < (dropPreempted ? 4 * n : n); tries++) {
    if (performance.now() > deadline) throw new MeasurementError('out of time for measuring (time bound reached)');
    const c0 = dropPreempted ? process.cpuUsage() : undefined;
    const wallMs = await model.timeBatch(1, 'wall');
    all.push(wallMs);
    if (c0) {
      const c = process.cpuUsage(c0);
      if (wallMs > 1.1 * ((c.user + c.system) / 1000) + 0.01) {
        preempted++;
        continue;
      }
    }
    kept.push(wallMs);
  }
  return { kept, all, preempted };
}

/** Wall-clock median of single Invoke() calls of a prepared model, with the agreement check. */
export async function measureWallClock(model: PreparedModel, opts: WallClockOptions = {}, what = 'model'): Promise<WallClockMeasurement> {
  const o = wallClockOptions(opts);
  if (o.warmup > 0) await timedCalls(model, o.warmup, false);
  let last = '';
  let preempted = 0;
  let doublings = 0;
  for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
    // passes twice as long after a disagreement (pauses average out); as long as before after a busy pass
    const calls = o.calls * 2 ** doublings;
    const passes: number[][] = [];
    const everyCall: number[] = [];
    for (let p = 0; p < o.passes; p++) {
      if (performance.now() > o.deadline) throw new MeasurementError(`${what}: out of time for measuring (time bound reached)${last ? `; ${last}` : ''}`);
      let r;
      try {
        r = await timedCalls(model, calls, o.dropPreempted, o.deadline);
      } catch (e) {
        throw e instanceof MeasurementError ? new MeasurementError(`${what}: ${e.message}${last ? `; ${last}` : ''}`) : e;
      }
      preempted += r.preempted;
      everyCall.push(...r.all);
      if (r.kept.length < calls) break;
      passes.push(r.kept);
    }
    if (passes.length < o.passes) {
      last = `machine busy: fewer than ${calls} of ${4 * calls} calls ran without being preempted by other processes`;
      if (attempt < o.maxAttempts) await new Promise((r) => setTimeout(r, 50 * attempt));
      continue;
    }
    const all = passes.flat();
    const bad = all.find((x) => !(Number.isFinite(x) && x >= 0));
    if (bad !== undefined) throw new MeasurementError(`${what}: a timed call returned ${bad} ms`);
    const meds = passes.map((s) => median(s));
    const mid = median(meds);
    const spread = mid > 0 ? (Math.max(...meds) - Math.min(...meds)) / mid : 0;
    if (spread <= o.tolerance) {
      const s = summarize(all);
      return { medianMs: s.medianMs, plainMedianMs: median(everyCall), relIqr: s.relIqr, passMediansMs: meds, spread, calls: all.length, preemptedCalls: preempted, attempts: attempt };
    }
    doublings++;
    last = `pass medians ${meds.map((m) => m.toFixed(4)).join(' / ')} ms differ by ${(100 * spread).toFixed(1)}% (limit ${(100 * o.tolerance).toFixed(0)}%) with ${calls} calls per pass`;
    if (attempt < o.maxAttempts) await new Promise((r) => setTimeout(r, 50 * attempt));
  }
  throw new MeasurementError(`${what}: wall-clock repeats disagree after ${o.maxAttempts} attempts: ${last}`);
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

/** Wall-clock median latency of a .tflite file on this host (the run's and train-export's "measured"). */
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
      line: `predicted ${predictedMs.toFixed(3)} ms, measured ${m.medianMs.toFixed(3)} ms, ratio ${ratio.toFixed(3)} (wall clock, median of ${m.calls} Invoke() calls, 1 thread${m.preemptedCalls > 0 ? `; ${m.preemptedCalls} calls preempted by other processes left out, all calls' median ${m.plainMedianMs.toFixed(3)} ms` : ''})`,
    };
  } catch (e) {
    if (!(e instanceof MeasurementError)) throw e;
    return { predictedMs, measuredMs: null, ratio: null, calls: 0, refused: e.message, line: `predicted ${predictedMs.toFixed(3)} ms, measured: refused (${e.message})` };
  }
}
