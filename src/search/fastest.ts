// The fastest architecture of the space on a device, by the device's
// latency predictor: start from the space's smallest choices (index 0 of
// every decision: regular conv, kernel 3, expansion 1, no SE, depth -1,
// width x0.75, ReLU), then coordinate descent: for every block and decision
// try every choice, keep the one with the lowest predicted latency, and
// repeat passes until one changes nothing (at most maxPasses). The result is
// a local minimum of the predictor, so the true fastest is at most this; a
// target below it is refused before any training.

import type { LatencyPredictor } from '../latency/index.ts';
import { archFromDecisions, BLOCK_DECISIONS, type Decisions } from '../space/sampler.ts';
import type { Skeleton } from '../space/skeleton.ts';
import type { InputShape } from '../space/types.ts';

export interface FastestArch {
  decisions: Decisions;
  latencyMs: number;
  /** predictions made */
  evaluations: number;
}

export function fastestArch(skeleton: Skeleton, predictor: LatencyPredictor, input: InputShape, numClasses: number, maxPasses = 4): FastestArch {
  let evaluations = 0;
  const latencyOf = (d: Decisions) => {
    evaluations++;
    return predictor.predict(archFromDecisions(skeleton, d), input, numClasses).latencyMs;
  };
  let best: Decisions = skeleton.blocks.map(() => BLOCK_DECISIONS.map(() => 0));
  let bestMs = latencyOf(best);
  for (let pass = 0; pass < maxPasses; pass++) {
    let improved = false;
    for (let b = 0; b < skeleton.blocks.length; b++) {
      for (let d = 0; d < BLOCK_DECISIONS.length; d++) {
        for (let c = 0; c < BLOCK_DECISIONS[d].choices.length; c++) {
          if (c === best[b][d]) continue;
          const cand = best.map((row) => [...row]);
          cand[b][d] = c;
          const ms = latencyOf(cand);
          if (ms < bestMs - 1e-12) {
            best = cand;
            bestMs = ms;
            improved = true;
          }
        }
      }
    }
    if (!improved) break;
  }
  return { decisions: best, latencyMs: bestMs, evaluations };
}
