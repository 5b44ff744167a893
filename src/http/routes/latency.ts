// POST /v1/latency/predict {deviceId, arch, input, classes} -> latencyMs, coverage.

import type { Router } from 'express';
import { predictLatency, type PredictInput } from '../../app/devices.ts';
import { requireKey } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { deviceStoreOf, type AppContext } from '../context.ts';
import { validateBody } from '../validate.ts';

export function register(router: Router, ctx: AppContext): void {
  router.post('/v1/latency/predict', requireKey(ctx.db), ...jsonBody(ctx.limits.jsonBytes), validateBody('PredictRequest'), (req, res) => {
    res.json(predictLatency(deviceStoreOf(ctx), req.body as PredictInput));
  });
}
