// GET /healthz (store reachable, schema version) and GET /metrics (Prometheus text).

import type { Router } from 'express';
import { schemaVersion } from '../../store/db.ts';
import type { AppContext } from '../context.ts';

export function register(router: Router, ctx: AppContext): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', schemaVersion: schemaVersion(ctx.db) });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
}
