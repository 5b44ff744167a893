// `nas search --server URL --key K ...`: the same search, submitted to a
// running service (POST /v1/searches) and followed over its event stream
// (GET /v1/searches/{id}/events), so the progress bar reads the same typed
// events as a local search.

import type { NasEvent } from '../app/events.ts';
import type { SearchOptionsInput } from '../search/options.ts';
import { apiBase, apiFetch, readSse } from './api-client.ts';
import { UsageError } from './errors.ts';

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

/** The API's CreateSearchRequest for CLI flags; options the API does not take are refused by name. */
export function createSearchBody(input: SearchOptionsInput): Record<string, unknown> {
  const local: [keyof SearchOptionsInput, string][] = [['skipFactor', '--skip-factor'], ['trialTimeoutMs', '--trial-timeout-minutes']];
  for (const [k, flag] of local) if (input[k] !== undefined) throw new UsageError(`${flag} is not available with --server (the service uses its default)`);
  if (input.earlyStop) throw new UsageError('--early-stop-epochs is not available with --server');
  const proxy = Object.fromEntries(Object.entries(input.proxy ?? {}).filter(([, v]) => v !== undefined));
  const budget = {
    maxTrials: input.maxTrials ?? 20,
    ...(input.maxParallelTrials !== undefined ? { maxParallelTrials: input.maxParallelTrials } : {}),
    ...(input.maxFailedTrials != null ? { maxFailedTrials: input.maxFailedTrials } : {}),
    ...(input.maxWallMs != null ? { maxWallTimeS: input.maxWallMs / 1000 } : {}),
  };
  return {
    dataset: input.dataset, deviceId: input.deviceId, latencyTargetMs: input.latencyTargetMs,
    ...(input.mode !== undefined ? { objective: input.mode } : {}),
    ...(input.w !== undefined ? { w: input.w } : {}),
    ...(input.strategy !== undefined ? { strategy: input.strategy } : {}),
    ...(input.seed !== undefined ? { seed: input.seed } : {}),
    budget,
    ...(Object.keys(proxy).length ? { proxy } : {}),
  };
}

export interface RemoteSearchResult {
  searchId: string;
  /** GET /v1/searches/{id} at the end */
  search: { id: string; status: string; error?: string | null; best?: unknown; [k: string]: unknown };
}

/** Submit and follow a search on a service until it ends; events go to onEvent. */
export async function runRemoteSearch(server: string, key: string, input: SearchOptionsInput, onEvent: (e: NasEvent) => void): Promise<RemoteSearchResult> {
  const base = apiBase(server);
  const created = await apiFetch(base, 'v1/searches', key, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(createSearchBody(input)),
  });
  const { id } = await created.json() as { id: string };
  process.stdout.write(`search ${id} submitted to ${base.origin}\n`);
  const stream = await apiFetch(base, `v1/searches/${encodeURIComponent(id)}/events`, key, { headers: { Accept: 'text/event-stream' } });
  await readSse(stream, (event, data) => {
    if (event === 'state') return false;
    onEvent(data as NasEvent);
    return TERMINAL.has(event);
  });
  const search = await (await apiFetch(base, `v1/searches/${encodeURIComponent(id)}`, key)).json() as RemoteSearchResult['search'];
  return { searchId: id, search };
}
