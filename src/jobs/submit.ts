// Submitting a search over the service: the HTTP body becomes the search
// use case's options, the search is created (validated: dataset, device,
// target against the fastest architecture) and a job is queued for it.
// The pipeline flag chooses the job kind: 'run' (the whole `nas run`) or
// 'search' (the search alone).

import { resolveDatasetRef, type ApiDatasetRef } from '../app/datasets.ts';
import { insertRunModel, resolveRunOptions, type RunOptionsInput } from '../app/run.ts';
import { createSearch, type SearchDeps } from '../app/search.ts';
import type { Db } from '../store/db.ts';
import type { SearchRecord } from '../store/searches.ts';
import { TargetBelowFastestError } from '../search/options.ts';
import { type CreateSearchRequest, searchInputFromRequest } from '../search/request.ts';
import type { JobQueue } from './queue.ts';

/** A search to submit: the request body with its dataset parsed at the edge (parseApiDatasetRef), never re-read as text. */
export type SearchSubmission = Omit<CreateSearchRequest, 'dataset'> & { dataset: ApiDatasetRef };

export class UnprocessableError extends Error {
  readonly status = 422;
  constructor(message: string, readonly details?: unknown) {
    super(message);
    this.name = 'UnprocessableError';
  }
}

class BadSubmission extends Error {
  readonly status = 400;
}


export interface Submitted {
  search: SearchRecord;
  jobId: string;
  /** the model a pipeline job is producing */
  modelId: string | null;
}

/** The whole `nas run` over an already created search: its options, validated now rather than hours later. */
function runInput(b: SearchSubmission, search: SearchRecord): RunOptionsInput {
  const o = search.options;
  return {
    dataset: o.dataset, deviceId: o.deviceId, latencyTargetMs: o.latencyTargetMs, mode: o.mode, seed: o.seed,
    search: { strategy: o.strategy, maxTrials: o.maxTrials, w: o.w },
    ...(b.budget.maxWallTimeS !== undefined ? { budgetMinutes: b.budget.maxWallTimeS / 60 } : {}),
    // scale up only below (1 - slack) x T: a slack of 1 never scales up
    ...(b.scaleUp === false ? { scaleUpSlack: 1 } : {}),
    ...(b.formats !== undefined ? { formats: [...b.formats] } : {}),
  };
}

export async function submitSearch(db: Db, queue: JobQueue, body: SearchSubmission, owner: string, deps?: Omit<SearchDeps, 'db'>): Promise<Submitted> {
  const kind = body.pipeline ? 'run' : 'search';
  for (const k of ['scaleUp', 'formats'] as const) {
    if (body[k] !== undefined && !body.pipeline) throw new BadSubmission(`${k} applies to pipeline: true only (a search alone exports nothing)`);
  }
  if (!queue.kinds.includes(kind)) {
    throw new BadSubmission(kind === 'run' ? 'pipeline: true (the whole nas run) is not available on this server yet; submit the search alone' : 'this server runs no searches');
  }
  let search: SearchRecord;
  try {
    // an uploaded dataset (the caller's own: another key's is 404) is trained from its folder
    const input = searchInputFromRequest(body, resolveDatasetRef(db, body.dataset, owner));
    search = await createSearch(db, input, { owner, deps: { ...deps, db } });
  } catch (e) {
    // the search use case states the fastest achievable latency; over HTTP that is a 422, not a malformed body
    if (e instanceof TargetBelowFastestError) throw new UnprocessableError(e.message, { fastestLatencyMs: e.fastestLatencyMs, latencyTargetMs: e.latencyTargetMs });
    throw e;
  }
  let modelId: string | null = null;
  if (kind === 'run') {
    const options = resolveRunOptions(runInput(body, search));
    // the job's time plan (minutes per stage) is made now and stored with the model row
    modelId = (await insertRunModel(db, options, { owner, searchId: search.id, deps: { datasetOptions: deps?.datasetOptions } })).id;
  }
  const jobId = await queue.enqueue(kind, { searchId: search.id, ...(modelId ? { modelId } : {}) }, owner, { searchId: search.id });
  return { search, jobId, modelId };
}
