// Latency tables (latency-tables/<device>.json): measured kernels of one
// device, with what they were measured on. Validated when read; written
// atomically (temp file + rename) and only from a complete profile, so an
// existing table is never replaced by a failed or partial one.
//
// Where: tables measured or uploaded by the user live in the data directory
// (<data dir>/latency-tables, where new tables are written); the tables
// shipped with the package (PACKAGE_ROOT/latency-tables) come second when
// looking one up. Never the working directory.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dataPaths, shippedPaths } from '../config/paths.ts';
import { ARCH_SPEC_VERSION } from '../space/types.ts';
import { validateDeviceProfile, type DeviceProfile } from './device.ts';
import { parseKernelKey } from './kernels.ts';
import { describeCpu } from './machine.ts';
import type { Clock } from './runtime.ts';
import { MAX_REL_IQR } from './stats.ts';

export const TABLE_FORMAT = 'nas-latency-table';
export const TABLE_FORMAT_VERSION = 1;
/** Version of the search space the kernel keys belong to. */
export const LATENCY_SPACE_VERSION = `mnas-arch-v${ARCH_SPEC_VERSION}`;

export interface TableEntry {
  /**
   * kernel time: median of the one-kernel model as measured (it includes one
   * per-inference overhead; the table's overhead model corrects sums for it)
   */
  latencyMs: number;
  /** median as measured before any correction (equal to latencyMs for local profiles) */
  rawMs: number;
  relIqr: number;
  repeats: number;
}

/**
 * Per-network overhead: e2e = slope * sum(kernels) + perKernelMs * n
 * + perOutMelemMs * (Melements written by the kernels) + interceptMs. The
 * last feature absorbs costs a one-kernel model pays for its output that a
 * network does not (tfjs downloads every kernel model's output).
 */
export interface OverheadModel {
  slope: number;
  perKernelMs: number;
  perOutMelemMs?: number;
  interceptMs: number;
  /**
   * Per input ("28x28x1"): the kernel-sum slope of that input's networks, when the model was fitted
   * with one slope per input (an uploaded quick table whose networks chose it, leave-one-out);
   * `slope` serves other inputs and callers that do not say the input.
   */
  slopeByInput?: Record<string, number>;
  /** networks it was fitted on */
  fittedOn: number;
}

export interface MachineInfo {
  cpu: string;
  /** /proc/cpuinfo vendor_id, cpu family and model (absent in tables that did not record them) */
  cpuVendor?: string;
  cpuFamily?: number;
  cpuModel?: number;
  cores: number;
  os: string;
  node: string;
}

export interface LatencyTable {
  format: typeof TABLE_FORMAT;
  formatVersion: number;
  spaceVersion: string;
  device: DeviceProfile;
  machine: MachineInfo;
  createdAt: string;
  /** inputs (HxWxC) and skeletons the entries were enumerated for */
  inputs: { skeleton: string; input: string; numClasses: number; kernels: number }[];
  measure: {
    warmup: number;
    repeats: number;
    /** rounds for whole networks (calibration); absent in older tables = repeats */
    networkRepeats?: number;
    batchMs: number;
    clock: Clock;
    useReference: boolean;
    /** id of the reference network the samples are ratios to (null: plain times) */
    reference: string | null;
    /** the reference network's latency: the unit later measurements must reuse */
    referenceMs: number;
    /** the empty-model (1x1x8 add) latency */
    baselineMs: number;
  };
  overhead: OverheadModel | null;
  /** fusion check on the calibration networks: median of (kernel sum - (n-1) x baseline) / measured */
  calibration?: { networks: number; seed: number; medianSumOverMeasured: number };
  /** how an adapted table came about (absent: a table profiled in full on its machine, e.g. a shipped one) */
  provenance?: TableProvenance;
  entries: Record<string, TableEntry>;
}

/** What kind of table is in force: shipped with the package, transferred (a subset measured here, the rest mapped), or fully measured. */
export type TableKind = 'shipped' | 'transferred' | 'full';

