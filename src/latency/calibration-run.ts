// Calibrating a local device to this host: the reference network, several
// random calibration networks per table input (spread over the range of
// predicted latencies, the largest 224x224 ones left out to stay within the
// bound) and MobileNetV2 presets (1x1-convolution heavy, which random
// networks of the space are not; see calibration.ts) are measured by wall
// clock with plain Invoke() loops, and hostMs = scale x other + conv1x1Scale
// x conv1x1 + overheadMs is fitted on them. proxy-small, the network of the
// start-up latency check (host-check.ts), is never one of them. Bounded: no call starts after the
// time bound (default 60 s): the networks measured by then are used; networks
// whose estimated cost would not fit are skipped; up to MAX_UNREPRODUCIBLE networks whose repeats disagree are
// skipped; a network the fitted mapping misses by more than MAX_FIT_ERROR
// (a burst of load through both of its passes) is measured once more, up
// to MAX_REMEASURED networks; fewer than 4 measured points, or a mapping
// that still misses one of them by more than MAX_FIT_ERROR, refuse the
// calibration.
//
// ensureHostCalibration() is the automatic path: a fresh calibration is
// reused; a missing or stale one is redone; a refused attempt (repeats that
// disagree on a busy machine, or out of time) leaves the last good
// calibration in force, flagged, and is not retried automatically for
// RETRY_AFTER_MIN minutes.

import { archId } from '../space/archspec.ts';
import { expandNetwork, type NetworkPlan } from '../space/network.ts';
import { parseInputShape, resolveArch } from '../space/resolve.ts';
import { createRng } from '../space/rng.ts';
import { sampleArch } from '../space/sampler.ts';
import { skeletonFor } from '../space/skeleton.ts';
import {
  CALIBRATION_FORMAT, CALIBRATION_FORMAT_VERSION, calibrationsDir, calibrationStatus, fingerprintId, fitMapping, hostFingerprint,
  applyMapping, describeMapping, tableNetworkMs, isLocalRuntime, mappingFit, saveCalibration, saveRefusal, type CalibrationPointRecord, type CalibrationStatus, type HostCalibration,
} from './calibration.ts';
import { measureWallClock, wallClockOptions, type WallClockOptions } from './calibration-wall.ts';
import type { DeviceProfile } from './device.ts';
import { decomposePlan } from './kernels.ts';
import { createPredictor } from './predictor.ts';
import { MeasurementError, REFERENCE_ID, referencePlan, type LatencyRuntime } from './runtime.ts';
import { createRuntime } from './runtimes/index.ts';
import { loadavg } from 'node:os';
import type { LatencyTable } from './table.ts';

export const DEFAULT_CALIBRATION_BUDGET_MS = 60_000;
/**
 * Random calibration networks per small table input. Six rather than three: with the MobileNetV2
 * presets in the set, more random networks keep the fit on the space's own networks (held-out
 * random networks within ±10%: about 94% with 9 random points, 96% with 15-21, fitted offline on
 * bench/latency-presets.ts data).
 */
export const DEFAULT_NETWORKS_PER_INPUT = 6;
export const CALIBRATION_SEED = 8_000_001;
/** A refused automatic attempt is not repeated automatically within this many minutes. */
export const RETRY_AFTER_MIN = 10;
/** Calibration networks that may fail to reproduce (skipped) before the calibration is refused. */
export const MAX_UNREPRODUCIBLE = 2;
/** Worst relative error of the fitted mapping on its own networks above which the calibration is refused. */
export const MAX_FIT_ERROR = 0.15;
/** Networks off the fit by more than MAX_FIT_ERROR that are measured once more before the calibration is refused. */
export const MAX_REMEASURED = 2;

export interface CalibrateOptions {
  device: DeviceProfile;
  table: LatencyTable;
  /** default: the device's runtime, created here and closed after */
  runtime?: LatencyRuntime;
  /** hard time bound for measuring (default 60 s) */
  budgetMs?: number;
  wall?: WallClockOptions;
  /** random calibration networks per small table input (default 6; half as many, rounded up, at inputs over 64x64) */
  networksPerInput?: number;
  seed?: number;
  onProgress?: (message: string) => void;
}

interface Candidate {
  name: string;
  input: string;
  plan: NetworkPlan;
  tableMs: number;
  conv1x1TableMs: number;
}

/** MobileNetV2 widths among the calibration networks: two at small inputs, the narrowest at large ones (cost). */
export function presetWidths(input: { height: number; width: number }): number[] {
  return input.height * input.width > 64 * 64 ? [0.35] : [0.5, 1.0];
}

/**
 * The calibration networks, cheapest first: the reference network; per input,
 * quantiles of the predicted latencies of seeded random samples, and
 * MobileNetV2 at presetWidths().
 */
