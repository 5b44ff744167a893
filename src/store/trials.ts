// The trials repository: one row per proposal of a search's strategy,
// UNIQUE(search, proposal id) and UNIQUE(search, seq). A trial is inserted
// 'pending' when proposed (in the same transaction as the strategy
// checkpoint that holds the proposal), goes 'running' when training starts,
// and ends succeeded | failed | skipped | cached.

import type { Decisions } from '../space/sampler.ts';
import type { Db } from './db.ts';
import { StoreError } from './db.ts';
import { json, jsonOrNull, num, numOrNull, oneOf, type Row, rowOf, text, textOrNull } from './rows.ts';

export const TRIAL_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cached'] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];
export type FinalTrialStatus = 'succeeded' | 'failed' | 'skipped' | 'cached';
export const FINAL_STATUSES: readonly FinalTrialStatus[] = ['succeeded', 'failed', 'skipped', 'cached'];

export interface TrialRecord {
  id: string;
  searchId: string;
  seq: number;
  archId: string;
  /** wire ArchSpec ({version, stem, blocks, head} as strings) */
  spec: unknown;
  decisions: Decisions;
  proposalId: string;
  status: TrialStatus;
  /** validation accuracy as the evaluator measured it (null until scored, and for failed/skipped) */
  accuracy: number | null;
  /** what scored it: 'proxy' (a short training run), 'supernet' (inherited weights) or 'predictor' (the supernet's accuracy predictor) */
  evaluator: TrialEvaluator;
  /** predicted latency on the search's device */
  latencyMs: number;
  /** fraction of kernels found in the device table */
  coverage: number;
  reward: number | null;
  macs: number;
  params: number;
  wallMs: number | null;
  error: string | null;
  reason: string | null;
  cachedFrom: string | null;
  /** validation accuracy per validated epoch */
  epochAccuracies: number[] | null;
  startedAt: string | null;
  finishedAt: string | null;
}

const T = 'trials';

export const TRIAL_EVALUATORS = ['proxy', 'supernet', 'predictor'] as const;
export type TrialEvaluator = (typeof TRIAL_EVALUATORS)[number];

function decisionsOf(v: unknown): Decisions {
  if (!Array.isArray(v) || !v.every((b) => Array.isArray(b) && b.every((x) => Number.isInteger(x)))) {
    throw new StoreError(`trials.decisions: expected an array of integer arrays`, 500);
  }
  return v as Decisions;
}

function fromRow(v: unknown): TrialRecord {
  const r: Row = rowOf(T, v);
  const epochs = jsonOrNull(T, r, 'epochs');
  if (epochs !== null && !(Array.isArray(epochs) && epochs.every((x) => typeof x === 'number'))) {
    throw new StoreError('trials.epochs: expected an array of numbers', 500);
  }
  return {
    id: text(T, r, 'id'),
    searchId: text(T, r, 'search_id'),
    seq: num(T, r, 'seq'),
    archId: text(T, r, 'arch_id'),
    spec: json(T, r, 'spec'),
    decisions: decisionsOf(json(T, r, 'decisions')),
    proposalId: text(T, r, 'proposal_id'),
    status: oneOf(T, r, 'status', TRIAL_STATUSES),
    evaluator: oneOf(T, r, 'evaluator', TRIAL_EVALUATORS),
    accuracy: numOrNull(T, r, 'accuracy'),
    latencyMs: num(T, r, 'latency_ms'),
    coverage: num(T, r, 'coverage'),
    reward: numOrNull(T, r, 'reward'),
    macs: num(T, r, 'macs'),
    params: num(T, r, 'params'),
    wallMs: numOrNull(T, r, 'wall_ms'),
    error: textOrNull(T, r, 'error'),
    reason: textOrNull(T, r, 'reason'),
    cachedFrom: textOrNull(T, r, 'cached_from'),
    epochAccuracies: epochs as number[] | null,
    startedAt: textOrNull(T, r, 'started_at'),
    finishedAt: textOrNull(T, r, 'finished_at'),
  };
}

