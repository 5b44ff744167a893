// The latency check a user sees when the service starts: a local device is
// calibrated to this host (bounded, cached; see calibration-run.ts), then one
// check network (the main job's proxy-small preset on 28x28x1 inputs) is
// predicted and measured, with both truths side by side:
//   - reference-interleaved: the network's cost in reference units on this
//     host (rounds interleaved with the reference network, as calibrations
//     and tables are measured) x the reference's wall time measured now;
//   - plain wall clock: the median of single Invoke() calls (calibration-wall.ts).
// The prediction is converted to ms with the same reference timing, so the
// first ratio does not move with the host's speed of the moment; the second
// does, and says so.

import { measureWallClock } from './calibration-wall.ts';
import { describeCalibration, isLocalRuntime } from './calibration.ts';
import { loadCalibratedPredictor, type TableInForce } from './index.ts';
import { measureReference } from './reference.ts';
import { createMeasurer, MeasurementError } from './runtime.ts';
import { createRuntime } from './runtimes/index.ts';
import { expandNetwork } from '../space/network.ts';
import { resolveArch } from '../space/resolve.ts';
import { archId } from '../space/archspec.ts';

export interface HostLatencyCheck {
  deviceId: string;
  archId: string;
  input: string;
  table: TableInForce;
  /** the reference network's wall time, measured for this check */
  referenceMs: number;
  /** in this host's ms (calibrated), else in table units */
  predictedMs: number;
  /** reference-interleaved truth: measured ratio to the reference x referenceMs */
  measuredMs: number;
  measuredRatio: number;
  /** measuredMs / predictedMs */
  ratio: number;
  /** plain wall-clock median of single calls (null: refused on a busy machine, see wallRefused) */
  wallMs: number | null;
  wallRatio: number | null;
  wallRefused?: string;
  calibration: string;
  calibrated: boolean;
}

/** Calibrate (if needed) and check one network; throws a 4xx error for a device whose runtime is not local. */
export async function checkHostLatency(deviceId: string, o: { onProgress?: (m: string) => void } = {}): Promise<HostLatencyCheck> {
  const predictor = await loadCalibratedPredictor(deviceId, { onProgress: o.onProgress, measureReference: false });
  if (!isLocalRuntime(predictor.device.runtime)) {
    throw Object.assign(new Error(`device ${deviceId} runs ${predictor.device.runtime}, which cannot run on this host`), { status: 400 });
  }
  const input = { height: 28, width: 28, channels: 1 };
  const spec = resolveArch('proxy-small', { input });
  const plan = expandNetwork(spec, input, 10);
  const runtime = await createRuntime(predictor.device.runtime);
  try {
    const reference = await measureReference(runtime);
    const p = predictor.predict(spec, input, 10);
    const calibrated = p.referenceRatio !== undefined;
    const predictedMs = calibrated ? p.referenceRatio! * reference.ms : p.latencyMs;
    const measurer = await createMeasurer(runtime, { referenceMs: 1 });
    let measuredRatio: number;
    try {
      measuredRatio = (await measurer.measure(plan, measurer.options.networkRepeats)).medianMs;
    } finally {
      measurer.close();
    }
    const model = await runtime.prepare(plan);
    let wallMs: number | null = null, wallRefused: string | undefined;
    try {
      wallMs = (await measureWallClock(model, {}, `proxy-small ${archId(spec)}`)).medianMs;
    } catch (e) {
      if (!(e instanceof MeasurementError)) throw e;
      wallRefused = e.message;
    } finally {
      model.dispose();
    }
    const measuredMs = measuredRatio * reference.ms;
    return {
      deviceId, archId: archId(spec), input: '28x28x1', table: predictor.table, referenceMs: reference.ms, predictedMs, measuredMs, measuredRatio,
      ratio: measuredMs / predictedMs, wallMs, wallRatio: wallMs === null ? null : wallMs / predictedMs, ...(wallRefused ? { wallRefused } : {}),
      calibration: describeCalibration({ ...predictor.calibration, ...(predictor.calibration.calibration ? { reference } : {}) }), calibrated,
    };
  } finally {
    await runtime.close();
  }
}

const within10 = (r: number) => (Math.abs(r - 1) <= 0.1 ? 'within 10%' : 'NOT within 10%');

export function formatHostLatencyCheck(c: HostLatencyCheck): string {
  const wall = c.wallMs === null ? `plain wall clock refused (${c.wallRefused})` : `plain wall clock ${c.wallMs.toFixed(3)} ms (ratio ${c.wallRatio!.toFixed(3)}, ${within10(c.wallRatio!)})`;
  return `latency check on ${c.deviceId} (proxy-small ${c.input}; table: ${c.table.summary}): predicted ${c.predictedMs.toFixed(3)} ms, measured ${c.measuredMs.toFixed(3)} ms ` +
    `(${c.measuredRatio.toFixed(3)} x the reference network, interleaved; reference ${c.referenceMs.toFixed(4)} ms now), ratio ${c.ratio.toFixed(3)} (${within10(c.ratio)}); ` +
    `${wall}; calibration: ${c.calibration}`;
}