export function calibrationNetworks(table: LatencyTable, perSmallInput = DEFAULT_NETWORKS_PER_INPUT, seed = CALIBRATION_SEED): Candidate[] {
  const predictor = createPredictor(table);
  const candidate = (name: string, input: string, plan: NetworkPlan): Candidate => {
    return { name, input, plan, ...tableNetworkMs(predictor.predictKernels(decomposePlan(plan))) };
  };
  const out: Candidate[] = [candidate(REFERENCE_ID, '28x28x1', referencePlan())];
  for (const [i, t] of table.inputs.entries()) {
    const input = parseInputShape(t.input);
    for (const w of presetWidths(input)) {
      out.push(candidate(`mobilenet-v2@${w}`, t.input, expandNetwork(resolveArch('mobilenet-v2', { input, widthMultiplier: w }), input, t.numClasses)));
    }
    const rng = createRng(seed + i);
    const pool: Candidate[] = [];
    for (let k = 0; k < 20; k++) {
      const spec = sampleArch(skeletonFor(input), rng);
      pool.push(candidate(archId(spec), t.input, expandNetwork(spec, input, t.numClasses)));
    }
    pool.sort((a, b) => a.tableMs - b.tableMs);
    // Large inputs: fewer networks, in the lower part of the range (a 224x224 network can take 100+ ms a call).
    const large = input.height * input.width > 64 * 64;
    const hi = large ? 0.5 : 0.85;
    const perInput = large ? Math.ceil(perSmallInput / 2) : perSmallInput;
    for (let j = 0; j < perInput; j++) {
      const q = perInput === 1 ? 0.5 : 0.1 + ((hi - 0.1) * j) / (perInput - 1);
      const c = pool[Math.round(q * (pool.length - 1))];
      if (!out.some((o) => o.name === c.name)) out.push(c);
    }
  }
  return out.sort((a, b) => a.tableMs - b.tableMs);
}

