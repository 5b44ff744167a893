// tfjs-wasm runtime: the plan is built as a tfjs LayersModel (the project's
// builder) and run on @tensorflow/tfjs-backend-wasm, single-threaded SIMD
// (WASM_HAS_MULTITHREAD_SUPPORT=false: the threaded build cannot start in
// Node). One inference = predict() + dataSync() of the output.

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { NetworkPlan } from '../../space/network.ts';
import { timeSync, type Clock, type LatencyRuntime, type PreparedModel } from '../runtime.ts';

let ready: Promise<typeof import('@tensorflow/tfjs')> | undefined;

async function loadTf(): Promise<typeof import('@tensorflow/tfjs')> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  // Absolute path: with the TFLite interpreter's browser shim loaded in the same
  // process, the backend would otherwise look for the .wasm files in the cwd.
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
  return tf;
}

function pkgVersion(name: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}

export async function createTfjsWasmRuntime(): Promise<LatencyRuntime> {
  ready ??= loadTf();
  const tf = await ready;
  const { buildFromPlan } = await import('../../space/builder.ts');
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return {
    id: 'tfjs-wasm',
    version: `@tensorflow/tfjs-backend-wasm ${pkgVersion('@tensorflow/tfjs-backend-wasm')} (${simd ? 'SIMD' : 'no SIMD'}, single-threaded)`,
    threads: 1,
    async prepare(plan: NetworkPlan): Promise<PreparedModel> {
      if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
      const model = buildFromPlan(plan, 1);
      const { height, width, channels } = plan.input;
      const x = tf.randomUniform([1, height, width, channels], -1, 1, 'float32', 7);
      return {
        timeBatch(count: number, clock: Clock): number {
          return timeSync(() => {
            const y = model.predict(x) as import('@tensorflow/tfjs').Tensor;
            y.dataSync();
            y.dispose();
          }, count, clock);
        },
        dispose() {
          x.dispose();
          model.dispose();
        },
      };
    },
    async close() {},
  };
}
