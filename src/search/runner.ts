// The trial loop of one search run. Keeps up to `concurrency` trials in
// flight, each: planned from a proposal (spec, cost, predicted latency),
// stored 'pending' in the same transaction as the strategy checkpoint that
// holds the proposal, then cached (architecture seen before in this search),
// skipped (hard mode, far over target) or trained through the executor; its
// result, the strategy's observation and the next checkpoint are written in
// one transaction before any event about it is emitted. A process killed at
// any moment therefore leaves: completed trials (observed, checkpointed) and
// pending/running ones that the restored strategy still awaits; resume runs
// those again, once.

import type { LoadDatasetOptions } from '../data/registry.ts';
import type { LatencyPredictor } from '../latency/index.ts';
import { fromWire } from '../space/archspec.ts';
import type { CancelSignal, NasEvent } from '../app/events.ts';
import { now } from '../app/events.ts';
import type { Db } from '../store/db.ts';
import { saveCheckpoint } from '../store/checkpoints.ts';
import { addSearchElapsed, setSearchBest } from '../store/searches.ts';
import { countTrials, finishTrial, insertTrial, listTrials, markTrialRunning, type TrialCounts, type TrialRecord, type TrialResultUpdate } from '../store/trials.ts';
import type { TrialExecutor, TrialOutcome } from './executor.ts';
import { type SearchOptions, usesSupernet } from './options.ts';
import { SKIPPED_REWARD, skipReason, trialReward } from './reward.ts';
import type { Proposal, SearchStrategy } from './strategy.ts';
import { planTrial, type SearchSpace, trialRequest } from './trial_plan.ts';

export type StopReason = 'max-trials' | 'max-proposals' | 'wall-time' | 'max-failed-trials' | 'cancelled' | 'strategy-idle';

/**
 * The trial budget counts trials that train (succeeded, failed, and those in
 * flight): a cached repeat and a hard-mode skip cost nothing, as the issue
 * asks ("so the budget is not spent on it"). Free proposals are bounded all
 * the same: at most this many times the budget in all, so a strategy stuck
 * proposing skipped architectures ends with 'max-proposals'.
 */
export const MAX_PROPOSALS_PER_TRIAL = 50;

export interface RunnerContext {
  db: Db;
  searchId: string;
  options: SearchOptions;
  space: SearchSpace;
  strategy: SearchStrategy;
  executor: TrialExecutor;
  predictor: LatencyPredictor;
  datasetOptions?: LoadDatasetOptions;
  emit: (e: NasEvent) => void;
  cancel?: CancelSignal;
  /** wall time of earlier runs of this search */
  priorElapsedMs: number;
}

export interface RunnerResult {
  stoppedBy: StopReason;
  counts: TrialCounts;
}

interface Settled {
  trialId: string;
  status: 'succeeded' | 'failed' | 'skipped';
  accuracy: number | null;
  reward: number | null;
  error: string | null;
  epochAccuracies: number[] | null;
}

/** best first: meets the target, then higher reward */
export function betterTrial(a: { latencyMs: number; reward: number }, b: { latencyMs: number; reward: number } | null, targetMs: number): boolean {
  if (!b) return true;
  const am = a.latencyMs <= targetMs;
  const bm = b.latencyMs <= targetMs;
  return am !== bm ? am : a.reward > b.reward;
}

export class SearchRunner {
  private readonly cache = new Map<string, Promise<Settled>>();
  private readonly inflight = new Set<Promise<void>>();
  private counts: TrialCounts;
  private best: TrialRecord | null = null;
  private updates: number;
  private fatal: unknown = null;
  private readonly startedAt = performance.now();

  constructor(private readonly c: RunnerContext) {
    this.counts = countTrials(c.db, c.searchId);
    this.updates = c.strategy.stats().updates;
    for (const t of listTrials(c.db, c.searchId)) {
      if (t.status === 'succeeded' || t.status === 'failed' || t.status === 'skipped') {
        this.cache.set(t.archId, Promise.resolve({
          trialId: t.id, status: t.status, accuracy: t.accuracy, reward: t.reward, error: t.error, epochAccuracies: t.epochAccuracies,
        }));
      }
      if (t.status === 'succeeded' && t.reward !== null && betterTrial({ latencyMs: t.latencyMs, reward: t.reward }, this.bestKey(), c.options.latencyTargetMs)) this.best = t;
    }
  }

