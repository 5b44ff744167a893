// What the BullMQ executor (src/jobs/bullmq-executor.ts) and `nas worker`
// (src/jobs/worker.ts) agree on: the Redis connection options, the queue
// name, the job id of a trial, and the job's data and return value on the
// wire (JSON in Redis). Validated here, at the edge, once.

import { Redis } from 'ioredis';
import type { RemoteDatasetRef } from './dataset-ref.ts';
import type { TrialOutcome } from '../train/pool.ts';
import type { TrialRequest, TrialResult, WireError } from '../train/protocol.ts';
import type { EpochReport } from '../train/trainer.ts';

/** Queue of the trials when none is named (one per deployment: pass --queue to share a Redis). */
export const DEFAULT_QUEUE_NAME = 'nas-trials';
/** BullMQ job name of a trial */
export const TRIAL_JOB_NAME = 'trial';

/** A bad Redis URL or queue name is the user's error (exit 2 / HTTP 400). */
export class QueueConfigError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'QueueConfigError';
  }
}

export function isRedisUrl(s: string): boolean {
  return /^rediss?:\/\//i.test(s);
}

/**
 * ioredis options for BullMQ: `maxRetriesPerRequest: null` (BullMQ requires
 * it; commands wait through a Redis restart instead of failing) and a
 * reconnect back-off capped at `maxReconnectDelayMs`, retried forever.
 */
export function redisConnection(url: string, maxReconnectDelayMs = 2000) {
  if (!isRedisUrl(url)) throw new QueueConfigError(`--redis must be a redis:// or rediss:// URL, got "${url}"`);
  try {
    new URL(url);
  } catch {
    throw new QueueConfigError(`--redis is not a valid URL: "${url}"`);
  }
  return {
    url,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(100 * times, maxReconnectDelayMs),
  };
}

/** An ioredis client with those options, owned by the caller, plus a shutdown that ends it whether Redis is up or not. */
export function createRedisClient(url: string, onError: (e: Error) => void): { client: Redis; shutdown(): void } {
  const { url: u, retryStrategy, ...opts } = redisConnection(url);
  let stopped = false;
  // ioredis can schedule one more reconnect after disconnect() while a connect is in flight: stop retrying too.
  const client = new Redis(u, { ...opts, retryStrategy: (times: number) => (stopped ? null : retryStrategy(times)) });
  client.on('error', onError);
  return {
    client,
    shutdown() {
      stopped = true;
      client.disconnect();
    },
  };
}

export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new QueueConfigError(`queue name must be 1-100 letters, digits, ".", "_" or "-" (no ":"), got "${name}"`);
  }
  return name;
}

/**
 * The BullMQ job id of a trial: its request id (the runner uses
 * `${searchId}:${archId}`, so the same architecture of the same search is one
 * job), percent-encoded where BullMQ forbids characters (":" separates its
 * Redis keys; an all-digit id would read as a number).
 */
export function trialJobId(requestId: string): string {
  if (requestId.length === 0) throw new QueueConfigError('trial request id must not be empty');
  const enc = requestId.replace(/%/g, '%25').replace(/:/g, '%3A');
  return /^\d+$/.test(enc) ? `t%${enc}` : enc;
}

/** Job data: the trial request, and the outcome of the last failed attempt (written by the worker). */
export interface TrialJobData {
  request: TrialRequest;
  /** an uploaded dataset the worker fetches from the server (id, sha256, URL); absent for built-in datasets */
  dataset?: RemoteDatasetRef;
  lastFailure?: FailedAttempt;
}

/** A failed attempt as the worker saw it (the pool's failure outcome plus the reason BullMQ stores). */
export interface FailedAttempt {
  kind: 'error' | 'crash' | 'timeout';
  error: WireError;
  reason: string;
  worker: string;
  workerPid: number;
  wallMs: number;
  exitCode?: number | null;
  signal?: string | null;
  stderrTail?: string;
}

/** Job return value of a trial that trained. */
export interface TrialJobResult {
  result: TrialResult;
  /** `host:pid` of the `nas worker` that ran it */
  worker: string;
  workerPid: number;
  wallMs: number;
}

/** Outcome of a distributed trial: the pool's outcome, plus where it ran and how many attempts it took. */
export type DistributedOutcome = TrialOutcome & { worker?: string; attempts?: number };

// JSON turns NaN into null (valLoss of unvalidated epochs): put it back.
const nan = (x: unknown): number => (typeof x === 'number' ? x : Number.NaN);

export function reviveEpoch(raw: unknown): EpochReport {
  const r = raw as EpochReport;
  return { ...r, valLoss: nan(r.valLoss), valAccuracy: nan(r.valAccuracy), trainLoss: nan(r.trainLoss), trainAccuracy: nan(r.trainAccuracy) };
}

export function parseJobResult(raw: unknown): TrialJobResult {
  const v = (typeof raw === 'string' ? JSON.parse(raw) : raw) as TrialJobResult | null;
  if (!v || typeof v !== 'object' || !v.result || typeof v.result !== 'object') {
    throw new Error(`trial job returned no result: ${JSON.stringify(raw)?.slice(0, 200)}`);
  }
  const r = v.result;
  return { ...v, result: { ...r, valLoss: nan(r.valLoss), valAccuracy: nan(r.valAccuracy), epochs: (r.epochs ?? []).map(reviveEpoch) } };
}
