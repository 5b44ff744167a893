// HTTP errors: one JSON shape for every failure,
//   { "error": { "code": "not_found", "message": "...", "details": ... } }
// Errors anywhere in the code base carry their HTTP status in `status`
// (TableError, DeviceError, SpaceError, StoreError...). The error middleware
// maps them here; a 5xx never leaks a stack or an internal message, and a
// 4xx never names a server path: the data directory and the package's own
// folder are replaced in its message and details (a last line of defence;
// messages should name the user's input in the first place).

import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const CODES: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
  409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 422: 'unprocessable', 429: 'rate_limited',
};

export const notFound = (what: string, id: string): ApiError => new ApiError(404, 'not_found', `${what} "${id}" not found`);

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Status, code, message and details of any thrown value. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  const e = (err ?? {}) as { status?: unknown; statusCode?: unknown; type?: unknown; code?: unknown; message?: unknown; details?: unknown; limit?: unknown };
  let status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (!(status >= 400 && status < 600)) status = 500;
  if (status >= 500) return { status, body: { error: { code: 'internal', message: 'internal error; the server logged the cause' } } };
  let code = err instanceof ApiError ? err.code : typeof e.code === 'string' && /^[a-z][a-z_]*$/.test(e.code) ? e.code : CODES[status] ?? 'bad_request';
  let message = typeof e.message === 'string' && e.message !== '' ? e.message : code;
  // body-parser's errors
  if (e.type === 'entity.parse.failed') {
    code = 'malformed_json';
    message = `request body is not valid JSON (${message})`;
  } else if (e.type === 'entity.too.large') {
    message = `request body is larger than this route's limit of ${String(e.limit)} bytes`;
  } else if (err instanceof URIError || (status === 400 && /URI|decode/i.test(message) && !(err instanceof ApiError))) {
    code = 'malformed_url';
    message = `malformed percent-encoding in the URL (${message})`;
  }
  const details = err instanceof ApiError ? err.details : undefined;
  return { status, body: { error: { code, message, ...(details !== undefined ? { details } : {}) } } };
}

/** Server folders that never appear in an error body, each with the word that replaces it. */
export type ServerPaths = [path: string, placeholder: string][];

/** `value` with every server path replaced where it stands as a path (longest first: a folder inside another keeps its own name). */
export function maskServerPaths<T>(value: T, paths: ServerPaths): T {
  const sorted = paths.filter(([p]) => p.length > 1).sort((a, b) => b[0].length - a[0].length)
    .map(([p, word]) => [new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.+@~-])`, 'g'), word] as const);
  const mask = (v: unknown): unknown => {
    if (typeof v === 'string') return sorted.reduce((s, [re, word]) => s.replace(re, word), v);
    if (Array.isArray(v)) return v.map(mask);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
    return v;
  };
  return mask(value) as T;
}

export function errorMiddleware(logger: Logger, serverPaths: ServerPaths = []): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const { status, body: raw } = toErrorBody(err);
    const body = maskServerPaths(raw, serverPaths);
    if (status >= 500) logger.error({ err, method: req.method, url: req.path }, 'request failed');
    res.status(status).json(body);
  };
}

/** 404 for any path nothing matched. */
export const notFoundMiddleware: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};