  private bestKey() {
    return this.best && this.best.reward !== null ? { latencyMs: this.best.latencyMs, reward: this.best.reward } : null;
  }

  elapsedMs(): number {
    return this.c.priorElapsedMs + (performance.now() - this.startedAt);
  }

  /** trials that count against the budget: every trial but cached repeats and skips (unfinished ones counted until they settle) */
  private spent(): number {
    return this.counts.total - this.counts.cached - this.counts.skipped;
  }

  /** proposals allowed in all: the search's maxProposals, else 50 per budgeted trial */
  private proposalCap(): number {
    const o = this.c.options;
    return o.maxProposals ?? o.maxTrials * MAX_PROPOSALS_PER_TRIAL;
  }

  private room(): number {
    return Math.min(this.c.options.maxTrials - this.spent(), this.proposalCap() - this.counts.total);
  }

  private stopReason(): StopReason | null {
    const o = this.c.options;
    if (this.c.cancel?.cancelled) return 'cancelled';
    if (this.counts.succeeded + this.counts.failed >= o.maxTrials) return 'max-trials';
    if (this.counts.total >= this.proposalCap()) return 'max-proposals';
    if (o.maxFailedTrials !== null && this.counts.failed >= o.maxFailedTrials) return 'max-failed-trials';
    if (o.maxWallMs !== null && this.elapsedMs() >= o.maxWallMs) return 'wall-time';
    return null;
  }

  async run(): Promise<RunnerResult> {
    // trials a killed run left behind: the restored strategy still awaits them
    for (const t of listTrials(this.c.db, this.c.searchId)) if (t.status === 'pending' || t.status === 'running') this.start(t);
    const concurrency = Math.max(1, this.c.executor.concurrency);
    let stoppedBy: StopReason | null = null;
    for (;;) {
      if (this.fatal) break;
      stoppedBy = this.stopReason();
      if (stoppedBy === null) {
        const room = Math.min(concurrency - this.inflight.size, this.room());
        if (room > 0) {
          const proposals = this.c.strategy.propose(room).slice(0, room);
          if (proposals.length > 0) for (const t of this.persistProposals(proposals)) this.start(t);
          else if (this.inflight.size === 0) stoppedBy = 'strategy-idle';
        }
      }
      if (this.inflight.size === 0) break;
      await Promise.race(this.inflight);
    }
    await Promise.allSettled([...this.inflight]);
    addSearchElapsed(this.c.db, this.c.searchId, this.elapsedMs());
    if (this.fatal) throw this.fatal;
    return { stoppedBy: stoppedBy ?? this.stopReason() ?? 'strategy-idle', counts: countTrials(this.c.db, this.c.searchId) };
  }

  private persistProposals(proposals: Proposal[]): TrialRecord[] {
    const planned = proposals.map((p) => planTrial(this.c.searchId, p, this.c.space, this.c.predictor, this.c.options.evaluator));
    const s = this.c.strategy;
    const rows = this.c.db.transaction(() => {
      const out = planned.map((p) => insertTrial(this.c.db, p));
      saveCheckpoint(this.c.db, this.c.searchId, s.getState(), s.stats());
      return out;
    })();
    this.counts.total += rows.length;
    this.counts.unfinished += rows.length;
    return rows;
  }

  private start(t: TrialRecord): void {
    const p: Promise<void> = this.dispatch(t)
      .catch((e) => { this.fatal ??= e; })
      .finally(() => { this.inflight.delete(p); });
    this.inflight.add(p);
  }

  private async dispatch(t: TrialRecord): Promise<void> {
    const o = this.c.options;
    const seen = this.cache.get(t.archId);
    if (seen) {
      const orig = await seen;
      await Promise.resolve();
      this.finalize(t, {
        status: 'cached', accuracy: orig.accuracy, reward: orig.reward, wallMs: 0, cachedFrom: orig.trialId,
        error: orig.error, reason: `architecture ${t.archId} already evaluated in trial ${orig.trialId}`, epochAccuracies: orig.epochAccuracies,
      }, orig.status === 'succeeded');
      return;
    }
    let settle!: (s: Settled) => void;
    this.cache.set(t.archId, new Promise<Settled>((r) => { settle = r; }));
    try {
      await this.evaluate(t, settle);
    } catch (e) {
      settle({ trialId: t.id, status: 'failed', accuracy: null, reward: null, error: `internal: ${(e as Error)?.message ?? e}`, epochAccuracies: null });
      throw e;
    }
  }

