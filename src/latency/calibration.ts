// Host calibration of a local device's latency table, in RELATIVE units
// (format 4). Tables store kernel latencies as ratios to a fixed reference
// network (ref-v1) times the reference's latency on the profiling machine.
// This host runs at its own speed, and that speed swings (1.0-2.0x within a
// minute on the 2-core build hosts), so a fit of wall-clock times taken over
// 20-60 s saw different speeds for different networks and was refused by the
// minute. Format 4 measures every calibration network the way the profiler
// measures kernels: rounds of a batch of the network and right after it a
// batch of the reference network, by process CPU time; a round's sample is
// the ratio network/reference, and the median ratio is the network's cost in
// reference units on this host. A phase where the whole host is slower or
// faster cancels out of the ratio. The mapping
//
//   hostRatio = scale x otherTableRatio + conv1x1Scale x conv1x1TableRatio + overheadRatio
//
// is fitted on those ratios, where tableRatio is the network's table time
// (kernel sum: each entry less the empty-model baseline it carries, plus one
// baseline; the table's own per-network overhead model is replaced by
// overheadRatio) divided by the table's reference latency. Milliseconds come
// last: hostMs = hostRatio x the reference network's wall-clock latency on
// this host, measured when the calibration was made and re-measured cheaply
// (0.1-0.3 ms a call) wherever a prediction in ms is shown or checked
// (reference.ts); the factor and when it was measured are reported.
//
// Whether the table's relative costs fit this host: the mapping's worst
// error on its own networks, and per operator class (strata.ts) the median
// of (host / table) over a few kernels of that class measured the same way,
// against the mapping's scale for the class (classes with under 1% of the
// calibration networks' time do not count). Either over FIT_LIMIT (10%)
// marks the calibration `fits: false`: it stays in force (it is the best
// there is) and the device is re-profiled on this host (adapt.ts). A
// calibration is never refused because the host changed speed.
//
// Kept as JSON under dataPaths().calibrations, one file per device and host
// fingerprint (CPU, cores, runtime version, Node, table hash), written only
// when complete. Status: fresh (fingerprint matches, recent), stale (the
// last good one of another fingerprint, or too old: in force but flagged),
// none, off (disabled), injected (tests), remote (a device profiled
// elsewhere keeps its upload's own unit: no host calibration applies).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MultivariateLinearRegression } from 'ml-regression';
import { join } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import type { DeviceProfile } from './device.ts';
import { describeCpu, describeMachine } from './machine.ts';
import { LOCAL_RUNTIME_IDS, MeasurementError, type Clock, type RuntimeId } from './runtime.ts';
import type { LatencyTable } from './table.ts';

export const CALIBRATION_FORMAT = 'nas-host-calibration';
/** 4: relative units (reference-interleaved ratios), per-class fit check, the reference's wall time. Older files are ignored and redone. */
export const CALIBRATION_FORMAT_VERSION = 4;
/** A calibration older than this is flagged stale (and redone automatically). */
export const MAX_CALIBRATION_AGE_DAYS = 30;
/** Largest relative error, per calibration network and per operator class, for the table's relative costs to fit this host. */
export const FIT_LIMIT = 0.1;

export interface HostFingerprint {
  deviceId: string;
  /** CPU name with vendor, family and model (machine.ts describeCpu) */
  cpu: string;
  cores: number;
  runtimeVersion: string;
  node: string;
  /** first 16 hex digits of the SHA-256 of the table's JSON (entries sorted) */
  tableHash: string;
}

/** Table ratio -> host ratio, both in units of the reference network's latency (on the profiling machine / on this host). */
export interface CalibrationMapping {
  /** host ratio per table ratio of every kernel but the 1x1 convolutions */
  scale: number;
  /** host ratio per table ratio of the 1x1 convolutions (equal to scale when the calibration could not tell them apart) */
  conv1x1Scale: number;
  /** per-network overhead, in reference-network units of this host */
  overheadRatio: number;
}

/** The reference network's wall-clock latency on this host: converts ratios to milliseconds. */
export interface ReferenceTiming {
  /** median wall-clock ms of single Invoke() calls of the reference network */
  ms: number;
  measuredAt: string;
  calls: number;
}

