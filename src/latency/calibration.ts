// Host calibration of a local device's latency table: tables store kernel
// latencies in the unit of a reference network as profiled on the profiling
// machine; this host's wall clock differs (a fresh machine measured 0.64-0.96
// x the predictions). A calibration maps table units to this host's
// wall-clock milliseconds,
//
//   hostMs = scale x tableMs + overheadMs
//
// where tableMs is the network's KERNEL SUM in table units: the table's own
// per-network overhead model (fitted on the profiling machine) is replaced by
// this host's overheadMs, which matters most for small networks (version 2;
// version 1 mapped the table's total and under-predicted small networks by
// up to 10% here). Fitted on the reference network and a few calibration networks measured by
// wall clock (src/latency/calibration-wall.ts). It is valid for one host
// fingerprint (CPU model, cores, runtime version, Node, table hash) and kept
// as JSON under dataPaths().calibrations, one file per device and
// fingerprint, written only when complete and consistent.
// Status of a prediction's calibration: fresh (fingerprint matches, recent),
// stale (the last good one of another fingerprint, or too old: in force but
// flagged), none, off (disabled), injected (tests), remote (a device profiled
// elsewhere keeps its upload's own unit: no host calibration applies).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { dataPaths } from '../config/paths.ts';
import type { DeviceProfile } from './device.ts';
import { describeMachine } from './machine.ts';
import { LOCAL_RUNTIME_IDS, MeasurementError, type RuntimeId } from './runtime.ts';
import type { LatencyTable } from './table.ts';

export const CALIBRATION_FORMAT = 'nas-host-calibration';
export const CALIBRATION_FORMAT_VERSION = 2;
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
  scale: number;
  overheadMs: number;
}

export interface CalibrationPointRecord {
  /** "ref-v1" or the architecture id */
  name: string;
  input: string;
  /** the table's kernel sum for the network (table units, before the table's overhead model) */
  tableMs: number;
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
export function applyMapping(m: CalibrationMapping, tableMs: number): number {
  return Math.max(m.scale * tableMs + m.overheadMs, 0.5 * m.scale * tableMs);
}

/** Least squares on relative error of hostMs = scale x tableMs + overheadMs. */
export function fitMapping(points: { tableMs: number; measuredMs: number }[]): CalibrationMapping {
  if (points.length < 3) throw new MeasurementError(`calibration needs at least 3 measured networks, got ${points.length}`);
  let s11 = 0, s12 = 0, s22 = 0, b1 = 0, b2 = 0;
  for (const p of points) {
    if (!(p.tableMs > 0 && p.measuredMs > 0)) throw new MeasurementError(`calibration point with a non-positive latency (table ${p.tableMs} ms, measured ${p.measuredMs} ms)`);
    const x1 = p.tableMs / p.measuredMs, x2 = 1 / p.measuredMs;
    s11 += x1 * x1; s12 += x1 * x2; s22 += x2 * x2; b1 += x1; b2 += x2;
  }
  const det = s11 * s22 - s12 * s12;
  if (!(Math.abs(det) > 1e-12 * s11 * s22)) throw new MeasurementError('calibration fit failed: the calibration networks do not span a range of latencies');
  const scale = (b1 * s22 - b2 * s12) / det;
  const overheadMs = (s11 * b2 - s12 * b1) / det;
  if (!(scale > 0) || !Number.isFinite(overheadMs)) throw new MeasurementError(`calibration fit failed: scale ${scale.toFixed(4)} is not a positive number`);
  return { scale, overheadMs };
}

export function mappingFit(m: CalibrationMapping, points: { tableMs: number; measuredMs: number }[]): HostCalibration['fit'] {
  const rel = points.map((p) => applyMapping(m, p.tableMs) / p.measuredMs - 1);
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
  if (typeof m !== 'object' || m === null || !(m.scale > 0) || !Number.isFinite(m.scale) || typeof m.overheadMs !== 'number' || !Number.isFinite(m.overheadMs)) {
    throw fail('mapping must be {scale > 0, overheadMs finite}');
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

/** One line for humans: which calibration is in force and when it was made. */
export function describeCalibration(s: CalibrationStatus): string {
  const c = s.calibration;
  const map = c ? `host ms = ${c.mapping.scale.toFixed(4)} x table ms ${c.mapping.overheadMs >= 0 ? '+' : '-'} ${Math.abs(c.mapping.overheadMs).toFixed(4)} ms` : '';
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
