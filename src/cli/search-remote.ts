// `nas search --server URL --key K ...`: the same search, submitted to a
// running service (POST /v1/searches) and followed over its event stream
// (GET /v1/searches/{id}/events), so the progress bar reads the same typed
// events as a local search.

import type { NasEvent } from '../app/events.ts';
import type { SearchOptionsInput } from '../search/options.ts';
import { type CreateSearchRequest, OPTIONS_NOT_IN_REQUEST, searchRequestFromOptions } from '../search/request.ts';
import { apiBase, apiFetch, readSse } from './api-client.ts';
import { UsageError } from './errors.ts';

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

/** The flag that sets each option the API does not take. */
const FLAG_OF: Record<(typeof OPTIONS_NOT_IN_REQUEST)[number], string> = {
  skipFactor: '--skip-factor', trialTimeoutMs: '--trial-timeout-minutes', earlyStop: '--early-stop-epochs', strategyOptions: '(strategy options)',
};

/** The API's CreateSearchRequest for CLI flags; a flag the API does not take is refused by name. */
export function createSearchBody(input: SearchOptionsInput): CreateSearchRequest {
  for (const k of OPTIONS_NOT_IN_REQUEST) {
    if (input[k] != null) throw new UsageError(`${FLAG_OF[k]} is not available with --server (the service uses its default)`);
  }
  return searchRequestFromOptions(input);
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
