// Where trials run. The search runner sees only this interface: the local
// forked-process pool (src/train/pool.ts TrialPool) implements it, and so
// does the distributed executor on BullMQ/Redis (src/jobs/). Outcomes never
// reject: a failed trial is an outcome with ok: false.

import type { TrialOutcome } from '../train/pool.ts';
import type { TrialRequest } from '../train/protocol.ts';
import type { EpochReport } from '../train/trainer.ts';

export interface TrialExecutor {
  /** how many trials can usefully run at once (the runner keeps this many in flight) */
  readonly concurrency: number;
  run(request: TrialRequest, onEpoch?: (r: EpochReport) => void): Promise<TrialOutcome>;
  close(): Promise<void>;
}

export type { TrialOutcome, TrialRequest };
