// Body parsing with a size limit on every route. JSON routes take small
// bodies; upload routes (measurements, datasets) larger but bounded. A
// request with a body of the wrong media type is 415, never parsed as
// something else.

import express, { type RequestHandler } from 'express';
import { ApiError } from './errors.ts';

export interface Limits {
  /** JSON request bodies (default 64 KiB) */
  jsonBytes: number;
  /** measurement uploads (JSON; default 32 MiB) */
  measurementBytes: number;
  /** dataset archives (default 512 MiB) */
  datasetBytes: number;
  /** supernet files (nas supernet export; default 512 MiB) */
  supernetBytes: number;
}

export const DEFAULT_LIMITS: Limits = { jsonBytes: 64 * 1024, measurementBytes: 32 * 2 ** 20, datasetBytes: 512 * 2 ** 20, supernetBytes: 512 * 2 ** 20 };

/** The largest body any route accepts: requests announcing more are refused before reading. */
export function maxBodyGuard(limits: Limits): RequestHandler {
  const max = Math.max(limits.jsonBytes, limits.measurementBytes, limits.datasetBytes, limits.supernetBytes);
  return (req, _res, next) => {
    const n = Number(req.get('content-length') ?? 0);
    if (n > max) throw new ApiError(413, 'payload_too_large', `request body of ${n} bytes is larger than the server's limit of ${max} bytes`);
    next();
  };
}

/** 415 unless a request with a body has this media type. */
export function requireType(type: string, label: string): RequestHandler {
  return (req, _res, next) => {
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is(type)) throw new ApiError(415, 'unsupported_media_type', `request body must be ${label} (got Content-Type "${req.get('content-type') ?? 'none'}")`);
    next();
  };
}

/** JSON body parser bounded to `limitBytes`. */
export function jsonBody(limitBytes: number): RequestHandler[] {
  return [requireType('application/json', 'JSON (Content-Type: application/json)'), express.json({ limit: limitBytes, strict: true })];
}
