// A search's results from the store alone: counts, the best architecture
// meeting the target, the Pareto front (accuracy up, predicted latency
// down) and the reward curve per strategy update. The CLI's `search show`,
// the HTTP API and the dashboard read this.

import { latestCheckpoint } from '../store/checkpoints.ts';
import type { Db } from '../store/db.ts';
import { getSearch, type SearchRecord } from '../store/searches.ts';
import { countTrials, listTrials, type TrialCounts, type TrialRecord } from '../store/trials.ts';

export interface SearchReport {
  search: SearchRecord;
  counts: TrialCounts;
  trials: TrialRecord[];
  /** the highest-reward trained trial within the target, else the highest-reward trained trial */
  best: TrialRecord | null;
  bestMeetsTarget: boolean;
  /** trained trials no other trained trial beats on both accuracy and latency, by latency */
  pareto: TrialRecord[];
  /** mean reward per strategy update, in order */
  rewardCurve: number[];
}

/** Non-dominated points: no other point is at least as accurate and at least as fast, and strictly better in one. */
export function paretoFront<T extends { accuracy: number | null; latencyMs: number }>(points: T[]): T[] {
  const pts = points.filter((p): p is T & { accuracy: number } => p.accuracy !== null);
  const front = pts.filter((p) => !pts.some((q) =>
    q !== p && q.accuracy >= p.accuracy && q.latencyMs <= p.latencyMs && (q.accuracy > p.accuracy || q.latencyMs < p.latencyMs)));
  // identical points: keep the first
  const seen = new Set<string>();
  return front
    .filter((p) => {
      const k = `${p.accuracy}|${p.latencyMs}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.latencyMs - b.latencyMs);
}

function rewardCurveOf(stats: unknown): number[] {
  const c = (stats as { rewardCurve?: unknown } | null)?.rewardCurve;
  return Array.isArray(c) ? c.filter((x): x is number => typeof x === 'number') : [];
}

export function getSearchReport(db: Db, searchId: string): SearchReport {
  const search = getSearch(db, searchId);
  const trials = listTrials(db, searchId);
  const trained = trials.filter((t) => t.status === 'succeeded' && t.accuracy !== null && t.reward !== null);
  const T = search.options.latencyTargetMs;
  let best: TrialRecord | null = null;
  for (const t of trained) {
    if (!best) { best = t; continue; }
    const tm = t.latencyMs <= T;
    const bm = best.latencyMs <= T;
    if (tm !== bm ? tm : t.reward! > best.reward!) best = t;
  }
  return {
    search,
    counts: countTrials(db, searchId),
    trials,
    best,
    bestMeetsTarget: best !== null && best.latencyMs <= T,
    pareto: paretoFront(trained),
    rewardCurve: rewardCurveOf(latestCheckpoint(db, searchId)?.stats ?? null),
  };
}
