// The one mapping between the API's search request (CreateSearchRequest in
// api/openapi.json; its type generated into src/http/api-types.ts by
// `npm run gen:api`) and the search use case's options (SearchOptionsInput):
//  - request -> options: POST /v1/searches (src/jobs/submit.ts);
//  - options -> request: the `options` of a search's JSON view
//    (src/http/routes/searches.ts) and the body `nas search --server` sends
//    (src/cli/search-remote.ts).
// The names differ between the two (objective/mode, a budget in seconds vs
// ms); every default is the use case's (src/search/options.ts).

import type { components } from '../http/api-types.ts';
import { DEFAULT_MAX_TRIALS, type ProxyRecipe, SearchInputError, type SearchOptionsInput } from './options.ts';

export type CreateSearchRequest = components['schemas']['CreateSearchRequest'];
export type SearchBudget = components['schemas']['SearchBudget'];

/** Options of the use case the request cannot carry (a search over the service uses their defaults). */
export const OPTIONS_NOT_IN_REQUEST = ['skipFactor', 'trialTimeoutMs', 'earlyStop', 'strategyOptions'] as const satisfies readonly (keyof SearchOptionsInput)[];

/**
 * The request's search options as the use case takes them, with `dataset`
 * the data layer's name of the request's dataset reference (the caller
 * parses and resolves that); the whole run's fields (run, scaleUp, formats) are the caller's too.
 */
export function searchInputFromRequest(b: Omit<CreateSearchRequest, 'dataset'>, dataset: string): SearchOptionsInput {
  const proxy = { ...(b.proxy ?? {}) } as Partial<ProxyRecipe>;
  if (b.input !== undefined) {
    const [h, w] = b.input.split('x').map(Number);
    if (h !== w) throw new SearchInputError(`input ${b.input}: only square training inputs are supported (the proxy resolution)`);
    proxy.resolution = h;
  }
  return {
    dataset, deviceId: b.deviceId, latencyTargetMs: b.latencyTargetMs,
    ...(b.objective !== undefined ? { mode: b.objective } : {}),
    ...(b.w !== undefined ? { w: b.w } : {}),
    ...(b.strategy !== undefined ? { strategy: b.strategy } : {}),
    ...(b.evaluator !== undefined ? { evaluator: b.evaluator } : {}),
    ...(b.supernetId !== undefined ? { supernetId: b.supernetId } : {}),
    maxTrials: b.budget.maxTrials,
    ...(b.budget.maxParallelTrials !== undefined ? { maxParallelTrials: b.budget.maxParallelTrials } : {}),
    ...(b.budget.maxFailedTrials !== undefined ? { maxFailedTrials: b.budget.maxFailedTrials } : {}),
    ...(b.budget.maxWallTimeS !== undefined ? { maxWallMs: b.budget.maxWallTimeS * 1000 } : {}),
    ...(b.seed !== undefined ? { seed: b.seed } : {}),
    proxy,
  };
}

/**
 * Search options (given, or stored with every default filled in) in the
 * request's shape: unset options are left out, except the budget's
 * maxTrials, which the request requires. Options in OPTIONS_NOT_IN_REQUEST
 * are not carried.
 */
export function searchRequestFromOptions(o: SearchOptionsInput): CreateSearchRequest {
  const budget: SearchBudget = {
    maxTrials: o.maxTrials ?? DEFAULT_MAX_TRIALS,
    ...(o.maxParallelTrials !== undefined ? { maxParallelTrials: o.maxParallelTrials } : {}),
    ...(o.maxFailedTrials != null ? { maxFailedTrials: o.maxFailedTrials } : {}),
    ...(o.maxWallMs != null ? { maxWallTimeS: o.maxWallMs / 1000 } : {}),
  };
  const proxy = Object.fromEntries(Object.entries(o.proxy ?? {}).filter(([, v]) => v !== undefined));
  return {
    dataset: o.dataset, deviceId: o.deviceId, latencyTargetMs: o.latencyTargetMs,
    ...(o.mode !== undefined ? { objective: o.mode } : {}),
    ...(o.w !== undefined ? { w: o.w } : {}),
    ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
    ...(o.evaluator !== undefined ? { evaluator: o.evaluator } : {}),
    ...(o.supernetId != null ? { supernetId: o.supernetId } : {}),
    budget,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(Object.keys(proxy).length > 0 ? { proxy } : {}),
  };
}
