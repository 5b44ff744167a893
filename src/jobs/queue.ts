// The job queue interface. Everything long-running that the service starts
// (a search, or a whole `nas run`) is a job with an id, a state and
// an owner. The in-process runner (src/jobs/inprocess.ts) is the embedded
// default; a BullMQ/Redis implementation sits behind the same interface.
//
// A job's work is a `JobHandler` per kind: the same use-case function the CLI
// calls (runSearch / runRun), given the job's payload, the event sink and a
// cancel signal. The queue publishes every event on the bus
// (src/jobs/bus.ts) so that SSE subscribers see them live.

import type { CancelSignal, NasEvent } from '../app/events.ts';
import type { JobKind, JobRecord, JobStatus } from '../store/jobs.ts';
import type { EventBus } from './bus.ts';

export type { JobKind, JobRecord, JobStatus };

export interface JobContext {
  onEvent: (e: NasEvent) => void;
  cancel: CancelSignal;
  /** true when an earlier attempt was interrupted (process stopped): continue it rather than start over */
  resume: boolean;
}

/** How a handler ended without throwing: its work done, or stopped early on the cancel signal. */
export interface JobOutcome {
  status: 'succeeded' | 'cancelled' | 'failed';
  result?: unknown;
  /** why, when failed */
  error?: string;
}

export type JobHandler = (job: JobRecord, ctx: JobContext) => Promise<JobOutcome>;

/**
 * A handler rejects with this when the job's process died without reporting
 * an outcome (killed, out of memory): an interruption, which the queue
 * retries from the job's checkpoints while its attempts allow.
 */
export class JobCrashedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobCrashedError';
  }
}
export type JobHandlers = Partial<Record<JobKind, JobHandler>>;

export interface EnqueueOptions {
  /** the search this job drives (its events are published under this id) */
  searchId?: string;
}

export interface JobQueue {
  /** the kinds of job this queue has handlers for */
  readonly kinds: readonly JobKind[];
  /** store the job and schedule it; returns its id */
  enqueue(kind: JobKind, payload: unknown, owner: string | null, opts?: EnqueueOptions): Promise<string>;
  /** a queued job is cancelled at once; a running one is asked to stop and keeps what it has. Undefined: no such job. */
  cancel(id: string): Promise<JobRecord | undefined>;
  get(id: string): Promise<JobRecord | undefined>;
  list(opts?: { owner?: string | null; status?: JobStatus[] }): Promise<JobRecord[]>;
  /** live events of every job, keyed by search id */
  readonly events: EventBus;
  /** resume interrupted jobs and start taking work */
  start(): Promise<void>;
  /**
   * Stop taking work. Running jobs are signalled to stop; those that stop
   * early go back to the queue (resumed at the next start), never 'cancelled'.
   */
  close(): Promise<void>;
}

// The service's queue travels with its HTTP context without the context
// type knowing about jobs: `nas serve` (and tests) attach it once.
const queues = new WeakMap<object, JobQueue>();

export function attachJobQueue(ctx: object, queue: JobQueue): void {
  queues.set(ctx, queue);
}

/** the queue attached to this context; a 503 error when the service runs without one */
export function jobQueueOf(ctx: object): JobQueue {
  const q = queues.get(ctx);
  if (!q) throw Object.assign(new Error('this server runs no job queue (searches cannot be started here)'), { status: 503 });
  return q;
}
