// The CLI as a client of a running service (`nas serve`): one place that
// parses --server, sends the bearer key and turns answers into the CLI's
// errors (a 4xx is the user's request: one line, exit 2; a 5xx or an
// unreachable server is a failure: exit 1 / 2 as below).

import { CommandFailed, UsageError } from './errors.ts';

export class ServerRefused extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'ServerRefused';
  }
}

export function apiBase(server: string): URL {
  try {
    const u = new URL(server.endsWith('/') ? server : `${server}/`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    return u;
  } catch {
    throw new UsageError(`--server must be a URL such as http://127.0.0.1:8080, got ${JSON.stringify(server)}`);
  }
}

export function apiKey(key: string | undefined): string {
  const k = key ?? process.env.NAS_API_KEY;
  if (!k) throw new UsageError('an API key is needed: --key <key> or $NAS_API_KEY');
  return k;
}

/** fetch a /v1 path; non-2xx answers become ServerRefused (4xx, exit 2) or CommandFailed (5xx, exit 1). */
export async function apiFetch(base: URL, path: string, key: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { ...init, headers: { Authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new UsageError(`cannot reach ${base.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null) as { error?: { message?: string } } | null;
    const msg = `the server answered ${res.status}: ${body?.error?.message ?? res.statusText}`;
    if (res.status < 500) throw new ServerRefused(msg, 400);
    throw new CommandFailed(msg);
  }
  return res;
}

/** Server-Sent Events of a streaming response: calls onEvent(name, parsed data) until the stream ends or onEvent returns true. */
export async function readSse(res: Response, onEvent: (event: string, data: unknown) => boolean | void): Promise<void> {
  if (!res.body) throw new CommandFailed('the server sent an empty event stream');
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length === 0) continue; // comments (heartbeats), retry hints
        let parsed: unknown;
        try {
          parsed = JSON.parse(data.join('\n'));
        } catch {
          continue;
        }
        if (onEvent(event, parsed) === true) return;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
