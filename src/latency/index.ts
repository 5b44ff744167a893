// The latency module's narrow entry point for search code:
//   const lat = await loadCalibratedPredictor('node-tflite-wasm');   // calibrates to this host first when needed (<= 60 s), re-measures the reference
//   const lat = loadPredictor('node-tflite-wasm');                    // sync: the calibration cached for this host, if any
//   lat.predict(spec, input, numClasses) -> { latencyMs, coverage, kernels }
//   lat.calibration -> { state: fresh | stale | none | off | injected | remote, calibration?, reasons, refused? }
//   lat.table -> { kind: shipped | transferred | full, summary }: the best table available, and which
//
// A device whose runtime runs in this process (tflite-wasm, tfjs-wasm) has
// its table's relative costs mapped to this host's relative costs by a host
// calibration (src/latency/calibration.ts), then to milliseconds by the
// reference network's wall time on this host (the latest measurement); a
// remote device (profiled elsewhere and uploaded) keeps the unit of its own
// upload. The table is the data directory's (a transferred or fully
// measured table of this host, adapt.ts) before the shipped one.

import { applyMapping, calibrationsDir, calibrationStatus, fingerprintId, hostFingerprint, isLocalRuntime, kernelScale, netKernelMs, saveReferenceTiming, tableNetworkMs, type CalibrationStatus, type HostCalibration, type ReferenceTiming } from './calibration.ts';
import { ensureHostCalibration, type CalibrateOptions } from './calibration-run.ts';
import { loadDevice, type DeviceProfile } from './device.ts';
import { createPredictor, type LatencyPrediction, type LatencyPredictor } from './predictor.ts';
import { measureReference } from './reference.ts';
import { createRuntime } from './runtimes/index.ts';
import { describeTable, loadTableFile, tableKind, type LatencyTable, type TableKind } from './table.ts';

export interface LoadPredictorOptions {
  tablesDir?: string;
  devicesDir?: string;
  /**
   * Host calibration of a local device: 'auto' (default) applies the one
   * cached for this host (fresh, or the last good one flagged stale); 'off'
   * predicts in table units; an object is applied as given (tests).
   */
  calibration?: 'auto' | 'off' | HostCalibration;
  /** calibration folder (default dataPaths().calibrations) */
  calibrationsDir?: string;
}

/** The table a predictor uses: its kind, one line for humans, when it was made. */
export interface TableInForce {
  kind: TableKind;
  summary: string;
  createdAt: string;
}

export const tableInForce = (t: LatencyTable, shipped: boolean): TableInForce => ({ kind: tableKind(t, shipped), summary: describeTable(t, shipped), createdAt: t.createdAt });

export interface CalibratedPredictor extends LatencyPredictor {
  readonly device: DeviceProfile;
  /** which calibration the predictions use */
  readonly calibration: CalibrationStatus;
  /** the table in force */
  readonly table: TableInForce;
  /** the reference network's wall time that converts reference units to ms (when a calibration is in force) */
  readonly reference?: ReferenceTiming;
}

export interface CalibratePredictorOptions {
  /** the table's reference latency (its unit) */
  tableReferenceMs: number;
  table: TableInForce;
  /** default: the status's latest reference timing, else the calibration's own */
  reference?: ReferenceTiming;
}

/** Wrap a table-unit predictor with a calibration status: latencies in host ms when a calibration is in force. */
export function calibratePredictor(base: LatencyPredictor, device: DeviceProfile, status: CalibrationStatus, o: CalibratePredictorOptions): CalibratedPredictor {
  const c = status.calibration;
  const reference = c ? (o.reference ?? status.reference ?? c.reference) : undefined;
  const map = (p: LatencyPrediction): LatencyPrediction => {
    if (!c || !reference) return p;
    // table ms -> table ratio -> host ratio (the mapping) -> host ms (the reference's wall time now)
    const perTableMs = reference.ms / o.tableReferenceMs;
    const kernels = p.kernels.map((k) => ({ ...k, latencyMs: netKernelMs(k.latencyMs, p.baselineMs) * kernelScale(c.mapping, k.key) * perTableMs }));
    const t = tableNetworkMs(p);
    const ratio = applyMapping(c.mapping, t.tableMs / o.tableReferenceMs, t.conv1x1TableMs / o.tableReferenceMs);
    const baselineMs = c.mapping.scale * p.baselineMs * perTableMs;
    return {
      ...p,
      // the host calibration maps the kernel sum and brings its own per-network overhead
      latencyMs: ratio * reference.ms,
      referenceRatio: ratio,
      referenceMs: reference.ms,
      tableLatencyMs: p.latencyMs,
      kernelSumMs: kernels.reduce((s, k) => s + k.latencyMs, baselineMs),
      baselineMs,
      kernels,
    };
  };
  return {
    deviceId: base.deviceId,
    device,
    // the status as these predictions use it: its reference is the timing that converts them to ms
    // (a newer timing another process cached since does not change them, so it is not shown either)
    calibration: c && reference ? { ...status, reference } : status,
    table: o.table,
    ...(reference ? { reference } : {}),
    predict: (spec, input, numClasses) => map(base.predict(spec, input, numClasses)),
    predictKernels: (ks, input) => map(base.predictKernels(ks, input)),
  };
}