/** A kernel key of a 1x1 convolution (the class with a scale of its own). */
export function isConv1x1Key(key: string): boolean {
  return key.startsWith('conv_k1_');
}

/** The host scale of one kernel (table ratio -> host ratio, before the per-network overhead). */
export function kernelScale(m: CalibrationMapping, key: string): number {
  return isConv1x1Key(key) ? m.conv1x1Scale : m.scale;
}

/** A kernel's own table time: its entry less the empty-model baseline every entry carries. */
export function netKernelMs(latencyMs: number, baselineMs: number): number {
  return Math.max(latencyMs - baselineMs, 0);
}

/**
 * A network's time in table units as the host calibration maps it: the kernels' own times plus
 * one empty-model baseline (the table's per-network overhead model is left out: the host
 * calibration brings its own overhead), and the part of it spent in 1x1 convolutions.
 */
export function tableNetworkMs(p: { kernels: readonly { key: string; latencyMs: number }[]; baselineMs: number }): { tableMs: number; conv1x1TableMs: number } {
  let tableMs = p.baselineMs, conv1x1 = 0;
  for (const k of p.kernels) {
    const net = netKernelMs(k.latencyMs, p.baselineMs);
    tableMs += net;
    if (isConv1x1Key(k.key)) conv1x1 += net;
  }
  return { tableMs, conv1x1TableMs: conv1x1 };
}

export interface CalibrationPointRecord {
  /** "ref-v1" or the architecture id */
  name: string;
  input: string;
  /** the network's table time (tableNetworkMs) over the table's reference latency */
  tableRatio: number;
  /** the part of tableRatio spent in 1x1 convolutions */
  conv1x1TableRatio: number;
  /** median of the rounds' network/reference ratios on this host */
  measuredRatio: number;
  /** interquartile range / median of those ratios */
  relIqr: number;
  rounds: number;
}

/** One operator class's relative cost on this host against the table (kernels measured like the networks). */
export interface ClassCheck {
  /** operator class and input, e.g. "dwconv@32x32x3" (strata.ts) */
  cls: string;
  kernels: number;
  /** median over the class's kernels of (host ratio / table ratio), each less the baseline */
  hostOverTable: number;
  /** hostOverTable / the mapping's scale for the class - 1 */
  error: number;
  /** the class's share of the calibration networks' table time: under 1% its error does not count */
  share: number;
}

export interface HostCalibration {
  format: typeof CALIBRATION_FORMAT;
  formatVersion: number;
  deviceId: string;
  fingerprint: HostFingerprint;
  /** hash of the fingerprint (also in the file name) */
  fingerprintId: string;
  createdAt: string;
  /** the table's unit: its reference network latency (ms on the profiling machine) */
  tableReferenceMs: number;
  mapping: CalibrationMapping;
  /** the reference network's wall time on this host when the calibration was made */
  reference: ReferenceTiming;
  points: CalibrationPointRecord[];
  classes: ClassCheck[];
  /** calibration networks left out (did not fit the time bound, or could not be measured) */
  skipped?: string[];
  /** networks measured a second time because they were off the fit (first -> second ratio) */
  remeasured?: string[];
  /** the mapping on its own calibration points: fraction within ±10%, worst |relative error|; worst |class error| (null: no class checked) */
  fit: { within10: number; maxAbsRelErr: number; maxClassErr: number | null };
  /** the table's relative costs fit this host: every network and every class within FIT_LIMIT */
  fits: boolean;
  /** why not, when fits is false */
  misfit?: string;
  /** the reference network's per-round time (ms per call, by `method.clock`) seen while measuring: how much the host's speed moved */
  speed: { referenceMinMs: number; referenceMaxMs: number };
  method: { clock: Clock; interleaved: true; rounds: number; batchMs: number; threads: number };
  /** 1-minute load average before and after measuring */
  loadAvg: [number, number];
  wallS: number;
}

export type CalibrationState = 'fresh' | 'stale' | 'none' | 'off' | 'injected' | 'remote';

export interface CalibrationStatus {
  state: CalibrationState;
  /** the calibration in force (fresh, stale or injected) */
  calibration?: HostCalibration;
  /** the latest measurement of the reference network's wall time for this fingerprint (the calibration's own when none is newer) */
  reference?: ReferenceTiming;
  /** why it is stale / absent */
  reasons: string[];
  /** the latest refused attempt for this fingerprint, newer than the calibration in force */
  refused?: { at: string; reason: string };
}

