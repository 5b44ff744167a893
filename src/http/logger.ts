// Logging: pino. JSON lines in production, pretty-printed when stdout is a
// terminal, silent in tests. Per-request logging is pino-http (app.ts), with
// credentials (Authorization header, ?token=) kept out of the log.

import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** pino level; 'silent' for tests (default: $NAS_LOG_LEVEL or 'info') */
  level?: string;
  /** pretty output (default: stdout is a TTY) */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.NAS_LOG_LEVEL ?? 'info';
  const usePretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const base = { level, redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' } };
  if (usePretty && level !== 'silent') return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  return pino(base);
}

/** Query parameters that carry credentials, by their name once decoded and lower-cased (`%74oken`, `TOKEN`, `token[]` too). */
const CREDENTIAL_PARAMS = new Set(['token', 'key', 'access_token', 'api_key', 'apikey', 'auth', 'authorization', 'upload_token', 'password', 'secret']);
/** This service's credentials (API keys nas_..., device upload tokens dev_...), whatever the parameter is called. */
const CREDENTIAL_VALUE = /^(nas|dev)_/i;

/** Percent-decoded (repeatedly, `+` as space), never throwing on malformed escapes. */
function decoded(text: string): string {
  let cur = text.replace(/\+/g, ' ');
  for (let i = 0; i < 4; i++) {
    const next = cur.replace(/(%[0-9a-f]{2})+/gi, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run.replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
      }
    });
    if (next === cur) break;
    cur = next;
  }
  return cur;
}

/**
 * A URL with credential-bearing query parameters masked, for logs. Each
 * parameter is judged on its decoded name and value, so no spelling of
 * `?token=` the server would accept (and none it would not) leaves a key in
 * the log.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const pairs = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = decoded(rawName).trim().toLowerCase();
    if (CREDENTIAL_VALUE.test(name)) return '[redacted]';
    if (eq < 0) return pair;
    if (CREDENTIAL_PARAMS.has(name.replace(/\[.*$/, '')) || CREDENTIAL_VALUE.test(decoded(pair.slice(eq + 1)).trim())) return `${rawName}=[redacted]`;
    return pair;
  });
  return `${url.slice(0, q)}?${pairs.join('&')}`;
}
