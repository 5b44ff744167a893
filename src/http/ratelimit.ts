// Upload rate limits (express-rate-limit): per credential (hash of the bearer
// token) or, without one, per client address. Errors in the API's shape.

import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { sha256Hex } from '../store/keys.ts';
import type { AppContext } from './context.ts';
import { ApiError } from './errors.ts';

export function uploadLimiter(ctx: AppContext, what: string): RequestHandler {
  return rateLimit({
    windowMs: ctx.rateLimit.windowMs,
    limit: ctx.rateLimit.uploads,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => {
      const h = req.get('authorization');
      return h ? `tok:${sha256Hex(h)}` : `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`;
    },
    handler: (_req, _res, next, options) => {
      next(new ApiError(429, 'rate_limited', `too many ${what} uploads: at most ${String(options.limit)} per ${Math.round(ctx.rateLimit.windowMs / 1000)} s; retry later`));
    },
  });
}
