// Host calibration of a local device's latency table: tables store kernel
// latencies in the unit of a reference network as profiled on the profiling
// machine; this host's wall clock differs (a fresh machine measured 0.64-0.96
// x the predictions). A calibration maps table units to this host's
// wall-clock milliseconds,
//
//   hostMs = scale x otherTableMs + conv1x1Scale x conv1x1TableMs + overheadMs
//
// where conv1x1TableMs is the table-unit sum of the network's 1x1
// convolutions, otherTableMs the sum of all its other kernels, and their
// total is the network's KERNEL SUM in table units (each entry less the
// empty-model baseline it carries, plus one baseline): the table's own
// per-network overhead model (fitted on the profiling machine) is replaced by
// this host's overheadMs, which matters most for small networks (version 2;
// version 1 mapped the table's total and under-predicted small networks by
// up to 10% here). 1x1 convolutions get a scale of their own (version 3):
// on the 2-core build hosts they ran 7-12% slower relative to the table than
// the other kernels, so one scale fitted on the random networks of the space
// (1x1 convs 5-54% of the kernel sum) under-predicted hand-designed networks
// (MobileNetV2, MnasNet: 67-85%) by up to 14%. Fitted on the reference
// network, a few random calibration networks and a few MobileNetV2 presets,
// measured by wall clock (src/latency/calibration-wall.ts); when the
// calibration networks do not tell the two classes apart, one scale is fitted
// and used for both. It is valid for one host fingerprint (CPU model, cores,
// runtime version, Node, table hash) and kept as JSON under
// dataPaths().calibrations, one file per device and fingerprint, written only
// when complete and consistent.
// Status of a prediction's calibration: fresh (fingerprint matches, recent),
// stale (the last good one of another fingerprint, or too old: in force but
// flagged), none, off (disabled), injected (tests), remote (a device profiled
// elsewhere keeps its upload's own unit: no host calibration applies).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MultivariateLinearRegression } from 'ml-regression';
import { join } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import type { DeviceProfile } from './device.ts';
import { describeMachine } from './machine.ts';
import { LOCAL_RUNTIME_IDS, MeasurementError, type RuntimeId } from './runtime.ts';
import type { LatencyTable } from './table.ts';

export const CALIBRATION_FORMAT = 'nas-host-calibration';
export const CALIBRATION_FORMAT_VERSION = 3;
/** A calibration older than this is flagged stale (and redone automatically). */
export const MAX_CALIBRATION_AGE_DAYS = 30;

export interface HostFingerprint {
  deviceId: string;
  cpu: string;
  cores: number;
  runtimeVersion: string;
  node: string;
  /** first 16 hex digits of the SHA-256 of the table's JSON (entries sorted) */
  tableHash: string;
}

export interface CalibrationMapping {
  /** host ms per table ms of every kernel but the 1x1 convolutions */
  scale: number;
  /** host ms per table ms of the 1x1 convolutions (equal to scale when the calibration could not tell them apart) */
  conv1x1Scale: number;
  overheadMs: number;
}

/** A kernel key of a 1x1 convolution (the class with a scale of its own). */
export function isConv1x1Key(key: string): boolean {
  return key.startsWith('conv_k1_');
}

/** The host scale of one kernel (table ms -> host ms, before the per-network overhead). */
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
  /** the network's table time (tableNetworkMs: the kernels' own times plus one empty-model baseline; table units, before the table's overhead model) */
  tableMs: number;
  /** the part of tableMs spent in 1x1 convolutions */
  conv1x1TableMs: number;
  /** wall-clock median on this host */
  measuredMs: number;
  /** spread of the pass medians, (max - min) / median */
  spread: number;
  calls: number;
}

export interface HostCalibration {
  format: typeof CALIBRATION_FORMAT;
  formatVersion: number;
  deviceId: string;
  fingerprint: HostFingerprint;
  /** hash of the fingerprint (also in the file name) */
  fingerprintId: string;
  createdAt: string;
  mapping: CalibrationMapping;
  points: CalibrationPointRecord[];
  /** calibration networks left out (did not fit the time bound, or did not reproduce) */
  skipped?: string[];
  /** networks measured a second time because they were off the fit (first -> second median) */
  remeasured?: string[];
  /** the mapping on its own calibration points: fraction within ±10%, worst |relative error| */
  fit: { within10: number; maxAbsRelErr: number };
  method: { warmup: number; calls: number; passes: number; tolerance: number; clock: 'wall'; threads: number };
  /** 1-minute load average before and after measuring */
  loadAvg: [number, number];
  wallS: number;
}

