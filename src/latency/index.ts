// The latency module's narrow entry point for search code:
//   const lat = loadPredictor('node-tflite-wasm');
//   lat.predict(spec, input, numClasses) -> { latencyMs, coverage, kernels }

import { loadDevice } from './device.ts';
import { createPredictor, type LatencyPredictor } from './predictor.ts';
import { loadTable } from './table.ts';

export interface LoadPredictorOptions {
  tablesDir?: string;
  devicesDir?: string;
}

/** Predictor of a known device from its committed table; clear errors for unknown devices or stale tables. */
export function loadPredictor(deviceId: string, opts: LoadPredictorOptions = {}): LatencyPredictor {
  loadDevice(deviceId, opts.devicesDir);
  return createPredictor(loadTable(deviceId, opts.tablesDir));
}

export type { LatencyPrediction, LatencyPredictor, PredictedKernel } from './predictor.ts';
export { decompose, kernelKey, type Kernel } from './kernels.ts';
