// Submitting work over the service: the HTTP body becomes the use case's
// options, the row is created (validated) and a job is queued for it. A
// search (validated: dataset, device, target against the fastest
// architecture, a trained supernet when it scores with one): the `run` flag
// (its deprecated old name: `pipeline`) chooses the job kind, 'run' (the
// whole `nas run`) or 'search' (the search alone). A supernet: its
// training, a 'supernet' job.

import { resolveDatasetRef, type ApiDatasetRef } from '../app/datasets.ts';
import { insertRunModel, resolveRunOptions, type RunOptionsInput } from '../app/run.ts';
import { createSearch, type SearchDeps } from '../app/search.ts';
import type { Db } from '../store/db.ts';
import type { SearchRecord } from '../store/searches.ts';
import { TargetBelowFastestError } from '../search/options.ts';
import { type CreateSearchRequest, searchInputFromRequest } from '../search/request.ts';
import type { JobQueue } from './queue.ts';
import { createSupernet, resolveSupernetOptions, supernetDatasetShape, type SupernetDeps, type SupernetOptionsInput, unfinishedSupernetFor } from '../app/supernet.ts';
import type { components } from '../http/api-types.ts';
import { JobsRepo } from '../store/jobs.ts';
import { getSupernet, type SupernetRecord, updateSupernet } from '../store/supernets.ts';

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
  /** the model a whole run's job is producing */
  modelId: string | null;
}

/** The whole `nas run` over an already created search: its options, validated now rather than hours later. */
function runInput(b: SearchSubmission, search: SearchRecord): RunOptionsInput {
  const o = search.options;
  return {
    dataset: o.dataset, deviceId: o.deviceId, latencyTargetMs: o.latencyTargetMs, mode: o.mode, seed: o.seed,
    search: { strategy: o.strategy, maxTrials: o.maxTrials, w: o.w, evaluator: o.evaluator, supernetId: o.supernetId },
    ...(b.budget.maxWallTimeS !== undefined ? { budgetMinutes: b.budget.maxWallTimeS / 60 } : {}),
    // scale up only below (1 - slack) x T: a slack of 1 never scales up
    ...(b.scaleUp === false ? { scaleUpSlack: 1 } : {}),
    ...(b.formats !== undefined ? { formats: [...b.formats] } : {}),
  };
}

/** Whether the request asks for the whole `nas run`: `run`, or its deprecated old name `pipeline` (both given: they must agree). */
function wantsWholeRun(b: Pick<CreateSearchRequest, 'run' | 'pipeline'>): boolean {
  if (b.run !== undefined && b.pipeline !== undefined && b.run !== b.pipeline) {
    throw new BadSubmission(`run: ${b.run} and pipeline: ${b.pipeline} disagree; pipeline is the deprecated name of run: send run alone`);
  }
  return b.run ?? b.pipeline ?? false;
}

export async function submitSearch(db: Db, queue: JobQueue, body: SearchSubmission, owner: string, deps?: Omit<SearchDeps, 'db'>): Promise<Submitted> {
  const whole = wantsWholeRun(body);
  const kind = whole ? 'run' : 'search';
  for (const k of ['scaleUp', 'formats'] as const) {
    if (body[k] !== undefined && !whole) throw new BadSubmission(`${k} applies to run: true only (a search alone exports nothing)`);
  }
  if (!queue.kinds.includes(kind)) {
    throw new BadSubmission(kind === 'run' ? 'run: true (the whole nas run) is not available on this server yet; submit the search alone' : 'this server runs no searches');
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

/** A supernet to train: the request body with its dataset parsed at the edge. */
export type SupernetSubmission = Omit<components['schemas']['CreateSupernetRequest'], 'dataset'> & { dataset: ApiDatasetRef };

export interface SupernetSubmitted {
  supernet: SupernetRecord;
  jobId: string;
  /** true when an interrupted supernet of the dataset was continued instead of starting a new one */
  resumed: boolean;
}

/**
 * Queue the training of a supernet. An unfinished supernet of the same
 * dataset and training options the caller may use is continued (its job,
 * when one is still queued or running, is returned as is: submitting twice
 * trains once); different options start a new supernet.
 */
export async function submitSupernet(db: Db, queue: JobQueue, body: SupernetSubmission, owner: string, deps?: SupernetDeps): Promise<SupernetSubmitted> {
  if (!queue.kinds.includes('supernet')) throw new BadSubmission('this server trains no supernets');
  const dataset = resolveDatasetRef(db, body.dataset, owner);
  const input: SupernetOptionsInput = { dataset, minutes: body.minutes, steps: body.steps, seed: body.seed, recipe: body.recipe, predictorSamples: body.predictorSamples, initFrom: body.initFrom };
  const options = resolveSupernetOptions(input); // a bad option is a 400 before any row or job exists
  const shape = await supernetDatasetShape(dataset, deps);
  const unfinished = unfinishedSupernetFor(db, { dataset, input: shape, owner, options });
  const jobs = new JobsRepo(db);
  if (unfinished) {
    const live = jobs.bySearch(unfinished.id);
    if (live && (live.status === 'queued' || live.status === 'running')) return { supernet: unfinished, jobId: live.id, resumed: true };
    updateSupernet(db, unfinished.id, { status: 'queued', error: null });
  }
  const supernet = unfinished ?? await createSupernet(db, input, { owner, deps });
  const jobId = await queue.enqueue('supernet', { supernetId: supernet.id }, owner, { searchId: supernet.id });
  return { supernet: getSupernet(db, supernet.id), jobId, resumed: unfinished !== null };
}
