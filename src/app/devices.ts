// Device use cases, called alike by the HTTP routes and any other door:
// register a device (with its upload token), describe it (table versions,
// coverage, calibration), store uploaded measurements as a new table version,
// restore an old version, hand out the benchmark suite, predict latency.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readBundleManifest, writeBundle, type BundleManifest, type BundleMode, type BundleOptions } from '../latency/bundle.ts';
import { validateDeviceProfile, type DeviceProfile } from '../latency/device.ts';
import { calibrationStatus, hostFingerprint, isLocalRuntime, tableHash, type CalibrationStatus } from '../latency/calibration.ts';
import { calibratePredictor, tableInForce, type CalibratedPredictor } from '../latency/index.ts';
import { createPredictor, type LatencyPredictor } from '../latency/predictor.ts';
import { dataPaths } from '../config/paths.ts';
import { loadTable, tableKind, type LatencyTable, type TableKind } from '../latency/table.ts';
import { resultsToTable, UploadError } from '../latency/upload.ts';
import { archId } from '../space/archspec.ts';
import { archCost } from '../space/cost.ts';
import { parseInputShape, resolveArch } from '../space/resolve.ts';
import { SKELETON_SMALL } from '../space/skeleton.ts';
import { SpaceError, type ArchSpec } from '../space/types.ts';
import { fromWire } from '../space/archspec.ts';
import type { Db } from '../store/db.ts';
import { importLocalTable, materializeDevice } from './device-sync.ts';
import { checkUploadToken, getDevice, insertDevice, listStoredDevices, setUploadToken, type DeviceRecord } from '../store/devices.ts';
import { newToken } from '../store/keys.ts';
import { addVersion, getTableVersion, listVersions, restoreVersion, type TableVersionInfo } from '../store/tableVersions.ts';

export interface DeviceStore {
  db: Db;
  /** shipped latency tables (version 1 of built-in devices) */
  shippedTablesDir: string;
  /** the data directory: current tables and registered profiles are written there for searches and the CLI */
  dataDir: string;
}

export class DeviceUseCaseError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'DeviceUseCaseError';
    this.status = status;
  }
}

export interface DeviceView {
  id: string;
  profile: DeviceProfile;
  builtin: boolean;
  tableVersion: number | null;
  hasUploadToken: boolean;
  createdAt: string;
}

export const deviceView = (r: DeviceRecord): DeviceView => ({
  id: r.profile.id, profile: r.profile, builtin: r.builtin, tableVersion: r.currentVersion, hasUploadToken: r.hasUploadToken, createdAt: r.createdAt,
});

export function requireDevice(db: Db, id: string): DeviceRecord {
  const d = getDevice(db, id);
  if (!d) throw new DeviceUseCaseError(`device "${id}" not found`, 404);
  return d;
}

