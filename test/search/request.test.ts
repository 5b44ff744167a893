// The one mapping between the API's CreateSearchRequest and the search use
// case's options (src/search/request.ts), both ways: what POST /v1/searches
// submits, what a search's view shows as its options and what
// `nas search --server` sends. A view's options, submitted again, make the
// same search.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schemaValidator } from '../../src/http/validate.ts';
import { DEFAULT_MAX_TRIALS, resolveSearchOptions } from '../../src/search/options.ts';
import { type CreateSearchRequest, OPTIONS_NOT_IN_REQUEST, searchInputFromRequest, searchRequestFromOptions } from '../../src/search/request.ts';

const full: CreateSearchRequest = {
  dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 4, objective: 'hard', w: -0.5, strategy: 'evolution',
  budget: { maxTrials: 7, maxParallelTrials: 3, maxFailedTrials: 2, maxWallTimeS: 90 }, seed: 11,
  proxy: { subset: 100, validationSubset: 50, epochs: 2, batchSize: 16 },
};

function assertValid(body: unknown): void {
  const v = schemaValidator('CreateSearchRequest');
  assert.ok(v(body), JSON.stringify(v.errors));
}

describe('search request <-> search options', () => {
  it('request -> options: objective is the mode, the budget\'s seconds are ms, unset fields stay unset', () => {
    assert.deepEqual(searchInputFromRequest(full, full.dataset), {
      dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 4, mode: 'hard', w: -0.5, strategy: 'evolution',
      maxTrials: 7, maxParallelTrials: 3, maxFailedTrials: 2, maxWallMs: 90_000, seed: 11,
      proxy: { subset: 100, validationSubset: 50, epochs: 2, batchSize: 16 },
    });
    assert.deepEqual(searchInputFromRequest({ deviceId: 'd', latencyTargetMs: 1, budget: { maxTrials: 1 } }, 'mnist'),
      { dataset: 'mnist', deviceId: 'd', latencyTargetMs: 1, maxTrials: 1, proxy: {} });
  });

  it('request -> options: a square input is the proxy resolution; another input is a 400 naming it', () => {
    assert.equal(searchInputFromRequest({ ...full, input: '32x32x3' }, full.dataset).proxy?.resolution, 32);
    assert.throws(() => searchInputFromRequest({ ...full, input: '32x48x3' }, full.dataset), (e: Error & { status?: number }) => e.status === 400 && /input 32x48x3: only square/.test(e.message));
  });

  it('options -> request -> options gives the request back', () => {
    const back = searchRequestFromOptions(searchInputFromRequest(full, full.dataset));
    assert.deepEqual(back, full);
    assertValid(back);
  });

  it('stored options (every default filled in) as a request: valid, with the defaults; submitted again, the same options', () => {
    const stored = resolveSearchOptions({ dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 3 });
    const view = searchRequestFromOptions(stored);
    assert.equal(view.budget.maxTrials, DEFAULT_MAX_TRIALS);
    assert.equal(view.objective, 'soft');
    assert.deepEqual(view.proxy, { ...stored.proxy });
    assertValid(view);
    assert.deepEqual(resolveSearchOptions(searchInputFromRequest(view, view.dataset)), stored);
  });

  it('given options without a trial budget: the request carries the use case\'s default (the request requires one)', () => {
    const given = { dataset: 'synthetic', deviceId: 'd', latencyTargetMs: 2 };
    assert.deepEqual(searchRequestFromOptions(given), { ...given, budget: { maxTrials: DEFAULT_MAX_TRIALS } });
    assert.equal(resolveSearchOptions(given).maxTrials, DEFAULT_MAX_TRIALS, 'the same budget as the use case gives the options alone');
  });

  it('options the request cannot carry are the ones the mapping leaves out', () => {
    const withLocal = { ...searchInputFromRequest(full, full.dataset), skipFactor: 2, trialTimeoutMs: 5000, earlyStop: { epochs: 1 }, strategyOptions: { population: 4 } };
    for (const k of OPTIONS_NOT_IN_REQUEST) assert.ok(withLocal[k] !== undefined, k);
    assert.deepEqual(searchRequestFromOptions(withLocal), full);
  });
});
