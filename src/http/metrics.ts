// Prometheus metrics (prom-client). One Registry per app (tests build many
// apps in one process); GET /metrics exposes it. Other modules add their own
// metrics to `ctx.metrics.registry` (e.g. trial durations, queue depth):
//   new Histogram({ name: 'nas_trial_duration_seconds', help: '...', registers: [ctx.metrics.registry] })

import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'nas_' });
  return {
    registry,
    httpRequests: new Counter({ name: 'nas_http_requests_total', help: 'HTTP requests by route template and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'nas_http_request_duration_seconds', help: 'HTTP request duration by route template and status', labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
  };
}

/** Counts every request under its route template (`/v1/devices/:id`), or "unmatched". */
export function metricsMiddleware(m: Metrics): RequestHandler {
  return (req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof routePath === 'string' ? req.baseUrl + routePath : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      m.httpRequests.inc(labels);
      m.httpDuration.observe(labels, Number(process.hrtime.bigint() - t0) / 1e9);
    });
    next();
  };
}
