// Calibrating a local device to this host, in relative units (format 4;
// calibration.ts): the reference network, several random calibration
// networks per table input (spread over the range of predicted latencies,
// the largest 224x224 ones left out to stay within the bound) and MobileNetV2
// presets (1x1-convolution heavy, which random networks of the space are
// not) are each measured interleaved with the reference network (rounds of a
// batch of the network, then a batch of the reference, by process CPU time;
// runtime.ts createMeasurer), and the median ratio is the network's cost in
// reference units on this host. A few kernels of every operator class are
// measured the same way (the per-class check). Then the reference network's
// wall time (reference.ts) converts ratios to milliseconds. proxy-small, the
// network of the start-up latency check (host-check.ts), is never one of
// them. Bounded (default 60 s): networks whose estimated cost would not fit
// are skipped; a network the fitted mapping misses by more than FIT_LIMIT is
// measured once more (up to MAX_REMEASURED). A calibration whose relative
// costs do not fit is kept and marked (fits: false): the device is then
// re-profiled on this host (adapt.ts). Only a measurement that cannot be
// made at all (fewer than 4 networks, ratios that never agree) is refused.
//
// measureHost() measures (HostMeasurements: nothing in it depends on the
// table's values), fitCalibration() fits a calibration of a table to those
// measurements, so an adapted table is calibrated on the same measurements.
//
// ensureHostCalibration() is the automatic path: a fresh calibration is
// reused; a missing or stale one is redone; a refused attempt leaves the last
// good calibration in force, flagged, and is not retried automatically for
// RETRY_AFTER_MIN minutes.

import { archId } from '../space/archspec.ts';
import { expandNetwork, type NetworkPlan } from '../space/network.ts';
import { parseInputShape, resolveArch } from '../space/resolve.ts';
import { createRng } from '../space/rng.ts';
import { sampleArch } from '../space/sampler.ts';
import { skeletonFor } from '../space/skeleton.ts';
import {
  CALIBRATION_FORMAT, CALIBRATION_FORMAT_VERSION, calibrationsDir, calibrationStatus, describeMapping, describeReference, fingerprintId, FIT_LIMIT, fitMapping, hostFingerprint,
  isLocalRuntime, mappingErrors, mappingFit, netKernelMs, saveCalibration, saveRefusal, tableNetworkMs,
  type CalibrationMapping, type CalibrationStatus, type ClassCheck, type HostCalibration, type MappingPoint, type ReferenceTiming,
} from './calibration.ts';
import type { DeviceProfile } from './device.ts';
import { decomposePlan, kernelPlan, parseKernelKey } from './kernels.ts';
import { createPredictor } from './predictor.ts';
import { BASELINE_KERNEL } from './profile.ts';
import { measureReference } from './reference.ts';
import { createMeasurer, MeasurementError, REFERENCE_ID, referencePlan, type LatencyRuntime } from './runtime.ts';
import { createRuntime } from './runtimes/index.ts';
import { median } from './stats.ts';
import { classOf, kernelClass, tableKernels, type TableKernel } from './strata.ts';
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
/** Calibration networks whose ratios may fail to agree (skipped) before the calibration is refused. */
export const MAX_UNREPRODUCIBLE = 2;
/** Networks off the fit by more than FIT_LIMIT that are measured once more. */
export const MAX_REMEASURED = 2;
/** Interleaved rounds per calibration network. */
export const DEFAULT_ROUNDS = 21;
/** Interleaved rounds per class-check kernel (as many as a table's kernels get). */
export const DEFAULT_KERNEL_ROUNDS = 15;
/** Class-check kernels per operator class and input. */
export const DEFAULT_CLASS_KERNELS = 4;

