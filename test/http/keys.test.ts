// API keys, auth and the app's cross-cutting behaviour: error shape, 404s,
// admin-only operations, bad/missing keys, body limits, malformed JSON and URLs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { ADMIN, bearer, conforms, isError, testApp } from './helpers.ts';
import { createContext } from '../../src/http/context.ts';
import { createLogger } from '../../src/http/logger.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('http: keys and auth', () => {
  const { app } = testApp();

  it('GET /healthz answers without a key', async () => {
    conforms(await request(app).get('/healthz'), '/healthz', 'get', 200);
  });

  it('admin creates, lists and revokes a key; the token is shown once and works until revoked', async () => {
    const created = await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'alice' });
    conforms(created, '/v1/keys', 'post', 201);
    assert.equal(created.body.role, 'user');
    assert.equal(created.headers.location, `/v1/keys/${created.body.id}`);
    const list = await request(app).get('/v1/keys').set(bearer(ADMIN));
    conforms(list, '/v1/keys', 'get', 200);
    assert.ok(list.body.items.some((k: { id: string }) => k.id === created.body.id));
    assert.ok(!JSON.stringify(list.body).includes(created.body.token), 'tokens are never listed');
    // a live user key is known (403 on an admin route), a revoked one is not (401)
    isError(await request(app).get('/v1/keys').set(bearer(created.body.token)), '/v1/keys', 'get', 403, 'forbidden');
    const del = await request(app).delete(`/v1/keys/${created.body.id}`).set(bearer(ADMIN));
    conforms(del, '/v1/keys/{keyId}', 'delete', 200);
    assert.ok(del.body.revokedAt);
    isError(await request(app).get('/v1/keys').set(bearer(created.body.token)), '/v1/keys', 'get', 401, 'unauthorized');
  });

  it('missing, malformed or wrong key: 401; user key on an admin route: 403', async () => {
    isError(await request(app).get('/v1/keys'), '/v1/keys', 'get', 401, /missing API key/);
    isError(await request(app).get('/v1/keys').set('Authorization', 'Basic abc'), '/v1/keys', 'get', 401, /Bearer/);
    isError(await request(app).get('/v1/keys').set(bearer('nas_wrong')), '/v1/keys', 'get', 401, /invalid/);
    const user = await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'bob' });
    isError(await request(app).get('/v1/keys').set(bearer(user.body.token)), '/v1/keys', 'get', 403, 'forbidden');
    isError(await request(app).post('/v1/keys').set(bearer(user.body.token)).send({ name: 'x', role: 'admin' }), '/v1/keys', 'post', 403, 'forbidden');
  });

  it('bad bodies: malformed JSON, missing field, wrong type, unknown field, wrong media type, oversized', async () => {
    const post = () => request(app).post('/v1/keys').set(bearer(ADMIN));
    isError(await post().set('Content-Type', 'application/json').send('{"name": '), '/v1/keys', 'post', 400, 'malformed_json');
    const missing = await post().send({});
    isError(missing, '/v1/keys', 'post', 400, 'invalid_request');
    assert.match(missing.body.error.message, /name/);
    assert.ok(Array.isArray(missing.body.error.details));
    isError(await post().send({ name: 42 }), '/v1/keys', 'post', 400, /body\/name must be string/);
    isError(await post().send({ name: 'x', role: 'root' }), '/v1/keys', 'post', 400, /role/);
    isError(await post().send({ name: 'x', extra: 1 }), '/v1/keys', 'post', 400, /unknown field "extra"/);
    isError(await post().set('Content-Type', 'text/plain').send('name=x'), '/v1/keys', 'post', 415, 'unsupported_media_type');
    isError(await post().send({ name: 'x'.repeat(80 * 1024) }), '/v1/keys', 'post', 413, 'payload_too_large');
  });

  it('revoking an unknown key is 404; revoking the key in use is 409', async () => {
    isError(await request(app).delete('/v1/keys/key_0000000000000000').set(bearer(ADMIN)), '/v1/keys/{keyId}', 'delete', 404, 'not_found');
    const list = await request(app).get('/v1/keys').set(bearer(ADMIN));
    const me = list.body.items.find((k: { role: string; revokedAt: null }) => k.role === 'admin' && !k.revokedAt);
    isError(await request(app).delete(`/v1/keys/${me.id}`).set(bearer(ADMIN)), '/v1/keys/{keyId}', 'delete', 409, 'conflict');
  });

  it('unknown routes are a JSON 404; a malformed percent-encoded path is 400, not 500', async () => {
    const r = await request(app).get('/v1/nothing-here').set(bearer(ADMIN));
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
    const bad = await request(app).delete('/v1/keys/%E0%A4%A').set(bearer(ADMIN));
    isError(bad, '/v1/keys/{keyId}', 'delete', 400, 'malformed_url');
  });

  it('the first start without NAS_ADMIN_KEY creates an admin key and returns its token once', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nas-admin-'));
    const first = createContext({ dataDir, logger: createLogger({ level: 'silent' }) });
    assert.match(first.newAdminToken ?? '', /^nas_/);
    first.ctx.db.close();
    const second = createContext({ dataDir, logger: createLogger({ level: 'silent' }) });
    assert.equal(second.newAdminToken, undefined);
    second.ctx.db.close();
  });

  it('an unexpected failure is a 500 in the error shape without the message or a stack; a thrown 4xx keeps its status and message', async () => {
    const boom = { register: (r: import('express').Router) => {
      r.get('/v1/boom', () => { throw new Error('secret internal detail at /srv/x.ts:12'); });
      r.get('/v1/teapot', async () => { throw Object.assign(new Error('the pot is a teapot'), { status: 418 }); });
    } };
    const { app: a } = testApp({}, [boom]);
    const r = await request(a).get('/v1/boom');
    assert.equal(r.status, 500);
    assert.equal(r.body.error.code, 'internal');
    assert.ok(!JSON.stringify(r.body).includes('secret') && !JSON.stringify(r.body).includes('.ts:'), JSON.stringify(r.body));
    const t = await request(a).get('/v1/teapot');
    assert.equal(t.status, 418);
    assert.deepEqual(t.body, { error: { code: 'bad_request', message: 'the pot is a teapot' } });
  });

  it('GET /metrics counts requests per route template and status', async () => {
    await request(app).get('/v1/keys').set(bearer(ADMIN));
    const m = await request(app).get('/metrics');
    conforms(m, '/metrics', 'get', 200);
    assert.match(m.text, /nas_http_requests_total\{method="GET",route="\/v1\/keys",status="200"\} \d+/);
    assert.match(m.text, /nas_http_requests_total\{method="GET",route="\/v1\/keys",status="401"\} [1-9]/);
    assert.match(m.text, /nas_http_request_duration_seconds_bucket/);
  });
});
