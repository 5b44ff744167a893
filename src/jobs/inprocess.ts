// The embedded job runner: jobs are rows of the store's `jobs` table, run in
// this process by the handler of their kind, at most `concurrency` at a time.
// At start-up a job found 'running' was interrupted (the process stopped):
// it goes back to the queue and its handler is called with `resume: true`
// (a search continues from its checkpoint with resumeSearch). A job whose
// process crashed (JobCrashedError) is retried the same way. A job
// interrupted more than `maxAttempts` times fails instead of looping forever.
// A cancel asked for wins over a later failure. When the queue itself ends a
// job, the rows it owns (its search, a run's model) end in the same state
// (src/jobs/settle.ts).

import { availableParallelism } from 'node:os';
import { now, type NasEvent } from '../app/events.ts';
import type { Db } from '../store/db.ts';
import { JobsRepo, type JobKind, type JobRecord, type JobStatus } from '../store/jobs.ts';
import { EventBus, TERMINAL_EVENTS } from './bus.ts';
import { type EnqueueOptions, JobCrashedError, type JobHandlers, type JobQueue } from './queue.ts';
import { settleJobRows } from './settle.ts';

/**
 * Jobs at once by default: each search already runs a trial pool over all
 * cores, so one job per 8 cores (1 on the 2-core machines this runs on).
 */
export function defaultJobConcurrency(cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 8));
}

export interface InProcessQueueOptions {
  db: Db;
  handlers: JobHandlers;
  concurrency?: number;
  /** starts allowed per job, interruptions and crashes of its process included (default 3) */
  maxAttempts?: number;
  bus?: EventBus;
  /** told about jobs that ended, for logs */
  onJobEnd?: (job: JobRecord) => void;
}

interface Running {
  job: JobRecord;
  signal: { cancelled: boolean };
  userCancelled: boolean;
  done: Promise<void>;
}

export class InProcessQueue implements JobQueue {
  readonly events: EventBus;
  readonly concurrency: number;
  private readonly repo: JobsRepo;
  private readonly running = new Map<string, Running>();
  private readonly maxAttempts: number;
  private started = false;
  private closing = false;
  /** stopped without waiting: running jobs' rows are left as they are (resumed at the next start) */
  private abandoned = false;

  constructor(private readonly opts: InProcessQueueOptions) {
    this.repo = new JobsRepo(opts.db);
    this.events = opts.bus ?? new EventBus();
    this.concurrency = opts.concurrency ?? defaultJobConcurrency();
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new Error(`job concurrency must be a positive integer, got ${this.concurrency}`);
    this.maxAttempts = opts.maxAttempts ?? 3;
  }

  get kinds(): JobKind[] {
    return (Object.keys(this.opts.handlers) as JobKind[]).filter((k) => this.opts.handlers[k] !== undefined);
  }

  async enqueue(kind: JobKind, payload: unknown, owner: string | null, opts: EnqueueOptions = {}): Promise<string> {
    if (!this.opts.handlers[kind]) throw Object.assign(new Error(`no handler for jobs of kind '${kind}' in this service`), { status: 400 });
    const job = this.repo.insert({ kind, payload, owner, searchId: opts.searchId ?? null });
    this.publish({ type: 'stage-changed', searchId: keyOf(job), stage: 'queued', at: now() });
    this.pump();
    return job.id;
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = this.repo.get(id);
    if (!job) return undefined;
    if (job.status === 'queued') {
      const out = this.repo.finish(id, 'cancelled');
      this.settle(job, 'cancelled', 'cancelled before it started');
      this.publish({ type: 'cancelled', searchId: keyOf(job), at: now() });
      return out;
    }
    if (job.status === 'running') {
      this.repo.requestCancel(id);
      const r = this.running.get(id);
      if (r) {
        r.userCancelled = true;
        r.signal.cancelled = true;
      }
    }
    return this.repo.get(id);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.repo.get(id);
  }

