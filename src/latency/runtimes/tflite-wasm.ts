// tflite-wasm runtime: the plan is exported by the project's TFLite writer
// (random weights, BN folded, activations fused as the exporter does) and run
// by the TFLite interpreter from @tensorflow/tfjs-tflite (WASM SIMD,
// single-threaded, XNNPACK delegate). One timed run = one Invoke(); inputs
// are written once, outputs not copied.

import { createRequire } from 'node:module';
import { exportTfliteFloat } from '../../export/tflite-writer.ts';
import type { NetworkPlan } from '../../space/network.ts';
import { createRng } from '../../space/rng.ts';
import { loadTfliteModel } from '../../tflite/interpreter.ts';
import { timeSync, type Clock, type LatencyRuntime, type PreparedModel } from '../runtime.ts';
import { syntheticWeightSource } from './synthetic-weights.ts';

export function tfliteWasmVersion(): string {
  const require = createRequire(import.meta.url);
  const v = (require('@tensorflow/tfjs-tflite/package.json') as { version: string }).version;
  return `@tensorflow/tfjs-tflite ${v} (TFLite + XNNPACK, WASM SIMD, single-threaded)`;
}

/** The .tflite bytes a plan is measured as (also used for the profiling bundle). */
export function planToTflite(plan: NetworkPlan, seed = 1): Uint8Array {
  return exportTfliteFloat(plan, syntheticWeightSource(plan, seed), { description: 'mobile-nas latency probe' });
}

export function randomInput(plan: NetworkPlan, seed = 7): Float32Array {
  const rng = createRng(seed);
  const n = plan.input.height * plan.input.width * plan.input.channels;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.next() * 2 - 1;
  return x;
}

export async function createTfliteWasmRuntime(): Promise<LatencyRuntime> {
  return {
    id: 'tflite-wasm',
    version: tfliteWasmVersion(),
    threads: 1,
    async prepare(plan: NetworkPlan): Promise<PreparedModel> {
      const model = await loadTfliteModel(planToTflite(plan), { numThreads: 1 });
      model.setInputs([randomInput(plan)]);
      return {
        timeBatch: (count: number, clock: Clock) => timeSync(() => model.invoke(), count, clock),
        dispose: () => model.dispose(),
      };
    },
    async close() {},
  };
}