export type CalibrationState = 'fresh' | 'stale' | 'none' | 'off' | 'injected' | 'remote';

export interface CalibrationStatus {
  state: CalibrationState;
  /** the calibration in force (fresh, stale or injected) */
  calibration?: HostCalibration;
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
  return { deviceId: device.id, cpu: m.cpu, cores: m.cores, runtimeVersion: installedRuntimeVersion(device.runtime), node: m.node, tableHash: tableHash(table) };
}

export function fingerprintId(f: HostFingerprint): string {
  return sha16(JSON.stringify([f.deviceId, f.cpu, f.cores, f.runtimeVersion, f.node, f.tableHash]));
}

/** Table units -> host ms. Never below half the scaled table time (a negative intercept must not zero a tiny network). */
export function applyMapping(m: CalibrationMapping, tableMs: number, conv1x1Ms = 0): number {
  const scaled = m.scale * (tableMs - conv1x1Ms) + m.conv1x1Scale * conv1x1Ms;
  return Math.max(scaled + m.overheadMs, 0.5 * scaled);
}

export interface MappingPoint {
  tableMs: number;
  /** default 0 */
  conv1x1TableMs?: number;
  measuredMs: number;
}

/** Least squares on relative error (each row divided by its measured time, as fitOverhead does): the weights of the features. */
function fitRelative(rows: number[][], measuredMs: number[]): number[] {
  const mlr = new MultivariateLinearRegression(rows.map((r, i) => r.map((v) => v / measuredMs[i])), measuredMs.map(() => [1]), { intercept: false, statistics: false });
  return mlr.weights.map((w) => w[0]);
}

/** Bounds of conv1x1Scale / scale a per-class fit may give before one shared scale is used instead. */
export const CONV1X1_RATIO_BOUNDS: readonly [number, number] = [0.5, 2];

/**
 * Least squares on relative error of hostMs = scale x other + conv1x1Scale x conv1x1 + overheadMs.
 * When the points' 1x1 share does not vary enough to tell the classes apart, or the per-class fit
 * is implausible, one scale is fitted for both (hostMs = scale x tableMs + overheadMs).
 */
export function fitMapping(points: MappingPoint[]): CalibrationMapping {
  if (points.length < 3) throw new MeasurementError(`calibration needs at least 3 measured networks, got ${points.length}`);
  for (const p of points) {
    if (!(p.tableMs > 0 && p.measuredMs > 0)) throw new MeasurementError(`calibration point with a non-positive latency (table ${p.tableMs} ms, measured ${p.measuredMs} ms)`);
  }
  const y = points.map((p) => p.measuredMs);
  const c1 = points.map((p) => Math.min(Math.max(p.conv1x1TableMs ?? 0, 0), p.tableMs));
  const shares = points.map((p, i) => c1[i] / p.tableMs);
  if (points.length >= 4 && Math.max(...shares) - Math.min(...shares) >= 0.2) {
    const [scale, conv1x1Scale, overheadMs] = fitRelative(points.map((p, i) => [p.tableMs - c1[i], c1[i], 1]), y);
    const ratio = conv1x1Scale / scale;
    if (scale > 0 && conv1x1Scale > 0 && Number.isFinite(overheadMs) && ratio >= CONV1X1_RATIO_BOUNDS[0] && ratio <= CONV1X1_RATIO_BOUNDS[1]) {
      return { scale, conv1x1Scale, overheadMs };
    }
  }
  const t = points.map((p) => p.tableMs);
  if (Math.max(...t) - Math.min(...t) <= 1e-9 * Math.max(...t)) throw new MeasurementError('calibration fit failed: the calibration networks do not span a range of latencies');
  const [scale, overheadMs] = fitRelative(points.map((p) => [p.tableMs, 1]), y);
  if (!(scale > 0) || !Number.isFinite(overheadMs)) throw new MeasurementError(`calibration fit failed: scale ${scale.toFixed(4)} is not a positive number`);
  return { scale, conv1x1Scale: scale, overheadMs };
}

