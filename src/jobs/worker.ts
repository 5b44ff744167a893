// The trial worker behind `nas worker`: a BullMQ Worker that takes trial jobs
// from the queue and trains each in a local TrialPool (forked training
// processes; the pool's backend selection picks tfjs-node-gpu on a GPU
// server where it is installed). Several workers on several machines share
// one queue; each job is locked by the worker running it.
//
// A worker that dies mid-trial stops renewing its job's lock; after
// `lockDurationMs` another worker's stalled check (every `stalledIntervalMs`)
// puts the job back on the queue, up to `maxStalledCount` times, after which
// BullMQ stores it failed ("job stalled more than allowable limit"). A trial
// that fails (its training process crashed, timed out or threw) fails the
// attempt; BullMQ retries it up to the job's attempts, except bad input (a
// 4xx error such as an unknown dataset), which no retry can fix.

import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { hostname } from 'node:os';
import { dataPaths } from '../config/paths.ts';
import { TrialPool } from '../train/pool.ts';
import type { TrialRequest } from '../train/protocol.ts';
import { type DatasetFetchEvent, RemoteDatasetCache } from './dataset-fetch.ts';
import {
  checkQueueName, DEFAULT_QUEUE_NAME, type FailedAttempt, redisConnection, type TrialJobData, type TrialJobResult,
} from './bullmq-wire.ts';

export interface TrialWorkerOptions {
  redisUrl: string;
  queueName?: string;
  /** trials trained at once (BullMQ concurrency = training processes; default 1) */
  concurrency?: number;
  /** a job whose lock is not renewed for this long is stalled (default 30000 ms) */
  lockDurationMs?: number;
  /** how often this worker looks for stalled jobs (default 30000 ms) */
  stalledIntervalMs?: number;
  /** times a job may stall before it is failed (default 1) */
  maxStalledCount?: number;
  /** kill and fail a trial running longer than this (default: no limit) */
  trialTimeoutMs?: number;
  /** training process module (tests pass a fixture; default: src/train/worker.ts) */
  trialWorkerModule?: string;
  /** where uploaded datasets fetched from the server are cached (default: the data directory's datasets/) */
  datasetCacheDir?: string;
}

export type WorkerEvent =
  | { type: 'ready'; worker: string; queue: string; concurrency: number }
  | { type: 'trial-started'; jobId: string; trialId: string; attempt: number }
  | { type: 'trial-finished'; jobId: string; trialId: string; ok: boolean; wallMs: number; error?: string }
  | { type: 'warning'; message: string }
  | DatasetFetchEvent;

export interface RunningWorker {
  readonly id: string;
  readonly bullWorker: Worker;
  /** stops taking jobs, waits for the running trials, stops the pool */
  close(): Promise<void>;
}

/** Starts a trial worker; resolves once it is connected and taking jobs. */
export async function startTrialWorker(opts: TrialWorkerOptions, sink: { onEvent?: (e: WorkerEvent) => void } = {}): Promise<RunningWorker> {
  const emit = sink.onEvent ?? (() => {});
  const queue = checkQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
  const concurrency = opts.concurrency ?? 1;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${opts.concurrency}`);
  const id = `${hostname()}:${process.pid}`;
  const pool = new TrialPool({ size: concurrency, workerModule: opts.trialWorkerModule, trialTimeoutMs: opts.trialTimeoutMs });

  const datasets = new RemoteDatasetCache(opts.datasetCacheDir ?? dataPaths().datasets, emit);

  /** The job's request with an uploaded dataset replaced by its verified local copy (fetched once). */
  const localRequest = async (job: Job<TrialJobData, TrialJobResult>): Promise<TrialRequest> => {
    const { request, dataset } = job.data;
    if (!dataset) return request;
    const t0 = performance.now();
    try {
      const folder = await datasets.folderOf(dataset);
      return { ...request, dataset: `folder:${folder}`, datasetOptions: { ...request.datasetOptions, cacheDir: datasets.cacheRoot } };
    } catch (e) {
      const err = e as Error & { status?: number };
      const reason = `error: ${err.message}`;
      emit({ type: 'trial-finished', jobId: job.id!, trialId: request.id, ok: false, wallMs: performance.now() - t0, error: err.message });
      const failure: FailedAttempt = { kind: 'error', error: { name: err.name, message: err.message, status: err.status }, reason, worker: id, workerPid: process.pid, wallMs: performance.now() - t0 };
      await job.updateData({ ...job.data, lastFailure: failure });
      if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) throw new UnrecoverableError(reason);
      throw new Error(reason);
    }
  };

  const processTrial = async (job: Job<TrialJobData, TrialJobResult>): Promise<TrialJobResult> => {
    emit({ type: 'trial-started', jobId: job.id!, trialId: job.data.request.id, attempt: job.attemptsMade + 1 });
    const request = await localRequest(job);
    const outcome = await pool.run(request, (report) => {
      job.updateProgress({ ...report }).catch((e: Error) => emit({ type: 'warning', message: `progress of ${job.id}: ${e.message}` }));
    });
    emit({ type: 'trial-finished', jobId: job.id!, trialId: request.id, ok: outcome.ok, wallMs: outcome.wallMs, error: outcome.ok ? undefined : outcome.error.message });
    if (outcome.ok) return { result: outcome.result, worker: id, workerPid: outcome.workerPid, wallMs: outcome.wallMs };
    const reason = `${outcome.kind}: ${outcome.error.message}`;
    const failure: FailedAttempt = {
      kind: outcome.kind, error: { name: outcome.error.name, message: outcome.error.message, status: outcome.error.status },
      reason, worker: id, workerPid: outcome.workerPid, wallMs: outcome.wallMs,
      exitCode: outcome.exitCode, signal: outcome.signal, stderrTail: outcome.stderrTail?.slice(-2000),
    };
    await job.updateData({ ...job.data, lastFailure: failure });
    const status = outcome.error.status;
    // Bad input fails the same way every time: do not spend the other attempts on it.
    if (outcome.kind === 'error' && typeof status === 'number' && status >= 400 && status < 500) throw new UnrecoverableError(reason);
    throw new Error(reason);
  };

  const worker = new Worker<TrialJobData, TrialJobResult>(queue, processTrial, {
    connection: redisConnection(opts.redisUrl),
    concurrency,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: opts.maxStalledCount ?? 1,
    autorun: false,
  });
  worker.on('error', (e) => emit({ type: 'warning', message: `worker: ${e.message}` }));
  worker.on('failed', (job, e) => {
    if (job && /stalled/i.test(e.message)) emit({ type: 'warning', message: `job ${job.id}: ${e.message}` });
  });
  worker.on('stalled', (jobId) => emit({ type: 'warning', message: `job ${jobId} stalled (its worker stopped renewing the lock); back on the queue` }));
  void worker.run().catch((e: Error) => emit({ type: 'warning', message: `worker stopped: ${e.message}` }));
  await worker.waitUntilReady();
  emit({ type: 'ready', worker: id, queue, concurrency });

  let closing: Promise<void> | undefined;
  return {
    id,
    bullWorker: worker,
    close() {
      closing ??= (async () => {
        await worker.close();
        await pool.close();
      })();
      return closing;
    },
  };
}