export interface TableProvenance {
  kind: 'transferred' | 'full';
  /** the table the unmeasured kernels were mapped from */
  source?: { deviceId: string; tableHash: string; createdAt: string; cpu: string };
  measuredKernels: number;
  totalKernels: number;
  /** per operator class at each input (strata.ts): kernels measured on this device / in the table */
  classes: { cls: string; measured: number; total: number }[];
  /** the transfer method used and the cross-validation of both on the measured kernels */
  transfer?: {
    method: 'per-class' | 'features';
    /** kernels held out in 5 folds: time-weighted mean |error|, share within ±10% */
    crossValidation: { method: 'per-class' | 'features'; weightedErr: number; within10: number }[];
    /** how the method was chosen */
    chosenBy?: string;
    /** per method: the share of the device's measured networks within ±10%, each predicted without itself (null: too few) */
    networks?: { method: 'per-class' | 'features'; within10: number | null }[];
  };
  /** fraction of networks within ±10% expected on networks not measured: leave-one-out over those measured on the device */
  expectedAccuracy?: { within10: number; networks: number; method: string; /** mean |predicted / measured - 1| of those networks (absent in older tables) */ meanAbsErr?: number };
  /** seconds spent measuring (over all sessions of a resumed profile) */
  measuredS: number;
  /** kernels of an upload left out because their repeats disagreed (mapped like the unmeasured ones) */
  dropped?: string[];
  /** kernels kept although their repeats disagreed: each the steadiest of a class that would otherwise have none measured */
  keptNoisy?: string[];
}

export class TableError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = 'TableError';
    this.status = status;
  }
}

/** Where new tables are written: <data dir>/latency-tables. */
export function defaultTablesDir(): string {
  return dataPaths().latencyTables;
}

/** Folders searched for a device's table, first hit wins: the user's, then the shipped ones. */
export function tableSearchDirs(): string[] {
  return [dataPaths().latencyTables, shippedPaths.latencyTables];
}

export function tablePath(deviceId: string, dir = defaultTablesDir()): string {
  return join(dir, `${deviceId}.json`);
}

function isPosFinite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

