// Strategy checkpoints: the strategy's full JSON state (and its stats, for
// the reward curve) after every proposal batch and every observation. Only
// the latest few are kept; resume restores the latest.

import type { Db } from './db.ts';
import { json, num, rowOf, text } from './rows.ts';

export const KEEP_CHECKPOINTS = 3;

export interface StrategyCheckpoint {
  searchId: string;
  seq: number;
  state: unknown;
  stats: unknown;
  createdAt: string;
}

const T = 'strategy_checkpoints';

export function saveCheckpoint(db: Db, searchId: string, state: unknown, stats: unknown): number {
  const row = db.prepare(`SELECT COALESCE(MAX(seq), 0) AS m FROM ${T} WHERE search_id = ?`).get(searchId) as { m: number };
  const seq = row.m + 1;
  db.prepare(`INSERT INTO ${T} (search_id, seq, state, stats, created_at) VALUES (?, ?, ?, ?, ?)`)
    .run(searchId, seq, JSON.stringify(state), JSON.stringify(stats ?? null), new Date().toISOString());
  db.prepare(`DELETE FROM ${T} WHERE search_id = ? AND seq <= ?`).run(searchId, seq - KEEP_CHECKPOINTS);
  return seq;
}

export function latestCheckpoint(db: Db, searchId: string): StrategyCheckpoint | null {
  const v = db.prepare(`SELECT * FROM ${T} WHERE search_id = ? ORDER BY seq DESC LIMIT 1`).get(searchId);
  if (v === undefined) return null;
  const r = rowOf(T, v);
  return { searchId: text(T, r, 'search_id'), seq: num(T, r, 'seq'), state: json(T, r, 'state'), stats: json(T, r, 'stats'), createdAt: text(T, r, 'created_at') };
}