/** Measure and fit a calibration (not saved). Throws a MeasurementError (422) with the reason when refused. */
export async function calibrateHost(opts: CalibrateOptions): Promise<HostCalibration> {
  const { device, table } = opts;
  if (!isLocalRuntime(device.runtime)) throw new MeasurementError(`device ${device.id} runs ${device.runtime}, which this host cannot run; it keeps its upload's own calibration`);
  const budgetMs = opts.budgetMs ?? DEFAULT_CALIBRATION_BUDGET_MS;
  const w = wallClockOptions(opts.wall);
  const log = opts.onProgress ?? (() => {});
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  const load0 = loadavg()[0];
  const runtime = opts.runtime ?? (await createRuntime(device.runtime));
  const points: CalibrationPointRecord[] = [];
  const skipped: string[] = [];
  const remeasured: string[] = [];
  let unreproducible = 0;
  const measurePoint = async (c: Candidate): Promise<CalibrationPointRecord> => {
    const model = await runtime.prepare(c.plan);
    try {
      const m = await measureWallClock(model, { ...w, deadline }, `calibration network ${c.name} (${c.input})`);
      log(`calibration ${c.input} ${c.name}: table ${c.tableMs.toFixed(3)} ms (1x1 convs ${(100 * c.conv1x1TableMs / c.tableMs).toFixed(0)}%), measured ${m.medianMs.toFixed(3)} ms (${m.calls} calls, ${m.preemptedCalls} preempted left out, pass spread ${(100 * m.spread).toFixed(1)}%)`);
      return { name: c.name, input: c.input, tableMs: c.tableMs, conv1x1TableMs: c.conv1x1TableMs, measuredMs: m.medianMs, spread: m.spread, calls: m.calls };
    } finally {
      model.dispose();
    }
  };
  const candidates = calibrationNetworks(table, opts.networksPerInput ?? DEFAULT_NETWORKS_PER_INPUT, opts.seed);
  try {
    let scale0 = 1;
    for (const c of candidates) {
      // Estimated cost of one attempt at the host's speed seen so far (the first network is the tiny reference).
      const estMs = scale0 * c.tableMs * (w.warmup + w.passes * w.calls) + 200;
      if (points.length > 0 && performance.now() + estMs > deadline) {
        skipped.push(`${c.input} ${c.name}`);
        continue;
      }
      try {
        points.push(await measurePoint(c));
        scale0 = Math.max(...points.map((p) => p.measuredMs / p.tableMs));
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        if (/time bound/.test(e.message)) {
          // out of time: fit on what was measured (at least 4 networks, checked below)
          skipped.push(`${c.input} ${c.name} (out of time)`);
          log(`calibration ${c.input} ${c.name}: ${e.message}`);
          break;
        }
        // A network that does not reproduce is skipped; too many refuse the calibration.
        if (++unreproducible > MAX_UNREPRODUCIBLE) throw e;
        skipped.push(`${c.input} ${c.name} (did not reproduce)`);
        log(`calibration ${c.input} ${c.name}: skipped: ${e.message}`);
      }
    }
    // A burst of load that lasts through both passes of one network makes it an outlier of the fit:
    // the worst-fitting network is measured once more (up to MAX_REMEASURED networks, within the bound).
    while (points.length >= 4 && remeasured.length < MAX_REMEASURED && performance.now() < deadline) {
      const m = fitMapping(points);
      const errs = points.map((p) => Math.abs(applyMapping(m, p.tableMs, p.conv1x1TableMs) / p.measuredMs - 1));
      const worst = errs.indexOf(Math.max(...errs));
      if (errs[worst] <= MAX_FIT_ERROR) break;
      const p = points[worst];
      const c = candidates.find((x) => x.name === p.name && x.input === p.input)!;
      log(`calibration ${p.input} ${p.name}: off the fit by ${(100 * errs[worst]).toFixed(0)}%, measuring it again`);
      try {
        points[worst] = await measurePoint(c);
        remeasured.push(`${p.input} ${p.name} (${p.measuredMs.toFixed(3)} -> ${points[worst].measuredMs.toFixed(3)} ms)`);
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        break;
      }
    }
  } finally {
    if (!opts.runtime) await runtime.close();
  }
  const wallS = (performance.now() - t0) / 1000;
  if (points.length < 4) {
    throw new MeasurementError(`calibration of ${device.id} measured only ${points.length} networks within its ${budgetMs / 1000} s bound (skipped: ${skipped.join(', ') || 'none'})`);
  }
  const mapping = fitMapping(points);
  const fit = mappingFit(mapping, points);
  if (fit.maxAbsRelErr > MAX_FIT_ERROR) {
    throw new MeasurementError(`calibration of ${device.id}: the mapping (${describeMapping(mapping)}) does not fit the measured networks (worst error ${(100 * fit.maxAbsRelErr).toFixed(0)}%, limit ${100 * MAX_FIT_ERROR}%): ` +
      points.map((p) => `${p.input} ${p.tableMs.toFixed(2)}->${p.measuredMs.toFixed(2)} ms`).join(', '));
  }
  const fingerprint = hostFingerprint(device, table);
  log(`calibration of ${device.id}: ${describeMapping(mapping)} on ${points.length} networks in ${wallS.toFixed(1)} s`);
  return {
    format: CALIBRATION_FORMAT, formatVersion: CALIBRATION_FORMAT_VERSION, deviceId: device.id, fingerprint, fingerprintId: fingerprintId(fingerprint),
    createdAt: new Date().toISOString(), mapping, points, skipped, ...(remeasured.length > 0 ? { remeasured } : {}), fit,
    method: { warmup: w.warmup, calls: w.calls, passes: w.passes, tolerance: w.tolerance, clock: 'wall', threads: runtime.threads },
    loadAvg: [load0, loadavg()[0]], wallS,
  };
}

export interface EnsureOptions extends CalibrateOptions {
  /** calibration folder (default dataPaths().calibrations) */
  dir?: string;
  /** measure again even when a fresh calibration exists, and even right after a refusal */
  force?: boolean;
}

/**
 * The calibration to use for a device on this host, measured first when
 * missing or stale. Never throws for a refused measurement: the status then
 * carries `refused` and the last good calibration (flagged stale) or none.
 */
export async function ensureHostCalibration(opts: EnsureOptions): Promise<CalibrationStatus> {
  const { device, table } = opts;
  if (!isLocalRuntime(device.runtime)) return { state: 'remote', reasons: [] };
  const dir = opts.dir ?? calibrationsDir();
  const fp = hostFingerprint(device, table);
  const before = calibrationStatus(fp, dir);
  if (before.state === 'fresh' && !opts.force) return before;
  if (!opts.force && before.refused && Date.now() - Date.parse(before.refused.at) < RETRY_AFTER_MIN * 60_000) {
    return { ...before, reasons: [...before.reasons, `not retried within ${RETRY_AFTER_MIN} min of a refused attempt (force with nas latency calibrate)`] };
  }
  opts.onProgress?.(`calibrating ${device.id} to this host (${before.reasons.join('; ') || 'forced'}; at most ${((opts.budgetMs ?? DEFAULT_CALIBRATION_BUDGET_MS) / 1000).toFixed(0)} s)`);
  try {
    saveCalibration(await calibrateHost(opts), dir);
    return calibrationStatus(fp, dir);
  } catch (e) {
    if (!(e instanceof MeasurementError)) throw e;
    saveRefusal(device.id, fingerprintId(fp), e.message, dir);
    return calibrationStatus(fp, dir);
  }
}