/** Validate an untrusted object as a table of the current space version. */
export function validateTable(input: unknown, where = 'latency table'): LatencyTable {
  if (typeof input !== 'object' || input === null) throw new TableError(`${where}: must be a JSON object`);
  const t = input as LatencyTable;
  if (t.format !== TABLE_FORMAT) throw new TableError(`${where}: not a latency table (format "${String(t.format)}")`);
  if (t.formatVersion !== TABLE_FORMAT_VERSION) throw new TableError(`${where}: table format version ${String(t.formatVersion)} is not supported (expected ${TABLE_FORMAT_VERSION})`);
  if (t.spaceVersion !== LATENCY_SPACE_VERSION) {
    throw new TableError(`${where}: table is for search space version "${String(t.spaceVersion)}", this build uses "${LATENCY_SPACE_VERSION}"; re-profile the device`, 409);
  }
  validateDeviceProfile(t.device, `${where}: device`);
  if (typeof t.entries !== 'object' || t.entries === null) throw new TableError(`${where}: "entries" must be an object`);
  // kernels the provenance names as kept despite disagreeing repeats (a class's only measurement) may exceed the limit
  const noisyOk = new Set(Array.isArray(t.provenance?.keptNoisy) ? t.provenance.keptNoisy : []);
  for (const [key, e] of Object.entries(t.entries)) {
    try {
      parseKernelKey(key);
    } catch (err) {
      throw new TableError(`${where}: ${(err as Error).message}`);
    }
    if (!isPosFinite(e?.latencyMs) || !isPosFinite(e?.rawMs)) throw new TableError(`${where}: entry ${key} has a latency that is not a positive number`);
    if (typeof e.relIqr !== 'number' || !(e.relIqr >= 0) || (e.relIqr > MAX_REL_IQR && !noisyOk.has(key))) throw new TableError(`${where}: entry ${key} has inconsistent repeats (relIqr ${String(e.relIqr)})`);
  }
  const p = t.provenance;
  if (p !== undefined && (typeof p !== 'object' || p === null || (p.kind !== 'transferred' && p.kind !== 'full') || !Number.isInteger(p.measuredKernels) || !Number.isInteger(p.totalKernels) || !Array.isArray(p.classes))) {
    throw new TableError(`${where}: "provenance" must be {kind: transferred | full, measuredKernels, totalKernels, classes}`);
  }
  const o = t.overhead;
  if (o !== null && (typeof o !== 'object' || ![o.slope, o.perKernelMs, o.interceptMs].every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new TableError(`${where}: "overhead" must be null or {slope, perKernelMs, interceptMs} numbers`);
  }
  const sbi = o?.slopeByInput;
  if (sbi !== undefined && (typeof sbi !== 'object' || sbi === null || Array.isArray(sbi) || !Object.entries(sbi).every(([k, v]) => /^\d+x\d+x\d+$/.test(k) && typeof v === 'number' && Number.isFinite(v)))) {
    throw new TableError(`${where}: "overhead.slopeByInput" must map inputs (e.g. "28x28x1") to numbers`);
  }
  return t;
}

/** A device's table from `dir`, or (no dir) from the first of tableSearchDirs() that has one. */
export function loadTable(deviceId: string, dir?: string): LatencyTable {
  return loadTableFile(deviceId, dir).table;
}

/** The table with where it was found: `shipped` when it came from the package's own tables. */
export function loadTableFile(deviceId: string, dir?: string): { table: LatencyTable; path: string; shipped: boolean } {
  const candidates = (dir === undefined ? tableSearchDirs() : [dir]).map((d) => tablePath(deviceId, d));
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) throw new TableError(`no latency table for device "${deviceId}" (looked for ${candidates.join(', ')}); run: nas profile --device ${deviceId}`, 404);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TableError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const t = validateTable(raw, path);
  if (t.device.id !== deviceId) throw new TableError(`${path}: table is for device "${t.device.id}", not "${deviceId}"`);
  return { table: t, path, shipped: dirname(path) === shippedPaths.latencyTables };
}

/** The kind of a table: its provenance's, else shipped (from the package) or full (profiled in full, e.g. by nas profile). */
export function tableKind(t: LatencyTable, shipped: boolean): TableKind {
  return t.provenance?.kind ?? (shipped ? 'shipped' : 'full');
}

/** "transferred (made 2026-12-01T10:00Z on <cpu>; 533 of 5878 kernels measured there, per-class transfer)" and the like. */
export function describeTable(t: LatencyTable, shipped: boolean): string {
  const kind = tableKind(t, shipped);
  const p = t.provenance;
  const when = `${t.createdAt.slice(0, 16)}Z on ${describeCpu(t.machine)}`;
  if (kind === 'transferred' && p) {
    return `transferred (made ${when}; ${p.measuredKernels} of ${p.totalKernels} kernels measured there, the rest mapped from ${p.source?.deviceId ?? 'the source table'} by the ${p.transfer?.method ?? 'per-class'} fit` +
      `${p.expectedAccuracy ? `; expected ${(100 * p.expectedAccuracy.within10).toFixed(0)}% of networks within ±10%` : ''})`;
  }
  return `${kind} (measured ${when}${p ? `, ${p.measuredKernels} kernels` : ''})`;
}

/** Validate, then write atomically. A table that does not validate never reaches the target path. */
export function saveTable(table: LatencyTable, dir = defaultTablesDir()): string {
  validateTable(table);
  if (Object.keys(table.entries).length === 0) throw new TableError('refusing to save a latency table with no entries');
  const path = tablePath(table.device.id, dir);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const sorted = Object.fromEntries(Object.entries(table.entries).sort(([a], [b]) => (a < b ? -1 : 1)));
  try {
    writeFileSync(tmp, JSON.stringify({ ...table, entries: sorted }, null, 1) + '\n');
    renameSync(tmp, path);
  } catch (e) {
    // a full disk or a kill between the two leaves the previous table in force, and no temp file behind
    rmSync(tmp, { force: true });
    throw e;
  }
  return path;
}
