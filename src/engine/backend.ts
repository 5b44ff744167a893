// Backend selection for training and inference. Order of preference:
//   1. tensorflow   @tensorflow/tfjs-node-gpu (libtensorflow + CUDA)
//   2. tensorflow   @tensorflow/tfjs-node (libtensorflow CPU)
//   3. fast         tfjs WASM backend + project kernels (native addon or JS), see fast_backend.ts
//   4. cpu          tfjs pure-JS CPU backend (always available, ~1 image/s training)
// Both tfjs-node packages are optionalDependencies: where their install
// script cannot download libtensorflow they are simply absent, and the import
// failure is recorded as the reason they were skipped.
// Force a choice with the option `backend` or env NAS_BACKEND
// (auto | node-gpu | node | fast | fast-js | cpu); `fast-js` is the fast path
// without the native addon. Threads: option `threads` or env NAS_THREADS.

import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { setupFastBackend } from './fast_backend.ts';

export type BackendChoice = 'auto' | 'node-gpu' | 'node' | 'fast' | 'fast-js' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'node-gpu', 'node', 'fast', 'fast-js', 'cpu'];

export interface BackendOptions {
  /** default: env NAS_BACKEND or 'auto' */
  backend?: BackendChoice;
  /** threads for native kernels (default: env NAS_THREADS or all cores) */
  threads?: number;
}

export interface BackendResult {
  /** 'tensorflow-gpu' | 'tensorflow' | 'fast' | 'fast-js' | 'cpu' */
  name: string;
  /** tfjs backend name actually active (tf.getBackend()) */
  tfBackend: string;
  /** one line per candidate tried: why it was skipped, or why it was chosen */
  reason: string[];
  /** threads the heavy kernels run on */
  threads: number;
}

export class BackendError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

let current: BackendResult | undefined;

function parseChoice(v: string | undefined): BackendChoice {
  const c = (v ?? 'auto').trim() || 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(c)) {
    throw new BackendError(`unknown backend "${c}" (NAS_BACKEND / --backend): expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return c as BackendChoice;
}

function parseThreads(v: number | string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BackendError(`thread count must be a positive integer, got "${v}"`);
  return n;
}

async function tryNode(pkg: string): Promise<string | null> {
  try {
    await import(pkg);
    return null;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    return (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ? 'not installed (optional dependency)' : msg;
  }
}

/**
 * Selects and activates the best available backend (once per process; later
 * calls return the first result unless a different backend is forced).
 */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendResult> {
  const choice = opts.backend ?? parseChoice(process.env.NAS_BACKEND);
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) parseChoice(choice);
  const threads = parseThreads(opts.threads ?? process.env.NAS_THREADS);
  // Re-selecting the same backend is cheap; only the fast path has a setting (threads) to re-apply.
  if (current && (choice === 'auto' || current.name === choice) && !(threads && current.name.startsWith('fast'))) return current;
  const reason: string[] = [];
  const want = (c: BackendChoice) => choice === 'auto' || choice === c;

  for (const [c, pkg, name] of [['node-gpu', '@tensorflow/tfjs-node-gpu', 'tensorflow-gpu'], ['node', '@tensorflow/tfjs-node', 'tensorflow']] as const) {
    if (!want(c)) continue;
    const err = await tryNode(pkg);
    if (err === null && (await tf.setBackend('tensorflow'))) {
      reason.push(`${pkg}: loaded`);
      current = { name, tfBackend: tf.getBackend(), reason, threads: os.availableParallelism() };
      return current;
    }
    reason.push(`${pkg}: ${err ?? 'backend "tensorflow" failed to initialise'}`);
    if (choice === c) throw new BackendError(`backend ${c} requested but unavailable: ${reason.at(-1)}`);
  }

  if (want('fast') || choice === 'fast-js') {
    try {
      const info = await setupFastBackend({ noNative: choice === 'fast-js', threads });
      const how = info.native ? `native kernels, ${info.threads} threads` : 'JS kernels';
      reason.push(`fast (WASM + ${how}): ${info.nativeReason}`);
      current = { name: info.native ? 'fast' : 'fast-js', tfBackend: tf.getBackend(), reason, threads: info.threads };
      return current;
    } catch (e) {
      reason.push(`fast (WASM): ${(e as Error).message}`);
      if (choice === 'fast' || choice === 'fast-js') throw new BackendError(`backend ${choice} requested but unavailable: ${reason.at(-1)}`);
    }
  }

  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to initialise');
  await tf.ready();
  reason.push('cpu: pure-JS tfjs backend' + (choice === 'cpu' ? ' (forced)' : ' (fallback)'));
  current = { name: 'cpu', tfBackend: 'cpu', reason, threads: 1 };
  return current;
}

/** The result of the last initBackend call in this process, if any. */
export function currentBackend(): BackendResult | undefined {
  return current;
}
