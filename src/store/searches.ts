// The searches repository: one row per search (queued -> running ->
// succeeded | failed | cancelled), its validated options and its outcome.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseStoredOptions, type SearchOptions } from '../search/options.ts';
import { type Db, StoreError } from './db.ts';
import { json, num, oneOf, type Row, rowOf, text, textOrNull } from './rows.ts';

export const SEARCH_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type SearchStatus = (typeof SEARCH_STATUSES)[number];

export interface SearchRecord {
  id: string;
  owner: string | null;
  status: SearchStatus;
  options: SearchOptions;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
  bestTrialId: string | null;
  /** wall time spent running, summed over runs */
  elapsedMs: number;
  /** "<host>:<pid>" of the process running it, null when none */
  runner: string | null;
}

const T = 'searches';

function fromRow(v: unknown): SearchRecord {
  const r: Row = rowOf(T, v);
  return {
    id: text(T, r, 'id'),
    owner: textOrNull(T, r, 'owner'),
    status: oneOf(T, r, 'status', SEARCH_STATUSES),
    options: parseStoredOptions(json(T, r, 'options')),
    createdAt: text(T, r, 'created_at'),
    updatedAt: text(T, r, 'updated_at'),
    finishedAt: textOrNull(T, r, 'finished_at'),
    error: textOrNull(T, r, 'error'),
    bestTrialId: textOrNull(T, r, 'best_trial_id'),
    elapsedMs: num(T, r, 'elapsed_ms'),
    runner: textOrNull(T, r, 'runner'),
  };
}

export function newSearchId(): string {
  return `s-${randomBytes(6).toString('hex')}`;
}

const iso = () => new Date().toISOString();

export function insertSearch(db: Db, options: SearchOptions, owner: string | null = null, id = newSearchId()): SearchRecord {
  const t = iso();
  db.prepare(`INSERT INTO searches (id, owner, status, options, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?)`)
    .run(id, owner, JSON.stringify(options), t, t);
  return getSearch(db, id);
}

export function findSearch(db: Db, id: string): SearchRecord | null {
  const row = db.prepare('SELECT * FROM searches WHERE id = ?').get(id);
  return row === undefined ? null : fromRow(row);
}

/** The search, or a 404 StoreError naming the id. */
export function getSearch(db: Db, id: string): SearchRecord {
  const s = findSearch(db, id);
  if (!s) throw new StoreError(`no search with id ${JSON.stringify(id)}`, 404);
  return s;
}

export interface ListSearchesOptions {
  owner?: string;
  status?: SearchStatus;
  limit?: number;
}

export function listSearches(db: Db, o: ListSearchesOptions = {}): SearchRecord[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (o.owner !== undefined) { where.push('owner = ?'); args.push(o.owner); }
  if (o.status !== undefined) { where.push('status = ?'); args.push(o.status); }
  const sql = `SELECT * FROM searches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ?`;
  return db.prepare(sql).all(...args, o.limit ?? 1000).map(fromRow);
}

/** This process: the runner id stored while it runs a search. */
export function thisRunner(): string {
  return `${hostname()}:${process.pid}`;
}

/** Whether a runner id names a live process other than this one on this host (other hosts: assumed alive). */
export function runnerAlive(runner: string | null): boolean {
  if (runner === null) return false;
  const i = runner.lastIndexOf(':');
  const host = runner.slice(0, i);
  const pid = Number(runner.slice(i + 1));
  if (host !== hostname()) return true;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claim a search for this process (status running). Refused (409) while
 * another live process runs it; a dead runner's claim (crash, kill -9) is taken over.
 */
export function claimSearch(db: Db, id: string): void {
  db.transaction(() => {
    const s = getSearch(db, id);
    if (s.status === 'running' && runnerAlive(s.runner)) {
      throw new StoreError(`search ${id} is being run by process ${s.runner}; wait for it or cancel it first`, 409);
    }
    db.prepare(`UPDATE searches SET status = 'running', runner = ?, updated_at = ?, finished_at = NULL, error = NULL WHERE id = ?`).run(thisRunner(), iso(), id);
  }).immediate();
}

export function markSearchRunning(db: Db, id: string): void {
  db.prepare(`UPDATE searches SET status = 'running', updated_at = ?, finished_at = NULL, error = NULL WHERE id = ?`).run(iso(), id);
}

export function addSearchElapsed(db: Db, id: string, elapsedMs: number): void {
  db.prepare('UPDATE searches SET elapsed_ms = ?, updated_at = ? WHERE id = ?').run(elapsedMs, iso(), id);
}

export function setSearchBest(db: Db, id: string, trialId: string | null): void {
  db.prepare('UPDATE searches SET best_trial_id = ?, updated_at = ? WHERE id = ?').run(trialId, iso(), id);
}

export function finishSearch(db: Db, id: string, status: 'succeeded' | 'failed' | 'cancelled', error: string | null = null): void {
  const t = iso();
  db.prepare('UPDATE searches SET status = ?, error = ?, updated_at = ?, finished_at = ?, runner = NULL WHERE id = ?').run(status, error, t, t, id);
}

/** Searches left 'running' by a process that died (a job runner resumes them). */
export function runningSearchIds(db: Db): string[] {
  return db.prepare(`SELECT id FROM searches WHERE status = 'running' ORDER BY created_at`).all()
    .map((r) => text(T, rowOf(T, r), 'id'));
}

