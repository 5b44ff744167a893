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

/** A URL with credential-bearing query parameters masked, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|key)=)[^&#]*/gi, '$1[redacted]');
}
