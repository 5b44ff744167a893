// A TrialExecutor on BullMQ/Redis: each trial is a job on a queue that
// `nas worker` processes (on this or other machines) consume. The job id is
// the trial's request id (`${searchId}:${archId}`), so adding the same trial
// twice (a resumed search, a duplicate call) attaches to the one job instead
// of training again. Completion arrives through QueueEvents; a reconcile
// pass every few seconds also asks Redis for the state of every trial still
// waited for, which covers events missed while Redis was unreachable and
// jobs lost when Redis restarted without persistence (they are added again).
// Outcomes never reject: a job failed after its attempts is ok: false with
// the reason BullMQ stored.

import { type Job, Queue, QueueEvents } from 'bullmq';
import type { TrialExecutor } from '../search/executor.ts';
import type { RemoteDatasetRef } from './dataset-ref.ts';
import type { TrialRequest } from '../train/protocol.ts';
import type { EpochReport } from '../train/trainer.ts';
import {
  checkQueueName, createRedisClient, DEFAULT_QUEUE_NAME, type DistributedOutcome, parseJobResult, reviveEpoch,
  TRIAL_JOB_NAME, type TrialJobData, trialJobId,
} from './bullmq-wire.ts';

export interface BullMqExecutorOptions {
  /** redis:// URL */
  redisUrl: string;
  queueName?: string;
  /** trials the search keeps in flight (the workers' total concurrency; default 4) */
  concurrency?: number;
  /** attempts per trial before it is stored failed (default 2) */
  attempts?: number;
  /** delay before a failed attempt is retried (default 1000 ms) */
  retryDelayMs?: number;
  /** how often the state of waited-for jobs is checked in Redis (default 5000 ms) */
  reconcileIntervalMs?: number;
  /** how long finished jobs are kept for idempotent re-adds (default 7 days) */
  keepFinishedSeconds?: number;
  /**
   * the job id of a request (default: its id, the trial id). Requests mapped to one id share one job:
   * e.g. `${searchId}:${archId}` trains an architecture once per search whatever its trial ids.
   */
  jobIdOf?: (request: TrialRequest) => string;
  /** the dataset reference a request's job carries for workers on other machines (null: a built-in dataset) */
  datasetRefOf?: (request: TrialRequest) => RemoteDatasetRef | null;
  /** problems worth a log line (Redis errors, a lost job added again) */
  onWarning?: (message: string) => void;
}

/** BullMQ's attemptsMade: attempts that ended (completed or failed); an attempt whose worker was lost and that another worker took over is not counted */
const attemptsOf = (job: Job): number => job.attemptsMade ?? 0;

interface Pending {
  jobId: string;
  request: TrialRequest;
  listeners: Set<(r: EpochReport) => void>;
  promise: Promise<DistributedOutcome>;
  resolve: (o: DistributedOutcome) => void;
  startedMs: number;
  /** the first add reached Redis (before that a missing job is not yet lost) */
  added: boolean;
}

export class BullMqExecutor implements TrialExecutor {
  readonly concurrency: number;
  readonly queueName: string;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  /** our own connections (BullMQ's close() waits for a Redis that may be down; these we can always drop) */
  private readonly clients: { shutdown(): void }[];
  private readonly opts: BullMqExecutorOptions;
  private readonly pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;
  private reconciling = false;
  private lastNoWorkerWarningMs = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** jobs added again after Redis lost them */
  readded = 0;