export function calibrationsDir(): string {
  return dataPaths().calibrations;
}

export function isLocalRuntime(runtime: RuntimeId): boolean {
  return LOCAL_RUNTIME_IDS.includes(runtime);
}

function sha16(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

const tableHashes = new WeakMap<LatencyTable, string>();
export function tableHash(table: LatencyTable): string {
  let h = tableHashes.get(table);
  if (h === undefined) {
    // canonical: entries in key order (saveTable sorts them; a table built in memory may not be)
    const entries = Object.fromEntries(Object.entries(table.entries).sort(([a], [b]) => (a < b ? -1 : 1)));
    tableHashes.set(table, (h = sha16(JSON.stringify({ ...table, entries }))));
  }
  return h;
}

/** Version of the runtime package installed here (read from its package.json; nothing is loaded). */
export function installedRuntimeVersion(runtime: RuntimeId): string {
  const pkg = runtime === 'tflite-wasm' ? '@tensorflow/tfjs-tflite' : runtime === 'tfjs-wasm' ? '@tensorflow/tfjs-backend-wasm' : undefined;
  if (!pkg) return `${runtime} (built in)`;
  const require = createRequire(import.meta.url);
  return `${pkg} ${(require(`${pkg}/package.json`) as { version: string }).version}`;
}

export function hostFingerprint(device: DeviceProfile, table: LatencyTable): HostFingerprint {
  const m = describeMachine();
  return { deviceId: device.id, cpu: describeCpu(m), cores: m.cores, runtimeVersion: installedRuntimeVersion(device.runtime), node: m.node, tableHash: tableHash(table) };
}

export function fingerprintId(f: HostFingerprint): string {
  return sha16(JSON.stringify([f.deviceId, f.cpu, f.cores, f.runtimeVersion, f.node, f.tableHash]));
}

/** Table ratio -> host ratio. Never below half the scaled table ratio (a negative intercept must not zero a tiny network). */
export function applyMapping(m: CalibrationMapping, tableRatio: number, conv1x1Ratio = 0): number {
  const scaled = m.scale * (tableRatio - conv1x1Ratio) + m.conv1x1Scale * conv1x1Ratio;
  return Math.max(scaled + m.overheadRatio, 0.5 * scaled);
}

/** Host milliseconds per table millisecond of the non-1x1 kernels, with the reference's wall time: the factor reported beside a calibration. */
export function hostMsPerTableMs(c: Pick<HostCalibration, 'mapping' | 'tableReferenceMs'>, referenceMs: number): number {
  return (c.mapping.scale * referenceMs) / c.tableReferenceMs;
}

/** A network's table time and its measured cost on this host, in reference units of each side. */
export interface MappingPoint {
  table: number;
  /** the part of `table` spent in 1x1 convolutions (default 0) */
  conv1x1?: number;
  host: number;
}

export const pointOf = (p: CalibrationPointRecord): MappingPoint => ({ table: p.tableRatio, conv1x1: p.conv1x1TableRatio, host: p.measuredRatio });

/** Least squares on relative error (each row divided by its measured value, as fitOverhead does): the weights of the features. */
function fitRelative(rows: number[][], host: number[]): number[] {
  const mlr = new MultivariateLinearRegression(rows.map((r, i) => r.map((v) => v / host[i])), host.map(() => [1]), { intercept: false, statistics: false });
  return mlr.weights.map((w) => w[0]);
}

/** Bounds of conv1x1Scale / scale a per-class fit may give before one shared scale is used instead. */
export const CONV1X1_RATIO_BOUNDS: readonly [number, number] = [0.5, 2];

/**
 * Least squares on relative error of host = scale x other + conv1x1Scale x conv1x1 + overhead.
 * When the points' 1x1 share does not vary enough to tell the classes apart, or the per-class fit
 * is implausible, one scale is fitted for both (host = scale x table + overhead).
 */
export function fitMapping(points: MappingPoint[]): CalibrationMapping {
  if (points.length < 3) throw new MeasurementError(`calibration needs at least 3 measured networks, got ${points.length}`);
  for (const p of points) {
    if (!(p.table > 0 && p.host > 0)) throw new MeasurementError(`calibration point with a non-positive cost (table ${p.table}, measured ${p.host})`);
  }
  const y = points.map((p) => p.host);
  const c1 = points.map((p) => Math.min(Math.max(p.conv1x1 ?? 0, 0), p.table));
  const shares = points.map((p, i) => c1[i] / p.table);
  if (points.length >= 4 && Math.max(...shares) - Math.min(...shares) >= 0.2) {
    const [scale, conv1x1Scale, overheadRatio] = fitRelative(points.map((p, i) => [p.table - c1[i], c1[i], 1]), y);
    const ratio = conv1x1Scale / scale;
    if (scale > 0 && conv1x1Scale > 0 && Number.isFinite(overheadRatio) && ratio >= CONV1X1_RATIO_BOUNDS[0] && ratio <= CONV1X1_RATIO_BOUNDS[1]) {
      return { scale, conv1x1Scale, overheadRatio };
    }
  }
  const t = points.map((p) => p.table);
  if (Math.max(...t) - Math.min(...t) <= 1e-9 * Math.max(...t)) throw new MeasurementError('calibration fit failed: the calibration networks do not span a range of latencies');
  const [scale, overheadRatio] = fitRelative(points.map((p) => [p.table, 1]), y);
  if (!(scale > 0) || !Number.isFinite(overheadRatio)) throw new MeasurementError(`calibration fit failed: scale ${scale.toFixed(4)} is not a positive number`);
  return { scale, conv1x1Scale: scale, overheadRatio };
}

/** Relative error of the mapping on each point (predicted / measured - 1). */
export function mappingErrors(m: CalibrationMapping, points: MappingPoint[]): number[] {
  return points.map((p) => applyMapping(m, p.table, p.conv1x1 ?? 0) / p.host - 1);
}

export function mappingFit(m: CalibrationMapping, points: MappingPoint[]): { within10: number; maxAbsRelErr: number } {
  const rel = mappingErrors(m, points);
  return { within10: rel.filter((r) => Math.abs(r) <= 0.1).length / rel.length, maxAbsRelErr: Math.max(...rel.map(Math.abs)) };
}

/** Networks each predicted by a model fitted on the others: the share within ±10% and the mean |predicted / measured - 1|. */
export interface LeaveOneOut {
  within10: number;
  meanAbsErr: number;
}

/**
 * Expected accuracy of the mapping on networks it was not fitted on: each point predicted by the
 * mapping fitted on the others (leave-one-out). Null with fewer than 5 points.
 */
export function mappingLeaveOneOut(points: MappingPoint[]): LeaveOneOut | null {
  if (points.length < 5) return null;
  let ok = 0, sumAbs = 0;
  for (let i = 0; i < points.length; i++) {
    const rest = points.filter((_, j) => j !== i);
    try {
      const err = Math.abs(mappingErrors(fitMapping(rest), [points[i]])[0]);
      if (err <= 0.1) ok++;
      sumAbs += err;
    } catch (e) {
      if (!(e instanceof MeasurementError)) throw e;
      sumAbs += 1; // no fit without this point: counted as a miss of 100%
    }
  }
  return { within10: ok / points.length, meanAbsErr: sumAbs / points.length };
}

export class CalibrationFileError extends Error {
  readonly status = 400;
}

/** Validate an untrusted object as a calibration (wire -> typed). */
export function validateCalibration(input: unknown, where = 'calibration'): HostCalibration {
  const c = input as HostCalibration;
  const fail = (what: string) => new CalibrationFileError(`${where}: ${what}`);
  if (typeof c !== 'object' || c === null) throw fail('must be a JSON object');
  if (c.format !== CALIBRATION_FORMAT || c.formatVersion !== CALIBRATION_FORMAT_VERSION) throw fail(`not a host calibration of format version ${CALIBRATION_FORMAT_VERSION}`);
  if (typeof c.deviceId !== 'string' || typeof c.fingerprint !== 'object' || c.fingerprint === null) throw fail('missing deviceId or fingerprint');
  if (c.fingerprintId !== fingerprintId(c.fingerprint)) throw fail('fingerprintId does not match the fingerprint');
  if (typeof c.createdAt !== 'string' || Number.isNaN(Date.parse(c.createdAt))) throw fail('createdAt is not a date');
  const m = c.mapping;
  const positive = (x: unknown) => typeof x === 'number' && x > 0 && Number.isFinite(x);
  if (typeof m !== 'object' || m === null || !positive(m.scale) || !positive(m.conv1x1Scale) || typeof m.overheadRatio !== 'number' || !Number.isFinite(m.overheadRatio)) {
    throw fail('mapping must be {scale > 0, conv1x1Scale > 0, overheadRatio finite}');
  }
  if (!positive(c.tableReferenceMs)) throw fail('tableReferenceMs must be a positive number');
  if (typeof c.reference !== 'object' || c.reference === null || !positive(c.reference.ms) || Number.isNaN(Date.parse(c.reference.measuredAt))) throw fail('reference must be {ms > 0, measuredAt}');
  if (!Array.isArray(c.points) || c.points.length < 3) throw fail('needs at least 3 calibration points');
  if (!Array.isArray(c.classes) || typeof c.fits !== 'boolean') throw fail('missing the class check or the fits flag');
  return c;
}

type FileKind = 'calibration' | 'refused' | 'reference';
function fileName(deviceId: string, fpId: string, kind: FileKind): string {
  return `${deviceId}--${fpId}${kind === 'calibration' ? '' : `.${kind}`}.json`;
}

/** Write a JSON file whole or not at all: a temp file renamed over the target (a failed write removes the temp file). */
export function writeJsonAtomic(path: string, obj: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(obj, null, 1) + '\n');
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function saveCalibration(c: HostCalibration, dir = calibrationsDir()): string {
  validateCalibration(c);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName(c.deviceId, c.fingerprintId, 'calibration'));
  writeJsonAtomic(path, c);
  return path;
}

