// Where a search's trials run, from one option (`--queue`): absent or
// "local" -> forked training processes on this machine (TrialPool);
// a redis:// URL -> jobs on a BullMQ queue that `nas worker` processes on
// any machine consume. The search runner calls this and sees only the
// TrialExecutor interface.

import type { TrialExecutor } from '../search/executor.ts';
import { type PoolOptions, TrialPool } from '../train/pool.ts';
import type { TrialRequest } from '../train/protocol.ts';
import type { EpochReport } from '../train/trainer.ts';
import { BullMqExecutor, type BullMqExecutorOptions } from './bullmq-executor.ts';
import { isRedisUrl, QueueConfigError } from './bullmq-wire.ts';

export interface TrialExecutorOptions {
  /** "local" (default) or a redis:// URL */
  queue?: string;
  /** BullMQ queue name (default nas-trials; one per deployment) */
  queueName?: string;
  /** local: training processes; redis: trials kept in flight (the workers' total concurrency) */
  concurrency?: number;
  /** local pool options (trial timeout, worker module) */
  pool?: Omit<PoolOptions, 'size'>;
  /** BullMQ options beyond the URL, name and concurrency */
  bullmq?: Omit<BullMqExecutorOptions, 'redisUrl' | 'queueName' | 'concurrency'>;
}

/** The local pool seen as a TrialExecutor. */
export class LocalExecutor implements TrialExecutor {
  readonly pool: TrialPool;
  constructor(opts: PoolOptions = {}) {
    this.pool = new TrialPool(opts);
  }
  get concurrency(): number {
    return this.pool.size;
  }
  run(request: TrialRequest, onEpoch?: (r: EpochReport) => void) {
    return this.pool.run(request, onEpoch);
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

export function createTrialExecutor(opts: TrialExecutorOptions = {}): LocalExecutor | BullMqExecutor {
  const queue = opts.queue ?? 'local';
  if (queue === 'local') return new LocalExecutor({ ...opts.pool, size: opts.concurrency });
  if (!isRedisUrl(queue)) throw new QueueConfigError(`--queue must be "local" or a redis:// URL, got "${queue}"`);
  return new BullMqExecutor({ ...opts.bullmq, redisUrl: queue, queueName: opts.queueName, concurrency: opts.concurrency });
}
