// Picks the training backend for this process: the engine's initBackend()
// (src/engine/backend.ts: tfjs-node(-gpu), the fast CPU path, plain CPU;
// NAS_BACKEND / NAS_THREADS override), or tfjs' plain 'cpu' backend on request.

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../engine/backend.ts';

export interface BackendChoice {
  name: string;
  /** what the engine reported (threads, reasons), when it chose */
  detail?: unknown;
}

export interface UseBackendOptions {
  /** threads for native kernels (pool workers pass cores / pool size) */
  threads?: number;
  /** force tfjs' plain CPU backend (tests) */
  plainCpu?: boolean;
}

let chosen: BackendChoice | undefined;

export async function useTrainingBackend(opts: UseBackendOptions = {}): Promise<BackendChoice> {
  if (chosen) return chosen;
  if (!opts.plainCpu) {
    const detail = await initBackend({ threads: opts.threads });
    chosen = { name: detail.name, detail };
    return chosen;
  }
  await tf.setBackend('cpu');
  await tf.ready();
  chosen = { name: 'cpu' };
  return chosen;
}
