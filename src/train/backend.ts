// Picks the training backend for this process: the engine's initBackend()
// (src/engine/backend.ts: tfjs-node(-gpu), the fast CPU path, plain CPU) when
// that module is present, else tfjs' plain 'cpu' backend.

import * as tf from '@tensorflow/tfjs';

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

type InitBackend = (o?: { threads?: number }) => Promise<unknown>;

let chosen: BackendChoice | undefined;

export async function useTrainingBackend(opts: UseBackendOptions = {}): Promise<BackendChoice> {
  if (chosen) return chosen;
  if (!opts.plainCpu && process.env.NAS_BACKEND !== 'cpu') {
    let init: InitBackend | undefined;
    try {
      const specifier = '../engine/backend.ts';
      init = ((await import(specifier)) as { initBackend?: InitBackend }).initBackend;
    } catch {
      init = undefined; // engine not available: plain CPU below
    }
    if (init) {
      const detail = await init({ threads: opts.threads });
      const name = (detail as { name?: unknown } | null)?.name;
      chosen = { name: typeof name === 'string' ? name : tf.getBackend(), detail };
      return chosen;
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  chosen = { name: 'cpu' };
  return chosen;
}