function statusFor(device: DeviceProfile, table: LatencyTable, opts: LoadPredictorOptions): CalibrationStatus {
  if (!isLocalRuntime(device.runtime)) return { state: 'remote', reasons: [] };
  const c = opts.calibration ?? 'auto';
  if (c === 'off') return { state: 'off', reasons: [] };
  if (c !== 'auto') return { state: 'injected', calibration: c, reasons: [] };
  return calibrationStatus(hostFingerprint(device, table), opts.calibrationsDir ?? calibrationsDir());
}

/**
 * $NAS_HOST_CALIBRATION: 'measure' (default) lets loadCalibratedPredictor
 * measure a missing or stale calibration and the reference's wall time;
 * 'cached' only ever uses what is cached (the test suite sets it, so searches
 * in tests do not spend up to 60 s calibrating; the calibration itself has
 * its own tests).
 */
export function hostCalibrationPolicy(): 'measure' | 'cached' {
  const v = process.env.NAS_HOST_CALIBRATION;
  if (v === undefined || v === '' || v === 'measure') return 'measure';
  if (v === 'cached') return 'cached';
  throw Object.assign(new Error(`NAS_HOST_CALIBRATION must be "measure" or "cached", got "${v}"`), { status: 400 });
}

/** Predictor of a known device from its best table, with this host's cached calibration and latest reference timing (read only, nothing measured). */
export function loadPredictor(deviceId: string, opts: LoadPredictorOptions = {}): CalibratedPredictor {
  const device = loadDevice(deviceId, opts.devicesDir);
  const { table, shipped } = loadTableFile(deviceId, opts.tablesDir);
  return calibratePredictor(createPredictor(table), device, statusFor(device, table, opts), { tableReferenceMs: table.measure.referenceMs, table: tableInForce(table, shipped) });
}

export type LoadCalibratedOptions = LoadPredictorOptions & Pick<CalibrateOptions, 'budgetMs' | 'runtime' | 'onProgress'> & {
  /** measure the reference network's wall time now (default: yes under the 'measure' policy) */
  measureReference?: boolean;
};

/**
 * Like loadPredictor, but a local device without a fresh calibration for
 * this host is calibrated first (bounded, cached), and the reference
 * network's wall time is measured now (well under a second) and recorded. A
 * refused calibration leaves the last good one in force, flagged stale, with
 * the reason in `calibration.refused`.
 */
export async function loadCalibratedPredictor(deviceId: string, opts: LoadCalibratedOptions = {}): Promise<CalibratedPredictor> {
  const device = loadDevice(deviceId, opts.devicesDir);
  const { table, shipped } = loadTableFile(deviceId, opts.tablesDir);
  const mode = opts.calibration ?? 'auto';
  const measure = mode === 'auto' && isLocalRuntime(device.runtime) && hostCalibrationPolicy() === 'measure';
  const dir = opts.calibrationsDir ?? calibrationsDir();
  const status = measure
    ? await ensureHostCalibration({ device, table, dir, budgetMs: opts.budgetMs, runtime: opts.runtime, onProgress: opts.onProgress })
    : statusFor(device, table, opts);
  let reference: ReferenceTiming | undefined;
  if (status.calibration && (opts.measureReference ?? measure)) {
    const runtime = opts.runtime ?? (await createRuntime(device.runtime));
    try {
      reference = await measureReference(runtime);
    } finally {
      if (!opts.runtime) await runtime.close();
    }
    if (status.state === 'fresh') saveReferenceTiming(device.id, fingerprintId(status.calibration.fingerprint), reference, dir);
  }
  return calibratePredictor(createPredictor(table), device, status, { tableReferenceMs: table.measure.referenceMs, table: tableInForce(table, shipped), reference });
}

export type { LatencyPrediction, LatencyPredictor, PredictedKernel } from './predictor.ts';
export type { CalibrationStatus, HostCalibration, ReferenceTiming } from './calibration.ts';
export { describeCalibration } from './calibration.ts';
export { decompose, kernelKey, type Kernel } from './kernels.ts';