  constructor(opts: BullMqExecutorOptions) {
    this.opts = opts;
    this.concurrency = opts.concurrency ?? 4;
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${opts.concurrency}`);
    this.queueName = checkQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
    const warn = (what: string) => (e: Error) => this.opts.onWarning?.(`${what}: ${e.message}`);
    // The queue's commands and the events' blocking XREAD each get a connection.
    const queueConn = createRedisClient(opts.redisUrl, () => {});
    const eventsConn = createRedisClient(opts.redisUrl, warn('redis'));
    this.clients = [queueConn, eventsConn];
    const keep = opts.keepFinishedSeconds ?? 7 * 24 * 3600;
    this.queue = new Queue(this.queueName, {
      connection: queueConn.client,
      defaultJobOptions: {
        attempts: opts.attempts ?? 2,
        backoff: { type: 'fixed', delay: opts.retryDelayMs ?? 1000 },
        removeOnComplete: { age: keep },
        removeOnFail: { age: keep },
      },
    });
    this.events = new QueueEvents(this.queueName, { connection: eventsConn.client });
    this.queue.on('error', warn('queue'));
    this.events.on('error', warn('queue events'));
    this.events.on('progress', ({ jobId, data }) => {
      const p = this.pending.get(jobId);
      if (p && data && typeof data === 'object') for (const l of p.listeners) l(reviveEpoch(data));
    });
    this.events.on('completed', ({ jobId }) => void this.check(jobId));
    this.events.on('failed', ({ jobId }) => void this.check(jobId));
    this.timer = setInterval(() => void this.reconcile(), opts.reconcileIntervalMs ?? 5000);
  }

  /** Resolves once the Redis connections are up (run() does not need it: commands wait for Redis). */
  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  run(request: TrialRequest, onEpoch?: (r: EpochReport) => void): Promise<DistributedOutcome> {
    if (this.closed) return Promise.reject(new Error('trial executor is closed'));
    const jobId = trialJobId(this.opts.jobIdOf?.(request) ?? request.id);
    const existing = this.pending.get(jobId);
    if (existing) {
      if (onEpoch) existing.listeners.add(onEpoch);
      return existing.promise.then((o) => ({ ...o, id: request.id }));
    }
    let resolve!: (o: DistributedOutcome) => void;
    const promise = new Promise<DistributedOutcome>((r) => (resolve = r));
    const p: Pending = { jobId, request, listeners: new Set(onEpoch ? [onEpoch] : []), promise, resolve, startedMs: performance.now(), added: false };
    this.pending.set(jobId, p);
    // Add (a no-op when the job exists), then look at its state: it may have finished long ago.
    this.add(p).then(() => {
      p.added = true;
      return this.check(jobId);
    }, (e) => this.settle(p, this.failure(p, 'error', `could not queue trial: ${(e as Error).message}`)));
    return promise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const p of this.pending.values()) this.settle(p, this.failure(p, 'error', 'trial executor closed before the trial finished'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.events.close(), this.queue.close()]),
      new Promise((r) => (timer = setTimeout(r, 2000))),
    ]);
    clearTimeout(timer);
    for (const c of this.clients) c.shutdown();
  }

  private async add(p: Pending): Promise<Job> {
    // an uploaded dataset travels as a reference the worker fetches (src/jobs/dataset-ref.ts)
    const dataset = this.opts.datasetRefOf?.(p.request) ?? undefined;
    const data: TrialJobData = dataset ? { request: p.request, dataset } : { request: p.request };
    return this.queue.add(TRIAL_JOB_NAME, data, { jobId: p.jobId });
  }

  private settle(p: Pending, o: DistributedOutcome): void {
    if (this.pending.get(p.jobId) !== p) return;
    this.pending.delete(p.jobId);
    p.resolve(o);
  }

  private failure(p: Pending, kind: 'error' | 'crash' | 'timeout', message: string, extra: Partial<DistributedOutcome> = {}): DistributedOutcome {
    return { ok: false, id: p.request.id, workerPid: 0, wallMs: performance.now() - p.startedMs, kind, error: { name: 'TrialJobFailed', message }, ...extra } as DistributedOutcome;
  }

  /** Looks at one waited-for job in Redis and settles it when finished (re-adds it when Redis lost it). */
  private async check(jobId: string): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p) return;
    try {
      const job = await this.queue.getJob(jobId);
      if (!this.pending.has(jobId)) return;
      if (!job) {
        if (!p.added) return;
        this.readded++;
        this.opts.onWarning?.(`trial job ${jobId} is missing from Redis (restarted without persistence?); adding it again`);
        await this.add(p);
        return;
      }
      const state = await job.getState();
      if (state === 'completed') this.settle(p, this.completed(p, job));
      else if (state === 'failed') this.settle(p, this.failed(p, job));
    } catch (e) {
      this.opts.onWarning?.(`checking trial job ${jobId}: ${(e as Error).message}`);
    }
  }

  private completed(p: Pending, job: Job): DistributedOutcome {
    try {
      const v = parseJobResult(job.returnvalue);
      return { ok: true, id: p.request.id, result: v.result, workerPid: v.workerPid, wallMs: v.wallMs, worker: v.worker, attempts: attemptsOf(job) };
    } catch (e) {
      return this.failure(p, 'error', (e as Error).message, { attempts: attemptsOf(job) });
    }
  }

  private failed(p: Pending, job: Job): DistributedOutcome {
    const reason = job.failedReason || 'failed without a reason';
    const last = (job.data as TrialJobData).lastFailure;
    const attempts = attemptsOf(job);
    if (last && last.reason === reason) {
      return {
        ok: false, id: p.request.id, kind: last.kind, error: { ...last.error, message: `${reason} (after ${attempts} attempt${attempts === 1 ? '' : 's'})` },
        workerPid: last.workerPid, wallMs: last.wallMs, worker: last.worker, attempts,
        exitCode: last.exitCode, signal: last.signal, stderrTail: last.stderrTail,
      } as DistributedOutcome;
    }
    // No attempt reported this failure: the worker was lost (stalled past the limit) or BullMQ failed it.
    return this.failure(p, 'crash', `${reason} (the worker running it was lost)`, { attempts });
  }

  private async reconcile(): Promise<void> {
    if (this.reconciling || this.closed) return;
    this.reconciling = true;
    try {
      for (const jobId of [...this.pending.keys()]) await this.check(jobId);
      if (this.pending.size > 0 && performance.now() - this.lastNoWorkerWarningMs > 60_000 && (await this.queue.getWorkersCount()) === 0) {
        this.lastNoWorkerWarningMs = performance.now();
        this.opts.onWarning?.(`${this.pending.size} trial(s) waiting and no worker is connected to queue "${this.queueName}" (start one: nas worker --redis <url> --queue ${this.queueName})`);
      }
    } catch (e) {
      this.opts.onWarning?.(`checking the queue: ${(e as Error).message}`);
    } finally {
      this.reconciling = false;
    }
  }
}
