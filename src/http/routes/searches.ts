// Searches over HTTP: POST /v1/searches (queued as a job; 202 + Location),
// GET /v1/searches (the caller's), GET /v1/searches/{id} (status, progress,
// best, Pareto front, reward curve, trials), GET /v1/searches/{id}/events
// (Server-Sent Events: the state, then live events), POST
// /v1/searches/{id}/cancel. Another key's search answers 404. The JSON views
// are built from the store (searches, trials, jobs, models) in one place.

import type { Request, RequestHandler, Router } from 'express';
import { jobQueueOf } from '../../jobs/queue.ts';
import { apiDatasetName, parseApiDatasetRef } from '../../app/datasets.ts';
import { submitSearch, UnprocessableError } from '../../jobs/submit.ts';
import type { Db } from '../../store/db.ts';
import { JobsRepo, TERMINAL_STATUSES, type JobRecord, type JobStatus } from '../../store/jobs.ts';
import { findSearch, listSearches, SEARCH_STATUSES, type SearchRecord, type SearchStatus } from '../../store/searches.ts';
import { findModel, getModel, latestModelOfSearch } from '../../store/models.ts';
import type { TrialRecord } from '../../store/trials.ts';
import { getSearchReport } from '../../search/report.ts';
import type { SearchOptions } from '../../search/options.ts';
import { type CreateSearchRequest, searchRequestFromOptions } from '../../search/request.ts';
import type { components } from '../api-types.ts';
import { authOf, requireKey, requireOwned } from '../auth.ts';
import { jsonBody } from '../body.ts';
import type { AppContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { streamSearch, tokenFromQuery } from '../sse.ts';
import { validateBody } from '../validate.ts';

export type TrialView = components['schemas']['Trial'];

function trialView(t: TrialRecord): TrialView {
  return {
    id: t.id, seq: t.seq, archId: t.archId, status: t.status, evaluator: t.evaluator, accuracy: t.accuracy, latencyMs: t.latencyMs,
    coverage: t.coverage, reward: t.reward, macs: t.macs, params: t.params, error: t.error, reason: t.reason,
  };
}

/** The stored options in the request's shape (CreateSearchRequest): an uploaded dataset as `dataset:<id>`, never its folder. */
function optionsView(db: Db, o: SearchOptions, wholeRun: boolean, runOptions: Pick<CreateSearchRequest, 'scaleUp' | 'formats'>): CreateSearchRequest {
  return { ...searchRequestFromOptions(o), dataset: apiDatasetName(db, o.dataset), run: wholeRun, ...runOptions };
}

/**
 * The overall status: a whole run's job outlives its search stage, so its
 * job's status is the answer; a plain search's row is, unless its job ended
 * without the search getting to record it (e.g. it failed before starting).
 */
function overallStatus(s: SearchRecord, job: JobRecord | undefined): SearchStatus {
  if (!job) return s.status;
  const terminal = (st: JobStatus | SearchStatus) => (TERMINAL_STATUSES as readonly string[]).includes(st);
  if (job.kind === 'run') return job.status;
  if (terminal(job.status) && !terminal(s.status)) return job.status;
  return s.status;
}

/** a whole run's options as the request gave them: scaleUp, formats */
function runOptionsView(db: Db, modelId: string | undefined): Pick<CreateSearchRequest, 'scaleUp' | 'formats'> {
  if (!modelId) return {};
  const o = (findModel(db, modelId)?.options ?? {}) as { scaleUpSlack?: unknown; formats?: unknown };
  return {
    ...(typeof o.scaleUpSlack === 'number' ? { scaleUp: o.scaleUpSlack < 1 } : {}),
    ...(Array.isArray(o.formats) ? { formats: o.formats as CreateSearchRequest['formats'] } : {}),
  };
}

export function searchView(db: Db, s: SearchRecord, opts: { trials: boolean }): components['schemas']['Search'] {
  const jobs = new JobsRepo(db);
  const job = jobs.bySearch(s.id);
  const report = getSearchReport(db, s.id);
  const model = latestModelOfSearch(db, s.id);
  const status = overallStatus(s, job);
  const wholeRun = job?.kind === 'run';
  const c = report.counts;
  const stage = model?.stage ?? (status === 'queued' ? 'queued' : status === 'running' ? 'search' : status === 'succeeded' ? 'done' : null);
  return {
    id: s.id,
    status,
    stage,
    run: wholeRun,
    options: optionsView(db, s.options, wholeRun, wholeRun ? runOptionsView(db, model?.id) : {}),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    finishedAt: job?.kind === 'run' ? job.finishedAt : s.finishedAt,
    error: job?.error ?? s.error,
    trialsDone: c.total - c.unfinished,
    progress: { trialsDone: c.total - c.unfinished, trialsBudget: s.options.maxTrials, succeeded: c.succeeded, failedTrials: c.failed, skipped: c.skipped, cached: c.cached, running: c.unfinished },
    best: report.best ? trialView(report.best) : null,
    bestMeetsTarget: report.bestMeetsTarget,
    pareto: report.pareto.map((t) => t.id),
    rewardCurve: report.rewardCurve,
    modelId: model?.status === 'succeeded' ? model.id : null,
    // a whole run's time plan: minutes per stage (planned at submission), minutes spent, cuts made (src/app/run-budget.ts)
    plan: (model ? getModel(db, model.id).plan ?? null : null) as components['schemas']['RunPlan'] | null,
    jobId: job?.id ?? null,
    attempts: job?.attempts ?? 0,
    ...(opts.trials ? { trials: report.trials.map(trialView) } : {}),
  };
}

export type SearchView = ReturnType<typeof searchView>;

function ownedSearch(db: Db, req: Request): SearchRecord {
  const id = req.params.id as string;
  return requireOwned(findSearch(db, id), req, 'search', id, (s) => s.owner);
}

export function register(router: Router, ctx: AppContext): void {
  const auth = requireKey(ctx.db);

  router.post('/v1/searches', auth, ...jsonBody(ctx.limits.jsonBytes), validateBody('CreateSearchRequest'), async (req, res) => {
    try {
      const body = req.body as CreateSearchRequest;
      // the dataset is parsed once, here, into a typed reference (a built-in set or one of the caller's uploads)
      const { search } = await submitSearch(ctx.db, jobQueueOf(ctx), { ...body, dataset: parseApiDatasetRef(body.dataset) }, authOf(req).id);
      res.status(202).location(`/v1/searches/${search.id}`).json(searchView(ctx.db, findSearch(ctx.db, search.id)!, { trials: false }));
    } catch (e) {
      if (e instanceof UnprocessableError) throw new ApiError(422, 'unprocessable', e.message, e.details);
      throw e;
    }
  });

  router.get('/v1/searches', auth, (req, res) => {
    const status = req.query.status;
    if (status !== undefined && !(SEARCH_STATUSES as readonly unknown[]).includes(status)) {
      throw new ApiError(400, 'invalid_request', `query status must be one of ${SEARCH_STATUSES.join(', ')}`);
    }
    // filtered on the overall status (a whole run's job may still run after its search stage)
    const items = listSearches(ctx.db, { owner: authOf(req).id }).map((s) => searchView(ctx.db, s, { trials: false }));
    res.json({ items: status === undefined ? items : items.filter((s) => s.status === status) });
  });

  router.get('/v1/searches/:id', auth, (req, res) => {
    res.json(searchView(ctx.db, ownedSearch(ctx.db, req), { trials: true }));
  });

  router.get('/v1/searches/:id/events', tokenFromQuery, auth, async (req, res) => {
    const s = ownedSearch(ctx.db, req);
    const queue = jobQueueOf(ctx);
    await streamSearch(req, res, {
      bus: queue.events,
      key: s.id,
      snapshot: () => searchView(ctx.db, findSearch(ctx.db, s.id)!, { trials: true }),
      isFinal: (v) => (TERMINAL_STATUSES as readonly string[]).includes(v.status),
    });
  });

  router.post('/v1/searches/:id/cancel', auth, async (req, res) => {
    const s = ownedSearch(ctx.db, req);
    const view = searchView(ctx.db, s, { trials: false });
    if ((TERMINAL_STATUSES as readonly string[]).includes(view.status)) {
      throw new ApiError(409, 'conflict', `search ${s.id} has already ended (${view.status}); nothing to cancel`);
    }
    const job = new JobsRepo(ctx.db).bySearch(s.id);
    if (!job) throw new ApiError(409, 'conflict', `search ${s.id} has no job to cancel`);
    await jobQueueOf(ctx).cancel(job.id);
    res.status(202).json(searchView(ctx.db, findSearch(ctx.db, s.id)!, { trials: true }));
  });
}
