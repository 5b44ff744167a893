// API keys (admin only): POST /v1/keys (token returned once), GET /v1/keys,
// DELETE /v1/keys/{id} (revoke; an admin cannot revoke the key it is using).

import type { Router } from 'express';
import { createKey, getKey, listKeys, revokeKey, type KeyRole } from '../../store/keys.ts';
import { authOf, requireAdmin } from '../auth.ts';
import { jsonBody } from '../body.ts';
import type { AppContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { validateBody } from '../validate.ts';

export function register(router: Router, ctx: AppContext): void {
  const admin = requireAdmin(ctx.db);
  router.post('/v1/keys', admin, ...jsonBody(ctx.limits.jsonBytes), validateBody('CreateKeyRequest'), (req, res) => {
    const body = req.body as { name: string; role?: KeyRole };
    const { key, token } = createKey(ctx.db, body.name, body.role ?? 'user');
    res.status(201).location(`/v1/keys/${key.id}`).json({ ...key, token });
  });
  router.get('/v1/keys', admin, (_req, res) => {
    res.json({ items: listKeys(ctx.db) });
  });
  router.delete('/v1/keys/:id', admin, (req, res) => {
    const id = req.params.id as string;
    if (id === authOf(req).id) throw new ApiError(409, 'conflict', 'refusing to revoke the key making this request');
    if (!getKey(ctx.db, id)) throw notFound('key', id);
    revokeKey(ctx.db, id);
    res.json(getKey(ctx.db, id));
  });
}
