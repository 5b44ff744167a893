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
import { type SearchOptionsInput, TargetBelowFastestError } from '../search/options.ts';
import type { JobQueue } from './queue.ts';

/** The body of POST /v1/searches (api/openapi.json CreateSearchRequest). */
export interface CreateSearchBody {
  dataset: string;
  deviceId: string;
  latencyTargetMs: number;
  objective?: 'soft' | 'hard';
  w?: number;
  strategy?: 'rl' | 'random' | 'evolution';
  budget: { maxTrials: number; maxParallelTrials?: number; maxFailedTrials?: number; maxWallTimeS?: number };
  input?: string;
  seed?: number;
  proxy?: Record<string, unknown>;
  pipeline?: boolean;
  scaleUp?: boolean;
  formats?: ('tflite' | 'tflite-int8' | 'tfjs')[];
}

/** A search to submit: the request body with its dataset parsed at the edge (parseApiDatasetRef), never re-read as text. */
export type SearchSubmission = Omit<CreateSearchBody, 'dataset'> & { dataset: ApiDatasetRef };

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

/** The search use case's options of a submission; `dataset` is the data layer's name of the resolved reference. */
export function toSearchInput(b: SearchSubmission, dataset: string): SearchOptionsInput {
  const proxy = { ...(b.proxy ?? {}) } as SearchOptionsInput['proxy'] & Record<string, unknown>;
  if (b.input !== undefined) {
    const [h, w] = b.input.split('x').map(Number);
    if (h !== w) throw new BadSubmission(`input ${b.input}: only square training inputs are supported (the proxy resolution)`);
    proxy.resolution = h;
  }
  return {
    dataset, deviceId: b.deviceId, latencyTargetMs: b.latencyTargetMs,
    ...(b.objective !== undefined ? { mode: b.objective } : {}),
    ...(b.w !== undefined ? { w: b.w } : {}),
    ...(b.strategy !== undefined ? { strategy: b.strategy } : {}),
    maxTrials: b.budget.maxTrials,
    ...(b.budget.maxParallelTrials !== undefined ? { maxParallelTrials: b.budget.maxParallelTrials } : {}),
    ...(b.budget.maxFailedTrials !== undefined ? { maxFailedTrials: b.budget.maxFailedTrials } : {}),
    ...(b.budget.maxWallTimeS !== undefined ? { maxWallMs: b.budget.maxWallTimeS * 1000 } : {}),
    ...(b.seed !== undefined ? { seed: b.seed } : {}),
    proxy,
  };
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
    const input = toSearchInput(body, resolveDatasetRef(db, body.dataset, owner));
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
