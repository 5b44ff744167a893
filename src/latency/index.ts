// The latency module's narrow entry point for search code:
//   const lat = await loadCalibratedPredictor('node-tflite-wasm');   // calibrates to this host first when needed (<= 60 s)
//   const lat = loadPredictor('node-tflite-wasm');                    // sync: the calibration cached for this host, if any
//   lat.predict(spec, input, numClasses) -> { latencyMs, coverage, kernels }
//   lat.calibration -> { state: fresh | stale | none | off | injected | remote, calibration?, reasons, refused? }
//
// A device whose runtime runs in this process (tflite-wasm, tfjs-wasm) has
// its table's unit mapped to this host's wall-clock ms by a host calibration
// (src/latency/calibration.ts); a remote device (profiled elsewhere and
// uploaded) keeps the unit of its own upload.

import { applyMapping, calibrationsDir, kernelScale, netKernelMs, tableNetworkMs, calibrationStatus, hostFingerprint, isLocalRuntime, type CalibrationStatus, type HostCalibration } from './calibration.ts';
import { ensureHostCalibration, type CalibrateOptions } from './calibration-run.ts';
import { loadDevice, type DeviceProfile } from './device.ts';
import { createPredictor, type LatencyPrediction, type LatencyPredictor } from './predictor.ts';
import { loadTable, type LatencyTable } from './table.ts';

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

export interface CalibratedPredictor extends LatencyPredictor {
  readonly device: DeviceProfile;
  /** which calibration the predictions use */
  readonly calibration: CalibrationStatus;
}

/** Wrap a table-unit predictor with a calibration status: latencies in host ms when a calibration is in force. */
export function calibratePredictor(base: LatencyPredictor, device: DeviceProfile, status: CalibrationStatus): CalibratedPredictor {
  const c = status.calibration;
  const map = (p: LatencyPrediction): LatencyPrediction => {
    if (!c) return p;
    // each kernel at its class's host scale, less the empty-model baseline its entry carries; the network keeps one baseline
    const kernels = p.kernels.map((k) => ({ ...k, latencyMs: netKernelMs(k.latencyMs, p.baselineMs) * kernelScale(c.mapping, k.key) }));
    const t = tableNetworkMs(p);
    return {
      ...p,
      // the host calibration maps the kernel sum and brings its own per-network overhead
      latencyMs: applyMapping(c.mapping, t.tableMs, t.conv1x1TableMs),
      tableLatencyMs: p.latencyMs,
      kernelSumMs: kernels.reduce((s, k) => s + k.latencyMs, c.mapping.scale * p.baselineMs),
      baselineMs: c.mapping.scale * p.baselineMs,
      kernels,
    };
  };
  return {
    deviceId: base.deviceId,
    device,
    calibration: status,
    predict: (spec, input, numClasses) => map(base.predict(spec, input, numClasses)),
    predictKernels: (ks) => map(base.predictKernels(ks)),
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
 * measure a missing or stale calibration; 'cached' only ever uses what is
 * cached (the test suite sets it, so searches in tests do not spend up to
 * 60 s calibrating; the calibration itself has its own tests).
 */
export function hostCalibrationPolicy(): 'measure' | 'cached' {
  const v = process.env.NAS_HOST_CALIBRATION;
  if (v === undefined || v === '' || v === 'measure') return 'measure';
  if (v === 'cached') return 'cached';
  throw Object.assign(new Error(`NAS_HOST_CALIBRATION must be "measure" or "cached", got "${v}"`), { status: 400 });
}

/** Predictor of a known device from its committed table, with this host's cached calibration (read only, nothing measured). */
export function loadPredictor(deviceId: string, opts: LoadPredictorOptions = {}): CalibratedPredictor {
  const device = loadDevice(deviceId, opts.devicesDir);
  const table = loadTable(deviceId, opts.tablesDir);
  return calibratePredictor(createPredictor(table), device, statusFor(device, table, opts));
}

export type LoadCalibratedOptions = LoadPredictorOptions & Pick<CalibrateOptions, 'budgetMs' | 'wall' | 'runtime' | 'onProgress'>;

/**
 * Like loadPredictor, but a local device without a fresh calibration for
 * this host is calibrated first (bounded, cached). A refused calibration
 * leaves the last good one in force, flagged stale, with the reason in
 * `calibration.refused`.
 */
export async function loadCalibratedPredictor(deviceId: string, opts: LoadCalibratedOptions = {}): Promise<CalibratedPredictor> {
  const device = loadDevice(deviceId, opts.devicesDir);
  const table = loadTable(deviceId, opts.tablesDir);
  const mode = opts.calibration ?? 'auto';
  const status = mode === 'auto' && isLocalRuntime(device.runtime) && hostCalibrationPolicy() === 'measure'
    ? await ensureHostCalibration({ device, table, dir: opts.calibrationsDir, budgetMs: opts.budgetMs, wall: opts.wall, runtime: opts.runtime, onProgress: opts.onProgress })
    : statusFor(device, table, opts);
  return calibratePredictor(createPredictor(table), device, status);
}

export type { LatencyPrediction, LatencyPredictor, PredictedKernel } from './predictor.ts';
export type { CalibrationStatus, HostCalibration } from './calibration.ts';
export { describeCalibration } from './calibration.ts';
export { decompose, kernelKey, type Kernel } from './kernels.ts';
