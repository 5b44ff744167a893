// What each kind of job runs: the same use-case functions the CLI calls,
// with the service's store and data directory. A 'search' job runs a stored
// search (resumeSearch's path after an interruption); a 'run' job is the
// whole `nas run` pipeline (search, refine, train, export).

import { join } from 'node:path';
import { runStoredSearch, type SearchDeps } from '../app/search.ts';
import type { Db } from '../store/db.ts';
import { findSearch } from '../store/searches.ts';
import { now } from '../app/events.ts';
import type { JobHandler, JobHandlers, JobOutcome } from './queue.ts';

/** What a search or run job's payload holds (validated when enqueued). */
export interface SearchJobPayload {
  searchId: string;
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
  return { searchId };
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

/** The handlers of the service's queue. */
export function serviceHandlers(env: HandlerEnv): JobHandlers {
  return { search: searchHandler(env) };
}
