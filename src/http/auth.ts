// Authentication: API keys as bearer tokens (`Authorization: Bearer nas_...`).
// Every search, model and dataset belongs to a key; another key's resource
// answers 404, exactly like a missing one (requireOwned).

import type { RequestHandler, Request } from 'express';
import { findKeyByToken, type ApiKeyRecord } from '../store/keys.ts';
import type { Db } from '../store/db.ts';
import { ApiError } from './errors.ts';

export type AuthInfo = Pick<ApiKeyRecord, 'id' | 'name' | 'role'>;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** the API key that made the request (set by requireKey/requireAdmin) */
      auth?: AuthInfo;
      /** who made the request once authenticated, however the header was spelled: `key:<id>` or `device:<id>` (rate limits) */
      principal?: string;
    }
  }
}

/** The bearer token of a request, or null without an Authorization header. */
export function bearerToken(req: Request): string | null {
  const h = req.get('authorization');
  if (h === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw new ApiError(401, 'unauthorized', 'Authorization header must be "Bearer <API key>"');
  return m[1]!;
}

function authenticate(db: Db, req: Request): AuthInfo {
  const token = bearerToken(req);
  if (token === null) throw new ApiError(401, 'unauthorized', 'missing API key: send "Authorization: Bearer <API key>"');
  const key = findKeyByToken(db, token);
  if (!key) throw new ApiError(401, 'unauthorized', 'invalid or revoked API key');
  return { id: key.id, name: key.name, role: key.role };
}

/** Any live key. Sets req.auth. */
export function requireKey(db: Db): RequestHandler {
  return (req, res, next) => {
    req.auth = authenticate(db, req);
    req.principal = `key:${req.auth.id}`;
    next();
  };
}

/** An admin key (401 without a valid key, 403 with a user key). Sets req.auth. */
export function requireAdmin(db: Db): RequestHandler {
  return (req, res, next) => {
    const auth = authenticate(db, req);
    if (auth.role !== 'admin') throw new ApiError(403, 'forbidden', 'this operation needs an admin key');
    req.auth = auth;
    req.principal = `key:${auth.id}`;
    next();
  };
}

/** The authenticated key of a request that passed requireKey/requireAdmin. */
export function authOf(req: Request): AuthInfo {
  if (!req.auth) throw new Error('route is missing requireKey/requireAdmin');
  return req.auth;
}

/**
 * A resource the caller may see: it exists and belongs to the caller's key.
 * Another key's resource is reported as missing (404), so ids cannot be probed.
 *   const s = requireOwned(getSearch(db, id), req, 'search', id, (s) => s.owner);
 */
export function requireOwned<T>(row: T | null | undefined, req: Request, what: string, id: string, ownerOf: (row: T) => string | null): T {
  const auth = authOf(req);
  if (row === null || row === undefined || ownerOf(row) !== auth.id) throw new ApiError(404, 'not_found', `${what} "${id}" not found`);
  return row;
}
