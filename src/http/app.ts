// The express app of the service. Route modules (src/http/routes/*.ts) each
// export `register(router, ctx)` and are listed once in ROUTE_MODULES; the
// app adds hardening headers (headers.ts), request logging (credentials
// masked), metrics, a global body-size guard, a JSON 404 and the error
// middleware ({ error: { code, message, details } }, no server paths).

import { realpathSync } from 'node:fs';
import express from 'express';
import { pinoHttp } from 'pino-http';
import { PACKAGE_ROOT } from '../config/paths.ts';
import { maxBodyGuard } from './body.ts';
import type { AppContext } from './context.ts';
import { errorMiddleware, notFoundMiddleware, type ServerPaths } from './errors.ts';
import { securityHeaders } from './headers.ts';
import { redactUrl } from './logger.ts';
import { metricsMiddleware } from './metrics.ts';
import * as datasets from './routes/datasets.ts';
import * as devices from './routes/devices.ts';
import * as dashboard from './routes/dashboard.ts';
import * as models from './routes/models.ts';
import * as searches from './routes/searches.ts';
import * as supernets from './routes/supernets.ts';
import * as health from './routes/health.ts';
import * as keys from './routes/keys.ts';
import * as latency from './routes/latency.ts';
import * as profile from './routes/profile.ts';
export type { AppContext } from './context.ts';

export interface RouteModule {
  register(router: express.Router, ctx: AppContext): void;
}

/** Every route module of the service, in registration order. */
export const ROUTE_MODULES: RouteModule[] = [health, keys, devices, latency, datasets, profile, searches, supernets, models, dashboard];

/** The folders an error body must not name: the data directory and the package (as given and as resolved). */
function serverPathsOf(ctx: AppContext): ServerPaths {
  const real = (p: string) => { try { return realpathSync(p); } catch { return p; } };
  return [[ctx.dataDir, '<data dir>'], [real(ctx.dataDir), '<data dir>'], [PACKAGE_ROOT, '<server>'], [real(PACKAGE_ROOT), '<server>']];
}

export interface AppOptions {
  /** route modules (default ROUTE_MODULES) */
  routes?: RouteModule[];
}

export function createApp(ctx: AppContext, opts: AppOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(pinoHttp({
    logger: ctx.logger,
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    serializers: {
      req: (req: { method: string; url: string; originalUrl?: string; id: unknown }) => ({ id: req.id, method: req.method, url: redactUrl(req.originalUrl ?? req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }));
  app.use(metricsMiddleware(ctx.metrics));
  app.use(maxBodyGuard(ctx.limits));
  const router = express.Router();
  for (const m of opts.routes ?? ROUTE_MODULES) m.register(router, ctx);
  app.use(router);
  app.use(notFoundMiddleware);
  app.use(errorMiddleware(ctx.logger, serverPathsOf(ctx)));
  return app;
}
