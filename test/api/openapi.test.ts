// api/openapi.json as a document: valid OpenAPI 3.1 shape, every schema
// compiles, every $ref resolves, every operation names its responses and
// every error answer is the one Error shape. Live answers are checked
// against it by the HTTP tests (test/http/*, helpers.conforms).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ajv, spec } from '../http/helpers.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('api/openapi.json', () => {
  it('is OpenAPI 3.1 whose component schemas all compile', () => {
    assert.equal(spec.openapi, '3.1.0');
    for (const name of Object.keys(spec.components.schemas)) ajv.compile({ $ref: `api#/components/schemas/${name}` });
  });

  it('every $ref resolves', () => {
    for (const r of refs(spec)) {
      assert.match(r, /^#\//, r);
      let node: Json | undefined = spec;
      for (const part of r.slice(2).split('/')) node = node?.[part];
      assert.ok(node, `unresolved ${r}`);
    }
  });

  it('the API lives under /v1 (plus /healthz, /metrics, the profiling page); every operation has an id, a success and error answers in the Error shape', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(spec.paths as Json)) {
      assert.ok(path.startsWith('/v1/') || ['/healthz', '/metrics', '/profile/'].includes(path), path);
      for (const [method, op] of Object.entries(item as Json)) {
        assert.ok(op.operationId && !ids.has(op.operationId), `${method} ${path}: operationId`);
        ids.add(op.operationId);
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.some((s) => s.startsWith('2')), `${method} ${path}: no success answer`);
        for (const s of statuses.filter((x) => Number(x) >= 400)) {
          let r = op.responses[s];
          if (r.$ref) r = spec.components.responses[r.$ref.split('/').pop()];
          assert.equal(r.content['application/json'].schema.$ref, '#/components/schemas/Error', `${method} ${path} ${s}`);
        }
        const secured = op.security === undefined ? spec.security.length > 0 : op.security.length > 0;
        if (secured) assert.ok(op.responses['401'], `${method} ${path}: authenticated but no 401`);
      }
    }
    for (const p of ['/v1/searches', '/v1/searches/{searchId}', '/v1/searches/{searchId}/events', '/v1/searches/{searchId}/cancel', '/v1/models', '/v1/models/{modelId}', '/v1/models/{modelId}/download']) {
      assert.ok(spec.paths[p], `${p} missing`);
    }
    assert.ok(spec.paths['/v1/searches'].post.responses['202'].headers.Location);
  });
});