export function mappingFit(m: CalibrationMapping, points: MappingPoint[]): HostCalibration['fit'] {
  const rel = points.map((p) => applyMapping(m, p.tableMs, p.conv1x1TableMs ?? 0) / p.measuredMs - 1);
  return { within10: rel.filter((r) => Math.abs(r) <= 0.1).length / rel.length, maxAbsRelErr: Math.max(...rel.map(Math.abs)) };
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
  if (typeof m !== 'object' || m === null || !positive(m.scale) || !positive(m.conv1x1Scale) || typeof m.overheadMs !== 'number' || !Number.isFinite(m.overheadMs)) {
    throw fail('mapping must be {scale > 0, conv1x1Scale > 0, overheadMs finite}');
  }
  if (!Array.isArray(c.points) || c.points.length < 3) throw fail('needs at least 3 calibration points');
  return c;
}

function fileName(deviceId: string, fpId: string, kind: 'calibration' | 'refused'): string {
  return `${deviceId}--${fpId}${kind === 'refused' ? '.refused' : ''}.json`;
}

function writeAtomic(path: string, obj: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(obj, null, 1) + '\n');
  renameSync(tmp, path);
}

export function saveCalibration(c: HostCalibration, dir = calibrationsDir()): string {
  validateCalibration(c);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName(c.deviceId, c.fingerprintId, 'calibration'));
  writeAtomic(path, c);
  return path;
}

export function saveRefusal(deviceId: string, fpId: string, reason: string, dir = calibrationsDir()): void {
  mkdirSync(dir, { recursive: true });
  writeAtomic(join(dir, fileName(deviceId, fpId, 'refused')), { deviceId, fingerprintId: fpId, at: new Date().toISOString(), reason });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every valid calibration of a device in the folder, newest first (unreadable files are left alone and skipped). */
export function listCalibrations(deviceId: string, dir = calibrationsDir()): HostCalibration[] {
  if (!existsSync(dir)) return [];
  const out: HostCalibration[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${deviceId}--`) || !f.endsWith('.json') || f.endsWith('.refused.json')) continue;
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
  return { state: reasons.length === 0 ? 'fresh' : 'stale', calibration: inForce, reasons, ...(refused ? { refused } : {}) };
}

/** The mapping as a formula (one scale when both classes share it). */
export function describeMapping(m: CalibrationMapping): string {
  const sign = `${m.overheadMs >= 0 ? '+' : '-'} ${Math.abs(m.overheadMs).toFixed(4)} ms`;
  return m.conv1x1Scale === m.scale
    ? `host ms = ${m.scale.toFixed(4)} x table ms ${sign}`
    : `host ms = ${m.scale.toFixed(4)} x table ms (1x1 convs: ${m.conv1x1Scale.toFixed(4)} x) ${sign}`;
}

/** One line for humans: which calibration is in force and when it was made. */
export function describeCalibration(s: CalibrationStatus): string {
  const c = s.calibration;
  const map = c ? describeMapping(c.mapping) : '';
  const made = c ? `made ${c.createdAt.slice(0, 19)}Z on ${c.fingerprint.cpu} (${c.fingerprint.cores} cores), ${c.points.length} networks, load ${c.loadAvg[0].toFixed(2)}` : '';
  let line: string;
  switch (s.state) {
    case 'fresh': line = `fresh: ${map}; ${made}`; break;
    case 'stale': line = `STALE (${s.reasons.join('; ')}): ${map}; ${made}`; break;
    case 'injected': line = `injected: ${map}`; break;
    case 'off': line = 'off: predictions in table units (reference-network unit of the profiling machine)'; break;
    case 'remote': line = 'none applied: remote device, predictions in the unit of its own upload'; break;
    default: line = `NONE (${s.reasons.join('; ')}): predictions in table units, not this host's ms`;
  }
  return s.refused ? `${line}; last attempt refused ${s.refused.at.slice(0, 19)}Z: ${s.refused.reason}` : line;
}