  async list(opts: { owner?: string | null; status?: JobStatus[] } = {}): Promise<JobRecord[]> {
    return this.repo.list(opts);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.closing = false;
    this.repo.requeueInterrupted();
    this.pump();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const r of this.running.values()) r.signal.cancelled = true;
    await Promise.all([...this.running.values()].map((r) => r.done));
    this.started = false;
  }

  /**
   * Stop at once (the process is going away): take no more work and never
   * touch the rows of running jobs again, whatever their handlers report
   * now; they stay 'running' and resume at the next start.
   */
  abandon(): void {
    this.closing = true;
    this.abandoned = true;
    this.started = false;
  }

  /** resolves when no job is running (tests, graceful shutdown) */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private pump(): void {
    if (!this.started || this.closing) return;
    while (this.running.size < this.concurrency) {
      const job = this.repo.claimNext();
      if (!job) return;
      if (job.cancelRequested) {
        const message = 'cancelled (asked before it was interrupted)';
        const rec = this.repo.finish(job.id, 'cancelled', { error: message });
        this.settle(job, 'cancelled', message);
        this.end(rec, { type: 'cancelled', searchId: keyOf(job), message, at: now() });
        continue;
      }
      if (job.attempts > this.maxAttempts) {
        const error = `interrupted ${job.attempts - 1} times without finishing; not retried again`;
        const rec = this.repo.finish(job.id, 'failed', { error });
        this.settle(job, 'failed', error);
        this.end(rec, { type: 'failed', searchId: keyOf(job), error, at: now() });
        continue;
      }
      this.launch(job);
    }
  }

  private launch(job: JobRecord): void {
    const handler = this.opts.handlers[job.kind];
    const signal = { cancelled: false };
    const entry: Running = { job, signal, userCancelled: false, done: Promise.resolve() };
    const key = keyOf(job);
    let terminalSeen = false;
    // The job row is finished before a terminal event is published, so a
    // client that reads the store after seeing the event sees the end too.
    const onEvent = (raw: NasEvent): void => {
      if (this.abandoned) return;
      let e = runJobView(job.kind, raw);
      if (TERMINAL_EVENTS.has(e.type)) {
        // a shutdown's stop signal is an interruption, not the user's cancel: the job resumes at the next start
        if (e.type === 'cancelled' && this.closing && !entry.userCancelled) return;
        if (terminalSeen) return;
        terminalSeen = true;
        // a cancel asked for wins over a failure that came after it
        if (e.type === 'failed' && this.cancelAsked(entry)) e = { type: 'cancelled', searchId: e.searchId, message: `cancelled (it then failed: ${e.error})`, at: e.at };
        if (e.type === 'failed') this.repo.finish(job.id, 'failed', { error: e.error });
        else if (e.type === 'cancelled') this.repo.finish(job.id, 'cancelled', { error: e.message });
        else this.repo.finish(job.id, 'succeeded');
      }
      this.publish(e);
    };
    const run = async (): Promise<void> => {
      try {
        if (!handler) throw new Error(`no handler for jobs of kind '${job.kind}'`);
        const out = await handler(job, { onEvent, cancel: signal, resume: job.attempts > 1 });
        if (this.abandoned) return;
        if (out.status === 'cancelled' && this.closing && !entry.userCancelled && !terminalSeen) {
          this.repo.requeue(job.id); // interrupted by shutdown: resumed at the next start
          return;
        }
        if (out.result !== undefined) this.repo.setResult(job.id, out.result);
        const status = out.status === 'failed' && this.cancelAsked(entry) ? 'cancelled' : out.status;
        const error = status === 'succeeded' ? undefined
          : status === 'cancelled' && out.status === 'failed' ? `cancelled (it then failed: ${out.error ?? 'failed'})`
          : (out.error ?? (status === 'failed' ? 'failed' : undefined));
        const rec = this.repo.finish(job.id, status, { error });
        this.settleAs(rec);
        this.end(rec, terminalSeen ? undefined : status === 'cancelled'
          ? { type: 'cancelled', searchId: key, ...(error ? { message: error } : {}), at: now() }
          : status === 'failed' ? { type: 'failed', searchId: key, error: error!, at: now() }
          : { type: 'done', searchId: key, status: 'succeeded', bestTrialId: null, at: now() });
      } catch (e) {
        if (this.abandoned) return;
        const error = e instanceof Error ? e.message : String(e);
        const cancelled = this.cancelAsked(entry);
        // the job's process died: an interruption, retried from its checkpoints while attempts allow
        if (e instanceof JobCrashedError && !cancelled && !terminalSeen && !this.closing && job.attempts < this.maxAttempts) {
          this.repo.requeue(job.id);
          this.publish({ type: 'log', searchId: key, level: 'warn', message: `${error}; retrying from its last checkpoint (attempt ${job.attempts + 1} of ${this.maxAttempts})`, at: now() });
          return;
        }
        const status = cancelled ? 'cancelled' : 'failed';
        const message = cancelled ? `cancelled (${error})` : error;
        const rec = this.repo.finish(job.id, status, { error: message });
        this.settleAs(rec);
        this.end(rec, terminalSeen ? undefined : cancelled
          ? { type: 'cancelled', searchId: key, message, at: now() }
          : { type: 'failed', searchId: key, error: message, at: now() });
      }
    };
    entry.done = run().finally(() => {
      this.running.delete(job.id);
      if (!this.abandoned) setImmediate(() => this.pump());
    });
    this.running.set(job.id, entry);
  }

  /** whether the user asked to cancel this job (here, or through the store from another process) */
  private cancelAsked(entry: Running): boolean {
    return entry.userCancelled || (this.repo.get(entry.job.id)?.cancelRequested ?? false);
  }

  /** end the rows a finished job owns in the state its row holds (a terminal event may have ended it first) */
  private settleAs(rec: JobRecord | undefined): void {
    if (rec && (rec.status === 'failed' || rec.status === 'cancelled')) this.settle(rec, rec.status, rec.error ?? rec.status);
  }

  /** end the rows the job owns in its end state */
  private settle(job: JobRecord, status: 'failed' | 'cancelled', error: string): void {
    try {
      settleJobRows(this.opts.db, job, status, error);
    } catch (e) {
      this.publish({ type: 'log', searchId: keyOf(job), level: 'warn', message: `could not end the job's rows: ${e instanceof Error ? e.message : String(e)}`, at: now() });
    }
  }

  private end(job: JobRecord | undefined, event: NasEvent | undefined): void {
    if (event) this.publish(event);
    if (job) this.opts.onJobEnd?.(job);
  }

  private publish(e: NasEvent): void {
    this.events.publish(e);
  }
}

/**
 * A run job drives a search and then refines, trains and
 * exports; the search stage's own 'done' (no model yet) is not the job's end,
 * so subscribers get it as a log line and the stream stays open until the
 * run's 'done' (with its modelId), 'failed' or 'cancelled'.
 */
function runJobView(kind: JobKind, e: NasEvent): NasEvent {
  if (kind !== 'run' || e.type !== 'done' || e.modelId !== undefined) return e;
  return { type: 'log', searchId: e.searchId, level: 'info', message: `search finished${e.bestTrialId ? `; best trial ${e.bestTrialId}` : ''}`, at: e.at };
}

/** the key a job's events are published under: its search's id, else its own */
function keyOf(job: JobRecord): string {
  return job.searchId ?? job.id;
}
