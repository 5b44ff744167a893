// Shared by the HTTP tests: an app on a temporary data directory with a known
// admin token, and `conforms(res, path, method)`, which checks an answer
// against api/openapi.json (its status must be listed, its JSON body must
// match the schema of that status).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import type { Response } from 'supertest';
import { createApp, type RouteModule } from '../../src/http/app.ts';
import { createContext, type ContextOptions } from '../../src/http/context.ts';
import { createLogger } from '../../src/http/logger.ts';
import { shippedPaths } from '../../src/config/paths.ts';
import type { BundleManifest } from '../../src/latency/bundle.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export const spec = JSON.parse(readFileSync(join(shippedPaths.api, 'openapi.json'), 'utf8')) as Json;
export const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false, allErrors: true });
ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
ajv.addSchema({ $id: 'api', components: spec.components }, 'api');

export const ADMIN = 'nas_test-admin-token-0123456789abcdef';

export function testApp(opts: Partial<ContextOptions> = {}, routes?: RouteModule[]) {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nas-http-'));
  const { ctx } = createContext({ dataDir, storeFile: ':memory:', logger: createLogger({ level: 'silent' }), adminToken: ADMIN, ...opts });
  return { ctx, app: createApp(ctx, routes ? { routes } : {}), dataDir };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function responseSchema(path: string, method: string, status: number): { schema?: Json; type?: string } {
  const op = spec.paths[path]?.[method.toLowerCase()];
  assert.ok(op, `${method.toUpperCase()} ${path} is not in api/openapi.json`);
  let r = op.responses[String(status)];
  assert.ok(r, `${method.toUpperCase()} ${path} answered ${status}, which the contract does not list (${Object.keys(op.responses).join(', ')})`);
  if (r.$ref) r = spec.components.responses[r.$ref.split('/').pop()];
  const types = Object.keys(r.content ?? {});
  return { schema: r.content?.['application/json']?.schema, type: types[0] };
}

/** Assert the answer is one the contract lists for this operation, with a conforming body. */
export function conforms(res: Response, path: string, method: string, status?: number): void {
  if (status !== undefined) assert.equal(res.status, status, `${method.toUpperCase()} ${path}: expected ${status}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 400)}`);
  const { schema, type } = responseSchema(path, method, res.status);
  if (type) assert.ok((res.headers['content-type'] ?? '').startsWith(type), `${method} ${path} ${res.status}: content-type ${res.headers['content-type']} is not ${type}`);
  if (!schema) return;
  const validate = ajv.compile({ $ref: `api#${schema.$ref ? schema.$ref.slice(1) : ''}`, ...(schema.$ref ? {} : schema) });
  assert.ok(validate(res.body), `${method.toUpperCase()} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body).slice(0, 400)}`);
}

/** An error answer: the status, the code, and the contract. */
export function isError(res: Response, path: string, method: string, status: number, code?: string | RegExp): void {
  conforms(res, path, method, status);
  if (code !== undefined) {
    if (typeof code === 'string') assert.equal(res.body.error.code, code, JSON.stringify(res.body));
    else assert.match(res.body.error.message, code);
  }
}

/** A complete, consistent upload of measurements for bundle `m` naming device `deviceId`. */
export function uploadFor(m: BundleManifest, deviceId: string, samplesMs = 0.5): Json {
  const models: Json = {};
  for (const x of [m.reference, m.baseline, ...m.kernels, ...m.networks]) {
    models[x.id] = { samplesMs: [samplesMs, samplesMs * 1.01, samplesMs, samplesMs * 0.99, samplesMs], ...(x.id === 'reference' ? {} : { referenceMs: [0.2, 0.2, 0.2, 0.2, 0.2] }) };
  }
  return { format: 'nas-profile-results', formatVersion: 1, bundleId: m.bundleId, device: { id: deviceId, name: 'Phone', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 1, cpu: 'arm64' }, models };
}
