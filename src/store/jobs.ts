// The jobs table (migration 003): rows are the queue's source of truth.
// Wire types (SQLite rows) are converted to `JobRecord` here and nowhere else.
// A worker claims a queued job with one conditional UPDATE, so two runners
// on one store never start the same job twice.

import { randomBytes } from 'node:crypto';
import type { Db } from './db.ts';

export type JobKind = 'search' | 'run' | 'supernet';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const JOB_KINDS: readonly JobKind[] = ['search', 'run', 'supernet'];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface JobRecord {
  id: string;
  kind: JobKind;
  payload: unknown;
  status: JobStatus;
  /** times a worker started it (> 1: it was interrupted and resumed) */
  attempts: number;
  owner: string | null;
  searchId: string | null;
  result: unknown;
  error: string | null;
  cancelRequested: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

interface JobRow {
  id: string; kind: string; payload: string; status: string; attempts: number;
  owner: string | null; search_id: string | null; result: string | null; error: string | null;
  cancel_requested: number; created_at: string; started_at: string | null;
  finished_at: string | null; updated_at: string;
}

function toRecord(r: JobRow): JobRecord {
  return {
    id: r.id,
    kind: r.kind as JobKind,
    payload: JSON.parse(r.payload) as unknown,
    status: r.status as JobStatus,
    attempts: r.attempts,
    owner: r.owner,
    searchId: r.search_id,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    error: r.error,
    cancelRequested: r.cancel_requested !== 0,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

export function newJobId(): string {
  return `job_${randomBytes(8).toString('hex')}`;
}

export interface NewJob {
  kind: JobKind;
  payload: unknown;
  owner: string | null;
  searchId?: string | null;
  id?: string;
}

export interface ListJobsOptions {
  owner?: string | null;
  status?: JobStatus[];
  kind?: JobKind[];
  limit?: number;
}

export class JobsRepo {
  constructor(private readonly db: Db) {}

  insert(job: NewJob): JobRecord {
    const at = new Date().toISOString();
    const id = job.id ?? newJobId();
    this.db.prepare(`INSERT INTO jobs (id, kind, payload, status, attempts, owner, search_id, created_at, updated_at)
      VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)`).run(id, job.kind, JSON.stringify(job.payload ?? null), job.owner, job.searchId ?? null, at, at);
    return this.get(id)!;
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** the latest job driving a search */
  bySearch(searchId: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE search_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(searchId) as JobRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(opts: ListJobsOptions = {}): JobRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.owner !== undefined) {
      if (opts.owner === null) where.push('owner IS NULL');
      else { where.push('owner = ?'); args.push(opts.owner); }
    }
    if (opts.status?.length) { where.push(`status IN (${opts.status.map(() => '?').join(',')})`); args.push(...opts.status); }
    if (opts.kind?.length) { where.push(`kind IN (${opts.kind.map(() => '?').join(',')})`); args.push(...opts.kind); }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    args.push(opts.limit ?? 1000);
    return (this.db.prepare(sql).all(...args) as JobRow[]).map(toRecord);
  }

  /** the oldest queued job, claimed (status running, attempts + 1) atomically; undefined when none */
  claimNext(): JobRecord | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1").get() as { id: string } | undefined;
      if (!row) return undefined;
      const at = new Date().toISOString();
      const changed = this.db.prepare(`UPDATE jobs SET status = 'running', attempts = attempts + 1,
        started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ? AND status = 'queued'`).run(at, at, row.id).changes;
      return changed === 1 ? this.get(row.id) : undefined;
    }).immediate();
  }

  /** jobs left 'running' by a process that stopped: put back in the queue (attempts kept, so the runner resumes them) */
  requeueInterrupted(): JobRecord[] {
    const at = new Date().toISOString();
    const rows = this.db.prepare("SELECT * FROM jobs WHERE status = 'running'").all() as JobRow[];
    this.db.prepare("UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'").run(at);
    return rows.map(toRecord);
  }

  /** back to the queue after a graceful shutdown interrupted it */
  requeue(id: string): void {
    this.db.prepare("UPDATE jobs SET status = 'queued', updated_at = ? WHERE id = ? AND status = 'running'").run(new Date().toISOString(), id);
  }

  finish(id: string, status: 'succeeded' | 'failed' | 'cancelled', opts: { result?: unknown; error?: string } = {}): JobRecord | undefined {
    const at = new Date().toISOString();
    this.db.prepare(`UPDATE jobs SET status = ?, result = COALESCE(?, result), error = ?, finished_at = ?, updated_at = ?
      WHERE id = ? AND status IN ('queued', 'running')`).run(status, opts.result === undefined ? null : JSON.stringify(opts.result), opts.error ?? null, at, at, id);
    return this.get(id);
  }

  setResult(id: string, result: unknown): void {
    this.db.prepare('UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(result), new Date().toISOString(), id);
  }

  requestCancel(id: string): void {
    this.db.prepare('UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?').run(new Date().toISOString(), id);
  }

  /** how many jobs there are of each kind and status (only the pairs that occur) */
  countByKindAndStatus(): { kind: JobKind; status: JobStatus; count: number }[] {
    return (this.db.prepare('SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status').all() as { kind: JobKind; status: JobStatus; n: number }[])
      .map((r) => ({ kind: r.kind, status: r.status, count: r.n }));
  }
}