export interface NewTrial {
  searchId: string;
  archId: string;
  spec: unknown;
  decisions: Decisions;
  proposalId: string;
  latencyMs: number;
  coverage: number;
  macs: number;
  params: number;
  evaluator: TrialEvaluator;
}

export function trialId(searchId: string, seq: number): string {
  return `${searchId}-t${String(seq).padStart(4, '0')}`;
}

/** Insert a pending trial with the next seq of its search. */
export function insertTrial(db: Db, t: NewTrial): TrialRecord {
  const row = db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM trials WHERE search_id = ?').get(t.searchId) as { m: number };
  const seq = row.m + 1;
  const id = trialId(t.searchId, seq);
  db.prepare(`INSERT INTO trials (id, search_id, seq, arch_id, spec, decisions, proposal_id, status, latency_ms, coverage, macs, params, evaluator)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`)
    .run(id, t.searchId, seq, t.archId, JSON.stringify(t.spec), JSON.stringify(t.decisions), t.proposalId, t.latencyMs, t.coverage, t.macs, t.params, t.evaluator);
  return getTrial(db, id);
}

export function getTrial(db: Db, id: string): TrialRecord {
  const row = db.prepare('SELECT * FROM trials WHERE id = ?').get(id);
  if (row === undefined) throw new StoreError(`no trial with id ${JSON.stringify(id)}`, 404);
  return fromRow(row);
}

export function listTrials(db: Db, searchId: string): TrialRecord[] {
  return db.prepare('SELECT * FROM trials WHERE search_id = ? ORDER BY seq').all(searchId).map(fromRow);
}

export function markTrialRunning(db: Db, id: string): void {
  db.prepare(`UPDATE trials SET status = 'running', started_at = ? WHERE id = ?`).run(new Date().toISOString(), id);
}

/** Trials a dead process left pending or running go back to pending (they run again, once). */
export function resetInterruptedTrials(db: Db, searchId: string): number {
  return db.prepare(`UPDATE trials SET status = 'pending', started_at = NULL WHERE search_id = ? AND status IN ('pending', 'running')`)
    .run(searchId).changes;
}

export interface TrialResultUpdate {
  status: FinalTrialStatus;
  accuracy: number | null;
  reward: number | null;
  wallMs: number | null;
  error?: string | null;
  reason?: string | null;
  cachedFrom?: string | null;
  epochAccuracies?: number[] | null;
}

export function finishTrial(db: Db, id: string, u: TrialResultUpdate): void {
  const res = db.prepare(`UPDATE trials SET status = ?, accuracy = ?, reward = ?, wall_ms = ?, error = ?, reason = ?, cached_from = ?, epochs = ?,
      finished_at = ?, started_at = COALESCE(started_at, ?) WHERE id = ? AND status IN ('pending', 'running')`)
    .run(u.status, u.accuracy, u.reward, u.wallMs, u.error ?? null, u.reason ?? null, u.cachedFrom ?? null,
      u.epochAccuracies ? JSON.stringify(u.epochAccuracies) : null, new Date().toISOString(), new Date().toISOString(), id);
  if (res.changes !== 1) throw new StoreError(`trial ${id} is not pending or running; its result was already stored`, 409);
}

export interface TrialCounts {
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cached: number;
  unfinished: number;
}

export function countTrials(db: Db, searchId: string): TrialCounts {
  const rows = db.prepare('SELECT status, COUNT(*) AS n FROM trials WHERE search_id = ? GROUP BY status').all(searchId) as { status: string; n: number }[];
  const c: TrialCounts = { total: 0, succeeded: 0, failed: 0, skipped: 0, cached: 0, unfinished: 0 };
  for (const r of rows) {
    c.total += r.n;
    if (r.status === 'pending' || r.status === 'running') c.unfinished += r.n;
    else c[r.status as FinalTrialStatus] += r.n;
  }
  return c;
}
