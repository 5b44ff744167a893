// The latency check a user sees when the service starts: a local device is
// calibrated to this host (bounded, cached; see calibration-run.ts), then one
// check network (the main job's proxy-small preset on 28x28x1 inputs) is
// predicted and measured by wall clock with the calibration's own method, so
// the two figures and their ratio are printed side by side.

import { measureWallClock } from './calibration-wall.ts';
import { describeCalibration } from './calibration.ts';
import { isLocalRuntime } from './calibration.ts';
import { loadCalibratedPredictor } from './index.ts';
import { createRuntime } from './runtimes/index.ts';
import { expandNetwork } from '../space/network.ts';
import { resolveArch } from '../space/resolve.ts';
import { archId } from '../space/archspec.ts';

export interface HostLatencyCheck {
  deviceId: string;
  archId: string;
  input: string;
  predictedMs: number;
  measuredMs: number;
  /** measured / predicted */
  ratio: number;
  calibration: string;
}

/** Calibrate (if needed) and check one network; throws a 4xx error for a device whose runtime is not local. */
export async function checkHostLatency(deviceId: string, o: { onProgress?: (m: string) => void } = {}): Promise<HostLatencyCheck> {
  const predictor = await loadCalibratedPredictor(deviceId, { onProgress: o.onProgress });
  if (!isLocalRuntime(predictor.device.runtime)) {
    throw Object.assign(new Error(`device ${deviceId} runs ${predictor.device.runtime}, which cannot run on this host`), { status: 400 });
  }
  const input = { height: 28, width: 28, channels: 1 };
  const spec = resolveArch('proxy-small', { input });
  const predictedMs = predictor.predict(spec, input, 10).latencyMs;
  const runtime = await createRuntime(predictor.device.runtime);
  try {
    const model = await runtime.prepare(expandNetwork(spec, input, 10));
    try {
      const m = await measureWallClock(model, {}, `proxy-small ${archId(spec)}`);
      return {
        deviceId, archId: archId(spec), input: '28x28x1', predictedMs, measuredMs: m.medianMs, ratio: m.medianMs / predictedMs,
        calibration: describeCalibration(predictor.calibration),
      };
    } finally {
      model.dispose();
    }
  } finally {
    await runtime.close();
  }
}

export function formatHostLatencyCheck(c: HostLatencyCheck): string {
  return `latency check on ${c.deviceId} (proxy-small ${c.input}): predicted ${c.predictedMs.toFixed(3)} ms, measured ${c.measuredMs.toFixed(3)} ms, ratio ${c.ratio.toFixed(3)}` +
    `${Math.abs(c.ratio - 1) <= 0.1 ? ' (within 10%)' : ' (NOT within 10%)'}; calibration: ${c.calibration}`;
}