export function saveRefusal(deviceId: string, fpId: string, reason: string, dir = calibrationsDir()): void {
  mkdirSync(dir, { recursive: true });
  writeJsonAtomic(join(dir, fileName(deviceId, fpId, 'refused')), { deviceId, fingerprintId: fpId, at: new Date().toISOString(), reason });
}

/** Record a newer measurement of the reference network's wall time for this fingerprint (used by every later prediction in ms). */
export function saveReferenceTiming(deviceId: string, fpId: string, r: ReferenceTiming, dir = calibrationsDir()): void {
  if (!(r.ms > 0) || !Number.isFinite(r.ms)) throw new MeasurementError(`reference timing must be a positive number of ms, got ${r.ms}`);
  mkdirSync(dir, { recursive: true });
  writeJsonAtomic(join(dir, fileName(deviceId, fpId, 'reference')), r);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every valid calibration of a device in the folder, newest first (unreadable files, and files of an older format, are left alone and skipped). */
export function listCalibrations(deviceId: string, dir = calibrationsDir()): HostCalibration[] {
  if (!existsSync(dir)) return [];
  const out: HostCalibration[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${deviceId}--`) || !/--[0-9a-f]{16}\.json$/.test(f)) continue;
    try {
      const c = validateCalibration(readJson(join(dir, f)), f);
      if (c.deviceId === deviceId) out.push(c);
    } catch {
      // a damaged file is never used nor deleted
    }
  }
  return out.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
}

function differences(a: HostFingerprint, b: HostFingerprint): string[] {
  const names: Record<keyof HostFingerprint, string> = { deviceId: 'device', cpu: 'CPU', cores: 'cores', runtimeVersion: 'runtime version', node: 'Node', tableHash: 'latency table' };
  return (Object.keys(names) as (keyof HostFingerprint)[]).filter((k) => a[k] !== b[k]).map((k) => `${names[k]} changed (${String(a[k])} -> ${String(b[k])})`);
}

/** The newer of the calibration's reference timing and the latest one recorded for its fingerprint. */
function latestReference(c: HostCalibration, dir: string): ReferenceTiming {
  const r = readJson(join(dir, fileName(c.deviceId, c.fingerprintId, 'reference'))) as ReferenceTiming | undefined;
  const ok = r && typeof r.ms === 'number' && r.ms > 0 && Number.isFinite(r.ms) && typeof r.measuredAt === 'string' && !Number.isNaN(Date.parse(r.measuredAt));
  return ok && Date.parse(r.measuredAt) > Date.parse(c.reference.measuredAt) ? r : c.reference;
}

/** The calibration in force for a local device on this host, and whether it is fresh. Reads only. */
export function calibrationStatus(fp: HostFingerprint, dir = calibrationsDir(), now = Date.now()): CalibrationStatus {
  const fpId = fingerprintId(fp);
  const all = listCalibrations(fp.deviceId, dir);
  const exact = all.find((c) => c.fingerprintId === fpId);
  const inForce = exact ?? all[0];
  const r = readJson(join(dir, fileName(fp.deviceId, fpId, 'refused'))) as { at?: unknown; reason?: unknown } | undefined;
  const refused = r && typeof r.at === 'string' && typeof r.reason === 'string' && (!inForce || Date.parse(r.at) > Date.parse(inForce.createdAt))
    ? { at: r.at, reason: r.reason } : undefined;
  if (!inForce) return { state: 'none', reasons: [`no calibration of ${fp.deviceId} for this host yet`], ...(refused ? { refused } : {}) };
  const reasons = exact ? [] : differences(inForce.fingerprint, fp);
  const ageDays = (now - Date.parse(inForce.createdAt)) / 86_400_000;
  if (ageDays > MAX_CALIBRATION_AGE_DAYS) reasons.push(`made ${ageDays.toFixed(0)} days ago (limit ${MAX_CALIBRATION_AGE_DAYS})`);
  return { state: reasons.length === 0 ? 'fresh' : 'stale', calibration: inForce, reference: latestReference(inForce, dir), reasons, ...(refused ? { refused } : {}) };
}

/** The mapping as a formula in reference units (one scale when both classes share it). */
export function describeMapping(m: CalibrationMapping): string {
  const sign = `${m.overheadRatio >= 0 ? '+' : '-'} ${Math.abs(m.overheadRatio).toFixed(4)}`;
  return m.conv1x1Scale === m.scale
    ? `host ratio = ${m.scale.toFixed(4)} x table ratio ${sign}`
    : `host ratio = ${m.scale.toFixed(4)} x table ratio (1x1 convs: ${m.conv1x1Scale.toFixed(4)} x) ${sign}`;
}

/** "reference 0.1234 ms (measured 2026-...Z): 1 table ms = 1.2345 host ms" */
export function describeReference(c: HostCalibration, r: ReferenceTiming = c.reference): string {
  return `reference ${r.ms.toFixed(4)} ms (wall clock, measured ${r.measuredAt.slice(0, 19)}Z): 1 table ms = ${hostMsPerTableMs(c, r.ms).toFixed(4)} host ms`;
}

/** One line for humans: which calibration is in force, its factor and when it and the reference were measured, whether the table fits this host. */
export function describeCalibration(s: CalibrationStatus): string {
  const c = s.calibration;
  const map = c ? `${describeMapping(c.mapping)}; ${describeReference(c, s.reference ?? c.reference)}` : '';
  const made = c ? `made ${c.createdAt.slice(0, 19)}Z on ${c.fingerprint.cpu} (${c.fingerprint.cores} cores), ${c.points.length} networks, load ${c.loadAvg[0].toFixed(2)}` : '';
  const fit = c && !c.fits ? `; relative costs do NOT fit this host (${c.misfit}): re-profile with nas latency adapt --device ${c.deviceId}` : '';
  let line: string;
  switch (s.state) {
    case 'fresh': line = `fresh: ${map}; ${made}${fit}`; break;
    case 'stale': line = `STALE (${s.reasons.join('; ')}): ${map}; ${made}${fit}`; break;
    case 'injected': line = `injected: ${map}`; break;
    case 'off': line = 'off: predictions in table units (reference-network unit of the profiling machine)'; break;
    case 'remote': line = 'none applied: remote device, predictions in the unit of its own upload'; break;
    default: line = `NONE (${s.reasons.join('; ')}): predictions in table units, not this host's ms`;
  }
  return s.refused ? `${line}; last attempt refused ${s.refused.at.slice(0, 19)}Z: ${s.refused.reason}` : line;
}
