// Runtime factory by id.

import type { LatencyRuntime, RuntimeId } from '../runtime.ts';
import { createFakeRuntime } from './fake.ts';

export class UnknownRuntimeError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'UnknownRuntimeError';
  }
}

export async function createRuntime(id: RuntimeId): Promise<LatencyRuntime> {
  switch (id) {
    case 'fake':
      return createFakeRuntime();
    case 'tfjs-wasm':
      return (await import('./tfjs-wasm.ts')).createTfjsWasmRuntime();
    case 'tflite-wasm':
      return (await import('./tflite-wasm.ts')).createTfliteWasmRuntime();
    default:
      throw new UnknownRuntimeError(`runtime "${id}" cannot run in this process; measure it on the device and upload the results`);
  }
}