export const profileUrl = (id: string, token: string): string => `/profile/?device=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;

/** Register a device; its upload token is returned once. */
export function registerDevice(store: DeviceStore, input: unknown, createdBy: string | null): { device: DeviceView; uploadToken: string; profileUrl: string } {
  const profile = validateDeviceProfile(input, 'device');
  const uploadToken = newToken('dev_');
  if (!insertDevice(store.db, profile, { uploadToken, createdBy })) throw new DeviceUseCaseError(`device "${profile.id}" already exists`, 409);
  materializeDevice(store, profile.id);
  return { device: deviceView(requireDevice(store.db, profile.id)), uploadToken, profileUrl: profileUrl(profile.id, uploadToken) };
}

/** A new upload token for a device (the previous one stops working). */
export function rotateUploadToken(store: DeviceStore, id: string): { deviceId: string; uploadToken: string; profileUrl: string } {
  requireDevice(store.db, id);
  const uploadToken = newToken('dev_');
  setUploadToken(store.db, id, uploadToken);
  return { deviceId: id, uploadToken, profileUrl: profileUrl(id, uploadToken) };
}

export function listDeviceViews(store: DeviceStore): DeviceView[] {
  return listStoredDevices(store.db).map(deviceView);
}

export interface DeviceDetail extends DeviceView {
  versions: TableVersionInfo[];
  table: null | {
    version: number;
    entries: number;
    coverage: { input: string; skeleton: string; numClasses: number; kernels: number }[];
    measure: LatencyTable['measure'];
    overhead: LatencyTable['overhead'];
    calibration: LatencyTable['calibration'] | null;
    /** shipped, transferred (a subset measured on the device, the rest mapped) or full */
    kind: TableKind;
    /** transferred and adapted tables: what was measured per class, how the rest was mapped, the accuracy to expect */
    provenance: LatencyTable['provenance'] | null;
    /** the machine it was measured on */
    machine: LatencyTable['machine'];
  };
  /**
   * Measured accuracy of the predictor on this host when known: a local-runtime
   * device's host calibration (predicted vs wall-clock measured networks).
   */
  predictorAccuracy: null | { source: 'host-calibration'; state: CalibrationStatus['state']; createdAt: string; networks: number; within10: number; maxAbsRelErr: number; fits: boolean };
}

export function describeDevice(store: DeviceStore, id: string): DeviceDetail {
  requireDevice(store.db, id);
  importLocalTable(store, id);
  const d = requireDevice(store.db, id);
  const cur = getTableVersion(store.db, id, store.shippedTablesDir);
  return {
    ...deviceView(d),
    versions: listVersions(store.db, id),
    table: cur && {
      version: cur.info.version, entries: cur.info.entries,
      coverage: cur.table.inputs.map((i) => ({ input: i.input, skeleton: i.skeleton, numClasses: i.numClasses, kernels: i.kernels })),
      measure: cur.table.measure, overhead: cur.table.overhead, calibration: cur.table.calibration ?? null,
      kind: tableKind(cur.table, cur.info.source === 'shipped'), provenance: cur.table.provenance ?? null, machine: cur.table.machine,
    },
    predictorAccuracy: cur ? accuracyOf(store, d.profile, cur.table) : null,
  };
}

function accuracyOf(store: DeviceStore, profile: DeviceProfile, table: LatencyTable): DeviceDetail['predictorAccuracy'] {
  if (!isLocalRuntime(profile.runtime)) return null;
  const st = calibrationStatus(hostFingerprint(profile, table), dataPaths(store.dataDir).calibrations);
  const c = st.calibration;
  if (!c) return null;
  return { source: 'host-calibration', state: st.state, createdAt: c.createdAt, networks: c.points.length, within10: c.fit.within10, maxAbsRelErr: c.fit.maxAbsRelErr, fits: c.fits };
}

export function getLatencyTable(store: DeviceStore, id: string, version?: number): { deviceId: string; version: number; source: string; current: boolean; table: LatencyTable } {
  requireDevice(store.db, id);
  const v = getTableVersion(store.db, id, store.shippedTablesDir, version);
  if (!v) throw new DeviceUseCaseError(version === undefined ? `device "${id}" has no latency table yet` : `device "${id}" has no table version ${version}`, 404);
  return { deviceId: id, version: v.info.version, source: v.info.source, current: v.info.current, table: v.table };
}

export function restoreLatencyTable(store: DeviceStore, id: string, version: number): TableVersionInfo {
  requireDevice(store.db, id);
  importLocalTable(store, id);
  if (!restoreVersion(store.db, id, version)) throw new DeviceUseCaseError(`device "${id}" has no table version ${version}`, 404);
  materializeDevice(store, id);
  return listVersions(store.db, id).find((v) => v.version === version)!;
}

/** May this bearer token upload for (or download the suite of) this device? */
export function isDeviceToken(store: DeviceStore, id: string, token: string): boolean {
  return checkUploadToken(store.db, id, token);
}

/**
 * The default suite: every kernel of the small-input space for 28x28x1 and 32x32x3, 10 classes,
 * 40 calibration networks; its quick mode: the stratified subset of those kernels, 20 random
 * networks and MobileNetV2 at widths 0.5 and 1.0 per input.
 */
export const DEFAULT_BUNDLE_OPTIONS: BundleOptions = {
  targets: [parseInputShape('28x28x1'), parseInputShape('32x32x3')].map((input) => ({ skeleton: SKELETON_SMALL, input })),
  numClasses: 10, calibrationNetworks: 40, seed: 1, quickSuite: { calibrationNetworks: 20 },
};

/** The shipped table a quick suite's upload is transferred from: the same TFLite + XNNPACK WASM runtime, measured in full. */
export const QUICK_TRANSFER_DEVICE = 'node-tflite-wasm';

/** Where the quick suite beside a full suite's folder lives. */
export const quickBundleDir = (bundleDir: string): string => `${bundleDir}-quick`;

export interface SuiteOptions {
  bundleDir: string;
  options?: BundleOptions;
  /** the quick suite's transfer table (default: the shipped QUICK_TRANSFER_DEVICE table) */
  transferFrom: () => LatencyTable;
}

/** The suite's manifest, writing the bundle on first use (the quick one again when its transfer table changed). */
export function benchmarkSuite(s: SuiteOptions, mode: BundleMode = 'full'): BundleManifest {
  const options = s.options ?? DEFAULT_BUNDLE_OPTIONS;
  if (mode === 'full') {
    if (!existsSync(join(s.bundleDir, 'manifest.json'))) writeBundle(s.bundleDir, options);
    return readBundleManifest(s.bundleDir);
  }
  const dir = quickBundleDir(s.bundleDir);
  const transferFrom = s.transferFrom();
  if (existsSync(join(dir, 'manifest.json'))) {
    const m = readBundleManifest(dir);
    if (m.transfer?.tableHash === tableHash(transferFrom) && m.transfer.deviceId === transferFrom.device.id) return m;
  }
  const { quickSuite, ...rest } = options;
  return writeBundle(dir, { ...rest, calibrationNetworks: quickSuite?.calibrationNetworks ?? rest.calibrationNetworks, quick: { ...quickSuite, transferFrom } });
}

/** The full and quick suites' manifest an upload's bundleId names, or a 422 naming both. */
export function suiteOfUpload(s: SuiteOptions, upload: unknown): BundleManifest {
  const id = (upload as { bundleId?: unknown } | null)?.bundleId;
  const full = benchmarkSuite(s, 'full');
  if (id === full.bundleId) return full;
  const quick = benchmarkSuite(s, 'quick');
  if (id === quick.bundleId) return quick;
  throw new UploadError(`results are for bundle ${String(id)}, not the full suite ${full.bundleId} nor the quick suite ${quick.bundleId}; reload the profiling page`);
}

export interface StoredMeasurements {
  ok: true;
  device: string;
  version: number;
  entries: number;
  overhead: LatencyTable['overhead'];
  /** full: every kernel measured; transferred: a quick suite's subset, the rest mapped */
  kind: 'full' | 'transferred';
  /** transferred tables: what was measured per class, the transfer method, the accuracy to expect */
  provenance: LatencyTable['provenance'] | null;
}

/**
 * Validate an upload against the suite and store it as the device's next
 * table version. The upload must name this device; the stored table carries
 * the device's registered profile. Nothing is stored when anything is wrong.
 */
export function storeMeasurements(store: DeviceStore, id: string, suite: SuiteOptions, upload: unknown): StoredMeasurements {
  const d = requireDevice(store.db, id);
  const uploadedId = (upload as { device?: { id?: unknown } } | null)?.device?.id;
  if (uploadedId !== id) throw new UploadError(`results are for device "${String(uploadedId)}", uploaded to device "${id}"`);
  const manifest = suiteOfUpload(suite, upload);
  const table = resultsToTable(manifest, upload, manifest.mode === 'quick' ? { transferFrom: suite.transferFrom() } : {});
  const stored: LatencyTable = { ...table, device: d.profile };
  importLocalTable(store, id);
  const version = addVersion(store.db, id, stored);
  materializeDevice(store, id);
  return {
    ok: true, device: id, version, entries: Object.keys(stored.entries).length, overhead: stored.overhead,
    kind: stored.provenance?.kind === 'transferred' ? 'transferred' : 'full', provenance: stored.provenance ?? null,
  };
}

/** The suite options of a device store: the shipped quick-transfer table. */
export function suiteOf(store: DeviceStore, bundleDir: string, options?: BundleOptions): SuiteOptions {
  return { bundleDir, options, transferFrom: () => loadTable(QUICK_TRANSFER_DEVICE, store.shippedTablesDir) };
}

// ---- prediction ----

const predictors = new WeakMap<Db, Map<string, { predictor: LatencyPredictor; table: LatencyTable; shipped: boolean }>>();

/**
 * The latency predictor of a device's current (or given) table version, as
 * stored in the service (uploaded versions included), with this host's
 * calibration applied to a local-runtime device the way searches apply it
 * (src/latency/index.ts). Base predictors are cached per version: versions
 * never change once written.
 */
export function loadDevicePredictor(store: DeviceStore, id: string, version?: number): { predictor: CalibratedPredictor; version: number } {
  requireDevice(store.db, id);
  importLocalTable(store, id);
  const d = requireDevice(store.db, id);
  const want = version ?? d.currentVersion;
  let m = predictors.get(store.db);
  if (!m) predictors.set(store.db, (m = new Map()));
  let hit = want === null ? undefined : m.get(`${id}@${want}`);
  let v = want;
  if (!hit) {
    const t = getLatencyTable(store, id, version);
    hit = { predictor: createPredictor(t.table), table: t.table, shipped: t.source === 'shipped' };
    if (m.size >= 16) m.delete(m.keys().next().value!);
    m.set(`${id}@${t.version}`, hit);
    v = t.version;
  }
  const status: CalibrationStatus = isLocalRuntime(d.profile.runtime)
    ? calibrationStatus(hostFingerprint(d.profile, hit.table), dataPaths(store.dataDir).calibrations)
    : { state: 'remote', reasons: [] };
  return { predictor: calibratePredictor(hit.predictor, d.profile, status, { tableReferenceMs: hit.table.measure.referenceMs, table: tableInForce(hit.table, hit.shipped) }), version: v! };
}

export interface PredictInput {
  deviceId: string;
  /** preset name, block strings (string or array) or a canonical ArchSpec object */
  arch: string | string[] | Record<string, unknown>;
  input: string;
  classes: number;
  widthMultiplier?: number;
  version?: number;
}

export interface PredictResult {
  deviceId: string;
  tableVersion: number;
  archId: string;
  latencyMs: number;
  coverage: number;
  kernelSumMs: number;
  kernels: number;
  macs: number;
  params: number;
  /** host calibration in force (local-runtime devices): latencyMs is in this host's ms, tableLatencyMs in the table's unit */
  calibration: CalibrationStatus['state'];
  tableLatencyMs?: number;
}

export function resolveArchInput(arch: PredictInput['arch'], input: ReturnType<typeof parseInputShape>, widthMultiplier?: number): ArchSpec {
  // Never read files named by a caller (resolveArch reads "*.json" paths for the CLI).
  const text = Array.isArray(arch) ? arch.join(' ') : arch;
  if (typeof text === 'string' && /\.json\s*$/i.test(text)) throw new SpaceError('arch: give a preset, block strings or an ArchSpec object, not a file name');
  if (Array.isArray(arch)) return resolveArch(arch.join(' '), { input });
  if (typeof arch === 'string') return resolveArch(arch, { input, widthMultiplier });
  if (widthMultiplier !== undefined) throw new SpaceError('a width multiplier applies to presets only');
  return fromWire(arch);
}

export function predictLatency(store: DeviceStore, req: PredictInput): PredictResult {
  const input = parseInputShape(req.input);
  const spec = resolveArchInput(req.arch, input, req.widthMultiplier);
  const cost = archCost(spec, input, req.classes);
  const { predictor, version } = loadDevicePredictor(store, req.deviceId, req.version);
  const p = predictor.predict(spec, input, req.classes);
  return {
    deviceId: req.deviceId, tableVersion: version, archId: archId(spec), latencyMs: p.latencyMs, coverage: p.coverage,
    kernelSumMs: p.kernelSumMs, kernels: p.kernels.length, macs: cost.macs, params: cost.params,
    calibration: predictor.calibration.state, ...(p.tableLatencyMs !== undefined ? { tableLatencyMs: p.tableLatencyMs } : {}),
  };
}

/**
 * Get a device ready for the browser page: registered (as a `tflite-browser`
 * device when it is new) with a fresh upload token. Returns the page's path.
 */
export function prepareBrowserProfiling(store: DeviceStore, id: string): { deviceId: string; created: boolean; uploadToken: string; profileUrl: string } {
  let created = false;
  if (!getDevice(store.db, id)) {
    const profile = validateDeviceProfile({ id, name: id, runtime: 'tflite-browser', runtimeVersion: '@tensorflow/tfjs-tflite (browser WASM)', threads: 1, cpu: 'unknown (browser)' }, 'device');
    created = insertDevice(store.db, profile, {});
    materializeDevice(store, id);
  }
  return { ...rotateUploadToken(store, id), created };
}
