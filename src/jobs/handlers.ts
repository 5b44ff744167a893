// What each kind of job runs: the same use-case functions the CLI calls,
// with the service's store and data directory. A 'search' job runs a stored
// search (resumeSearch's path after an interruption); a 'run' job is the
// whole `nas run` (search, refine, train, export).

import { join } from 'node:path';
import { runStoredModel } from '../app/run.ts';
import { runStoredSearch, type SearchDeps } from '../app/search.ts';
import { runStoredSupernet } from '../app/supernet.ts';
import type { Db } from '../store/db.ts';
import { getModel } from '../store/models.ts';
import { findSearch } from '../store/searches.ts';
import { now } from '../app/events.ts';
import type { JobHandler, JobHandlers, JobOutcome } from './queue.ts';

/** What a search or run job's payload holds (validated when enqueued). */
export interface SearchJobPayload {
  searchId: string;
  /** run jobs: the model being produced */
  modelId?: string;
}

export interface HandlerEnv {
  db: Db;
  dataDir: string;
  /** overrides for tests (executor, strategy factory) */
  deps?: Omit<SearchDeps, 'db'>;
}

function payloadOf(job: { payload: unknown; searchId: string | null }): SearchJobPayload {
  const p = job.payload as Partial<SearchJobPayload> | null;
  const searchId = p?.searchId ?? job.searchId;
  if (typeof searchId !== 'string' || searchId === '') throw new Error('job payload has no searchId');
  return { searchId, ...(typeof p?.modelId === 'string' ? { modelId: p.modelId } : {}) };
}

export function searchHandler(env: HandlerEnv): JobHandler {
  const deps: SearchDeps = { datasetOptions: { cacheDir: join(env.dataDir, 'datasets') }, ...env.deps, db: env.db };
  return async (job, { onEvent, cancel, resume }): Promise<JobOutcome> => {
    const { searchId } = payloadOf(job);
    const s = findSearch(env.db, searchId);
    if (!s) throw new Error(`search ${searchId} no longer exists`);
    if (s.status === 'succeeded') {
      // it finished before the process stopped, only the job row was not updated
      onEvent({ type: 'done', searchId, status: 'succeeded', bestTrialId: s.bestTrialId, at: now() });
      return { status: 'succeeded', result: { searchId, bestTrialId: s.bestTrialId } };
    }
    const r = await runStoredSearch(env.db, searchId, { onEvent, cancel, deps }, resume);
    const result = { searchId, stoppedBy: r.stoppedBy, bestTrialId: r.report.best?.id ?? null, trials: r.report.counts.total };
    return r.status === 'failed' ? { status: 'failed', error: r.error ?? 'search failed', result } : { status: r.status, result };
  };
}

/** The whole `nas run` for a search created by the service, its model row made beside it (runStoredModel resumes at its stage). */
export function runHandler(env: HandlerEnv): JobHandler {
  const searchDeps: SearchDeps = { datasetOptions: { cacheDir: join(env.dataDir, 'datasets') }, ...env.deps, db: env.db };
  return async (job, { onEvent, cancel }): Promise<JobOutcome> => {
    const { searchId, modelId } = payloadOf(job);
    if (!modelId) throw new Error('run job payload has no modelId');
    const m = getModel(env.db, modelId);
    if (m.status === 'succeeded') {
      onEvent({ type: 'done', searchId, status: 'succeeded', bestTrialId: null, modelId, at: now() });
      return { status: 'succeeded', result: { searchId, modelId } };
    }
    const r = await runStoredModel(env.db, modelId, {
      onEvent, cancel,
      deps: { db: env.db, datasetOptions: searchDeps.datasetOptions, search: searchDeps, outDir: join(env.dataDir, 'out', 'models') },
    });
    const result = { searchId, modelId, stage: r.stage, metTarget: r.metTarget, measuredLatencyMs: r.measuredLatencyMs, predictedLatencyMs: r.predictedLatencyMs };
    // a cancelled run's message names the stage it stopped in and the checkpoints kept
    return r.status === 'succeeded' ? { status: r.status, result } : { status: r.status, error: r.error ?? `run ${r.status}`, result };
  };
}

/** Training a supernet (POST /v1/supernets): the supernet use case on the stored row; a crashed attempt resumes at its last checkpoint. */
export function supernetHandler(env: HandlerEnv): JobHandler {
  const datasetOptions = { cacheDir: join(env.dataDir, 'datasets') };
  return async (job, { onEvent, cancel }): Promise<JobOutcome> => {
    const p = job.payload as { supernetId?: unknown } | null;
    if (typeof p?.supernetId !== 'string') throw new Error('supernet job payload has no supernetId');
    const r = await runStoredSupernet(env.db, p.supernetId, { onEvent, cancel, deps: { db: env.db, datasetOptions } });
    const result = { supernetId: r.supernetId, step: r.step, totalSteps: r.totalSteps };
    return r.status === 'failed' ? { status: 'failed', error: r.error ?? 'supernet training failed', result } : { status: r.status, result };
  };
}

/** The handlers of the service's queue. */
export function serviceHandlers(env: HandlerEnv): JobHandlers {
  return { search: searchHandler(env), run: runHandler(env), supernet: supernetHandler(env) };
}
