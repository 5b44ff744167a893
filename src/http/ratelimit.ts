// Upload rate limits (express-rate-limit): per authenticated principal (the
// key or device that authentication found, so re-spelling the Authorization
// header makes no new bucket) or, before authentication, per client address.
// Mount after the route's authentication. Errors in the API's shape.

import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { AppContext } from './context.ts';
import { ApiError } from './errors.ts';

export function uploadLimiter(ctx: AppContext, what: string): RequestHandler {
  return rateLimit({
    windowMs: ctx.rateLimit.windowMs,
    limit: ctx.rateLimit.uploads,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => req.principal ?? `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`,
    handler: (_req, _res, next, options) => {
      next(new ApiError(429, 'rate_limited', `too many ${what} uploads: at most ${String(options.limit)} per ${Math.round(ctx.rateLimit.windowMs / 1000)} s; retry later`));
    },
  });
}