export interface CalibrateOptions {
  device: DeviceProfile;
  table: LatencyTable;
  /** default: the device's runtime, created here and closed after */
  runtime?: LatencyRuntime;
  /** time bound for measuring (default 60 s): networks and check kernels that would not fit are skipped */
  budgetMs?: number;
  /** interleaved rounds per network (default 21) */
  rounds?: number;
  /** check kernels per class (default 4) */
  classKernels?: number;
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

export interface HostMeasurements {
  /** calibration networks: kernel keys (in execution order) and the measured cost in reference units */
  networks: { name: string; input: string; kernels: string[]; measuredRatio: number; relIqr: number; rounds: number }[];
  /** per-class check kernels: measured cost in reference units */
  kernels: { key: string; measuredRatio: number }[];
  /** the empty model (1x1x8 add) in reference units */
  baselineRatio: number;
  reference: ReferenceTiming;
  speed: { referenceMinMs: number; referenceMaxMs: number };
  rounds: number;
  batchMs: number;
  threads: number;
  skipped: string[];
  remeasured: string[];
  loadAvg: [number, number];
  wallS: number;
}

/** The per-class check kernels: per class, up to `perClass` kernels at evenly spaced quantiles of the table's latencies. */
export function classCheckKernels(table: LatencyTable, perClass = DEFAULT_CLASS_KERNELS): TableKernel[] {
  const byClass = new Map<string, TableKernel[]>();
  for (const k of tableKernels(table)) {
    const c = classOf(k);
    let g = byClass.get(c);
    if (!g) byClass.set(c, (g = []));
    g.push(k);
  }
  const out: TableKernel[] = [];
  for (const [, ks] of [...byClass.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...ks].sort((a, b) => table.entries[a.key].latencyMs - table.entries[b.key].latencyMs);
    const n = Math.min(perClass, sorted.length);
    for (const i of new Set(Array.from({ length: n }, (_, j) => Math.round(((j + 0.5) * sorted.length) / n - 0.5)))) out.push(sorted[i]);
  }
  return out;
}

const keysOf = (plan: NetworkPlan) => decomposePlan(plan).map((d) => d.key);

/** Measure the calibration networks and the class-check kernels on this host (reference units), and the reference's wall time. */
export async function measureHost(opts: CalibrateOptions): Promise<HostMeasurements> {
  const { device, table } = opts;
  if (!isLocalRuntime(device.runtime)) throw new MeasurementError(`device ${device.id} runs ${device.runtime}, which this host cannot run; it keeps its upload's own calibration`);
  const budgetMs = opts.budgetMs ?? DEFAULT_CALIBRATION_BUDGET_MS;
  const rounds = opts.rounds ?? DEFAULT_ROUNDS;
  const log = opts.onProgress ?? (() => {});
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  const load0 = loadavg()[0];
  const runtime = opts.runtime ?? (await createRuntime(device.runtime));
  // referenceMs 1: every measurement is a ratio to the reference network
  const measurer = await createMeasurer(runtime, { referenceMs: 1, repeats: DEFAULT_KERNEL_ROUNDS, networkRepeats: rounds, batchMs: 1 });
  const networks: HostMeasurements['networks'] = [];
  const skipped: string[] = [];
  const remeasured: string[] = [];
  const refRound: number[] = [];
  let unmeasurable = 0;
  const measure = async (plan: NetworkPlan, n: number) => {
    const m = await measurer.measure(plan, n);
    refRound.push(...m.referenceRoundMs);
    return m;
  };
  const measureNet = async (c: Candidate) => {
    const m = await measure(c.plan, rounds);
    log(`calibration ${c.input} ${c.name}: table ${(c.tableMs / table.measure.referenceMs).toFixed(3)} x reference, measured ${m.medianMs.toFixed(3)} x reference (${m.repeats} rounds, IQR ${(100 * m.relIqr).toFixed(1)}%)`);
    return { name: c.name, input: c.input, kernels: keysOf(c.plan), measuredRatio: m.medianMs, relIqr: m.relIqr, rounds: m.repeats };
  };
  const candidates = calibrationNetworks(table, opts.networksPerInput ?? DEFAULT_NETWORKS_PER_INPUT, opts.seed);
  let baselineRatio: number;
  const kernels: HostMeasurements['kernels'] = [];
  try {
    baselineRatio = (await measure(kernelPlan({ ...BASELINE_KERNEL }), DEFAULT_KERNEL_ROUNDS)).medianMs;
    let perRatioMs = table.measure.referenceMs;
    for (const c of candidates) {
      // estimated cost: rounds x (network + reference batch), at the speed seen so far
      const estMs = rounds * ((c.tableMs / table.measure.referenceMs) * perRatioMs + 1) * 2 + 100;
      if (networks.length > 0 && performance.now() + estMs > deadline) {
        skipped.push(`${c.input} ${c.name} (out of time)`);
        continue;
      }
      try {
        networks.push(await measureNet(c));
        if (refRound.length > 0) perRatioMs = Math.max(...refRound);
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        if (++unmeasurable > MAX_UNREPRODUCIBLE) throw e;
        skipped.push(`${c.input} ${c.name} (ratios did not agree)`);
        log(`calibration ${c.input} ${c.name}: skipped: ${e.message}`);
      }
    }
    // a hiccup that lasted through a network's rounds makes it an outlier of the fit: measured once more
    while (networks.length >= 4 && remeasured.length < MAX_REMEASURED && performance.now() < deadline) {
      const pts = networkPoints(table, networks);
      const errs = mappingErrors(fitMapping(pts), pts).map(Math.abs);
      const worst = errs.indexOf(Math.max(...errs));
      if (errs[worst] <= FIT_LIMIT) break;
      const p = networks[worst];
      const c = candidates.find((x) => x.name === p.name && x.input === p.input)!;
      log(`calibration ${p.input} ${p.name}: off the fit by ${(100 * errs[worst]).toFixed(0)}%, measuring it again`);
      try {
        networks[worst] = await measureNet(c);
        remeasured.push(`${p.input} ${p.name} (${p.measuredRatio.toFixed(3)} -> ${networks[worst].measuredRatio.toFixed(3)})`);
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        break;
      }
    }
    for (const k of classCheckKernels(table, opts.classKernels)) {
      if (performance.now() > deadline) {
        skipped.push(`class-check kernels from ${k.key} on (out of time)`);
        break;
      }
      try {
        kernels.push({ key: k.key, measuredRatio: (await measure(kernelPlan(k.kernel, table.inputs[0]?.numClasses ?? 10), DEFAULT_KERNEL_ROUNDS)).medianMs });
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        skipped.push(`kernel ${k.key} (ratios did not agree)`);
      }
    }
  } finally {
    measurer.close();
  }
  let reference: ReferenceTiming;
  try {
    reference = await measureReference(runtime);
  } finally {
    if (!opts.runtime) await runtime.close();
  }
  if (networks.length < 4) {
    throw new MeasurementError(`calibration of ${device.id} measured only ${networks.length} networks within its ${budgetMs / 1000} s bound (skipped: ${skipped.join(', ') || 'none'})`);
  }
  return {
    networks, kernels, baselineRatio, reference,
    speed: { referenceMinMs: Math.min(...refRound), referenceMaxMs: Math.max(...refRound) },
    rounds, batchMs: 1, threads: runtime.threads, skipped, remeasured, loadAvg: [load0, loadavg()[0]], wallS: (performance.now() - t0) / 1000,
  };
}

/** The calibration networks as mapping points of this table (its time over its reference latency vs the measured ratio). */
export function networkPoints(table: LatencyTable, networks: HostMeasurements['networks']): (MappingPoint & { name: string; input: string })[] {
  const predictor = createPredictor(table);
  return networks.map((n) => {
    const t = tableNetworkMs(predictor.predictKernels(n.kernels.map((key) => ({ key, kernel: parseKernelKey(key), node: '' }))));
    return { name: n.name, input: n.input, table: t.tableMs / table.measure.referenceMs, conv1x1: t.conv1x1TableMs / table.measure.referenceMs, host: n.measuredRatio };
  });
}

/** A class's share of the calibration networks' table time under which its error does not count (a class that costs nothing cannot spoil a prediction). */
export const MIN_CLASS_SHARE = 0.01;

/**
 * Per class: the median of host/table over its measured check kernels (each less its side's
 * baseline), against the mapping's scale, and the class's share of the calibration networks'
 * table time.
 */
export function classChecks(table: LatencyTable, m: Pick<HostMeasurements, 'kernels' | 'baselineRatio' | 'networks'>, mapping: CalibrationMapping): ClassCheck[] {
  const ref = table.measure.referenceMs;
  const byKey = new Map(tableKernels(table).map((k) => [k.key, k]));
  const netOf = (key: string) => netKernelMs(table.entries[key]?.latencyMs ?? 0, table.measure.baselineMs) / ref;
  const groups = new Map<string, number[]>();
  for (const k of m.kernels) {
    const tk = byKey.get(k.key);
    if (!tk || !table.entries[k.key]) continue;
    const tableNet = netOf(k.key);
    const hostNet = netKernelMs(k.measuredRatio, m.baselineRatio);
    if (!(tableNet > 0 && hostNet > 0)) continue;
    const c = classOf(tk);
    let g = groups.get(c);
    if (!g) groups.set(c, (g = []));
    g.push(hostNet / tableNet);
  }
  // each class's share of the calibration networks' kernel time (classes of a network: at its input)
  const time = new Map<string, number>();
  let total = 0;
  for (const n of m.networks) {
    for (const key of n.kernels) {
      const t = netOf(key);
      const c = `${kernelClass(parseKernelKey(key))}@${n.input}`;
      time.set(c, (time.get(c) ?? 0) + t);
      total += t;
    }
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([cls, rs]) => {
    const hostOverTable = median(rs);
    const scale = cls.startsWith('conv1x1@') ? mapping.conv1x1Scale : mapping.scale;
    return { cls, kernels: rs.length, hostOverTable, error: hostOverTable / scale - 1, share: total > 0 ? (time.get(cls) ?? 0) / total : 0 };
  });
}

/** A calibration of `table` fitted to measurements of this host (pure; nothing measured). */
export function fitCalibration(device: DeviceProfile, table: LatencyTable, m: HostMeasurements): HostCalibration {
  const pts = networkPoints(table, m.networks);
  const mapping = fitMapping(pts);
  const errs = mappingErrors(mapping, pts);
  const classes = classChecks(table, m, mapping);
  const worstNet = errs.reduce((w, e, i) => (Math.abs(e) > Math.abs(errs[w]) ? i : w), 0);
  const counted = classes.filter((c) => c.share >= MIN_CLASS_SHARE);
  const worstClass = counted.length === 0 ? undefined : counted.reduce((a, b) => (Math.abs(b.error) > Math.abs(a.error) ? b : a));
  const reasons: string[] = [];
  if (Math.abs(errs[worstNet]) > FIT_LIMIT) reasons.push(`network ${pts[worstNet].input} ${pts[worstNet].name} off the fit by ${(100 * errs[worstNet]).toFixed(0)}%`);
  if (worstClass && Math.abs(worstClass.error) > FIT_LIMIT) {
    const off = counted.filter((c) => Math.abs(c.error) > FIT_LIMIT);
    reasons.push(`per-class error over ${100 * FIT_LIMIT}%: ${off.map((c) => `${c.cls} ${c.error >= 0 ? '+' : ''}${(100 * c.error).toFixed(0)}%`).join(', ')}`);
  }
  const fingerprint = hostFingerprint(device, table);
  return {
    format: CALIBRATION_FORMAT, formatVersion: CALIBRATION_FORMAT_VERSION, deviceId: device.id, fingerprint, fingerprintId: fingerprintId(fingerprint),
    createdAt: new Date().toISOString(), tableReferenceMs: table.measure.referenceMs, mapping, reference: m.reference,
    points: m.networks.map((n, i) => ({ name: n.name, input: n.input, tableRatio: pts[i].table, conv1x1TableRatio: pts[i].conv1x1 ?? 0, measuredRatio: n.measuredRatio, relIqr: n.relIqr, rounds: n.rounds })),
    classes, ...(m.skipped.length > 0 ? { skipped: m.skipped } : {}), ...(m.remeasured.length > 0 ? { remeasured: m.remeasured } : {}),
    fit: { ...mappingFit(mapping, pts), maxClassErr: worstClass ? Math.abs(worstClass.error) : null },
    fits: reasons.length === 0, ...(reasons.length > 0 ? { misfit: reasons.join('; ') } : {}),
    speed: m.speed, method: { clock: 'cpu', interleaved: true, rounds: m.rounds, batchMs: m.batchMs, threads: m.threads },
    loadAvg: m.loadAvg, wallS: m.wallS,
  };
}

/** Measure and fit a calibration (not saved). Throws a MeasurementError (422) only when too little could be measured. */
export async function calibrateHost(opts: CalibrateOptions): Promise<HostCalibration> {
  const c = fitCalibration(opts.device, opts.table, await measureHost(opts));
  opts.onProgress?.(`calibration of ${opts.device.id}: ${describeMapping(c.mapping)}; ${describeReference(c)}; on ${c.points.length} networks in ${c.wallS.toFixed(1)} s` +
    `${c.fits ? '' : `; relative costs do NOT fit this host (${c.misfit})`}`);
  return c;
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