  private async evaluate(t: TrialRecord, settle: (s: Settled) => void): Promise<void> {
    const o = this.c.options;
    // a supernet (or its predictor) scores any candidate in a second or less: nothing needs skipping
    const reason = usesSupernet(o.evaluator) ? null : skipReason(t.latencyMs, o);
    if (reason !== null) {
      await Promise.resolve();
      this.finalize(t, { status: 'skipped', accuracy: null, reward: SKIPPED_REWARD, wallMs: 0, reason });
      settle({ trialId: t.id, status: 'skipped', accuracy: null, reward: SKIPPED_REWARD, error: null, epochAccuracies: null });
      return;
    }
    markTrialRunning(this.c.db, t.id);
    this.c.emit({ type: 'trial-started', searchId: this.c.searchId, trialId: t.id, archId: t.archId, at: now() });
    const request = trialRequest(t.id, fromWire(t.spec), o, this.c.datasetOptions);
    let outcome: TrialOutcome;
    try {
      outcome = await this.c.executor.run(request);
    } catch (e) {
      outcome = { ok: false, id: t.id, workerPid: 0, wallMs: 0, kind: 'error', error: { name: 'ExecutorError', message: (e as Error)?.message ?? String(e) } };
    }
    let s: Settled;
    if (outcome.ok) {
      const acc = outcome.result.valAccuracy;
      const epochAccuracies = outcome.result.epochs.map((e) => e.valAccuracy).filter((v) => Number.isFinite(v));
      s = { trialId: t.id, status: 'succeeded', accuracy: acc, reward: trialReward(acc, t.latencyMs, t.macs, o), error: null, epochAccuracies };
    } else {
      s = { trialId: t.id, status: 'failed', accuracy: null, reward: null, error: `${outcome.kind}: ${outcome.error.message}`, epochAccuracies: null };
    }
    this.finalize(t, { status: s.status, accuracy: s.accuracy, reward: s.reward, wallMs: outcome.wallMs, error: s.error, epochAccuracies: s.epochAccuracies });
    settle(s);
  }

  /** result + observation + checkpoint in one transaction, then the events */
  private finalize(t: TrialRecord, u: TrialResultUpdate, scored = true): void {
    const { db, searchId, strategy, options } = this.c;
    strategy.observe({ proposalId: t.proposalId, reward: u.status === 'failed' || u.reward === null ? null : u.reward, scored: u.status !== 'skipped' && scored });
    const stats = strategy.stats();
    const isNewBest = u.status === 'succeeded' && u.reward !== null && betterTrial({ latencyMs: t.latencyMs, reward: u.reward }, this.bestKey(), options.latencyTargetMs);
    db.transaction(() => {
      finishTrial(db, t.id, u);
      saveCheckpoint(db, searchId, strategy.getState(), stats);
      addSearchElapsed(db, searchId, this.elapsedMs());
      if (isNewBest) setSearchBest(db, searchId, t.id);
    })();
    this.counts.unfinished--;
    this.counts[u.status]++;
    const at = now();
    this.c.emit({
      type: 'trial-finished', searchId, trialId: t.id, archId: t.archId, status: u.status, accuracy: u.accuracy, latencyMs: t.latencyMs,
      reward: u.reward, ...(u.error ? { error: u.error } : {}), trialsDone: this.counts.total - this.counts.unfinished, cacheHits: this.counts.cached, at,
    });
    if (isNewBest) {
      this.best = { ...t, status: 'succeeded', accuracy: u.accuracy, reward: u.reward };
      this.c.emit({ type: 'best-changed', searchId, trialId: t.id, archId: t.archId, accuracy: u.accuracy!, latencyMs: t.latencyMs, reward: u.reward!, at });
    }
    for (; this.updates < stats.updates; this.updates++) {
      this.c.emit({ type: 'controller-updated', searchId, update: this.updates + 1, meanReward: stats.rewardCurve[this.updates] ?? NaN, at });
    }
  }
}
