// The supernet evaluator behind the search runner's TrialExecutor interface:
// a trial request is scored in this process with inherited weights
// (evaluator.ts) instead of being trained by a worker. One at a time (each
// evaluation uses every core); results are cached per architecture for the
// executor's lifetime, as the evaluation is deterministic for a supernet.

import { fromWire } from '../space/archspec.ts';
import type { TrialExecutor, TrialOutcome, TrialRequest } from '../search/executor.ts';
import { currentBackend } from '../engine/backend.ts';
import type { SupernetEvaluator, SubnetScore } from './evaluator.ts';
import type { AccuracyPredictor } from './predictor.ts';
import type { Skeleton } from '../space/skeleton.ts';
import type { InputShape } from '../space/types.ts';

export function supernetExecutor(ev: SupernetEvaluator, o: { supernetId: string; onClose?: () => void }): TrialExecutor & { evaluations: number } {
  const cache = new Map<string, SubnetScore>();
  const ex = {
    concurrency: 1,
    evaluations: 0,
    async run(request: TrialRequest): Promise<TrialOutcome> {
      const t0 = performance.now();
      try {
        const spec = fromWire(request.arch);
        let score = cache.get(request.arch);
        if (!score) {
          score = ev.evaluate(spec);
          cache.set(request.arch, score);
          ex.evaluations++;
        }
        const wallMs = performance.now() - t0;
        return {
          ok: true, id: request.id, workerPid: process.pid, wallMs,
          result: {
            valAccuracy: score.accuracy, valLoss: score.loss, epochs: [], lossCurve: [], imagesPerSec: 0, trainImages: 0,
            valImages: score.validationImages, resolution: ev.input.height, numClasses: ev.numClasses, restarts: 0, learningRate: 0,
            params: 0, wallMs, backend: currentBackend()?.name ?? 'unknown',
            preprocessing: { scale: 1 / 127.5, offset: -1, resolution: ev.input.height, channels: ev.input.channels },
          },
        };
      } catch (e) {
        const err = e as Error & { status?: number };
        return {
          ok: false, id: request.id, workerPid: process.pid, wallMs: performance.now() - t0, kind: 'error',
          error: { name: err.name ?? 'Error', message: `supernet ${o.supernetId}: ${err.message ?? String(e)}`, status: err.status },
        };
      }
    },
    async close(): Promise<void> {
      ev.dispose();
      o.onClose?.();
    },
  };
  return ex;
}

/** The accuracy predictor behind the TrialExecutor interface: a candidate's accuracy as the predictor estimates it. */
export function predictorExecutor(p: AccuracyPredictor, skeleton: Skeleton, o: { supernetId: string; input: InputShape; numClasses: number }): TrialExecutor {
  return {
    concurrency: 1,
    async run(request: TrialRequest): Promise<TrialOutcome> {
      const t0 = performance.now();
      try {
        const accuracy = p.predict(skeleton, fromWire(request.arch));
        const wallMs = performance.now() - t0;
        return {
          ok: true, id: request.id, workerPid: process.pid, wallMs,
          result: {
            valAccuracy: accuracy, valLoss: NaN, epochs: [], lossCurve: [], imagesPerSec: 0, trainImages: 0, valImages: 0,
            resolution: o.input.height, numClasses: o.numClasses, restarts: 0, learningRate: 0, params: 0, wallMs, backend: 'accuracy-predictor',
            preprocessing: { scale: 1 / 127.5, offset: -1, resolution: o.input.height, channels: o.input.channels },
          },
        };
      } catch (e) {
        const err = e as Error & { status?: number };
        return { ok: false, id: request.id, workerPid: process.pid, wallMs: performance.now() - t0, kind: 'error', error: { name: err.name ?? 'Error', message: `predictor of supernet ${o.supernetId}: ${err.message}`, status: err.status } };
      }
    },
    async close(): Promise<void> {
      p.dispose();
    },
  };
}
