// The HTTP contract in api/openapi.json against the server that implements
// it today (`nas profile --serve`): every documented operation is called on
// a real bundle, and every JSON answer is validated against the contract's
// schema for its status; undocumented statuses fail. A complete upload built
// from the manifest the server hands out is stored; a bad one is not.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { writeBundle } from '../../src/latency/bundle.ts';
import { serveProfiling } from '../../src/latency/serve.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const spec = JSON.parse(readFileSync('api/openapi.json', 'utf8')) as Json;
const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'api', components: spec.components }, 'api');

function schemaFor(path: string, method: string, status: number): Json | undefined {
  const op = spec.paths[path]?.[method];
  assert.ok(op, `${method.toUpperCase()} ${path} is not in api/openapi.json`);
  let r = op.responses[String(status)];
  assert.ok(r, `${method.toUpperCase()} ${path} answered ${status}, which the contract does not list (${Object.keys(op.responses).join(', ')})`);
  if (r.$ref) r = spec.components.responses[r.$ref.split('/').pop()];
  return r.content?.['application/json']?.schema;
}

function check(path: string, method: string, status: number, body: unknown): void {
  const schema = schemaFor(path, method, status);
  if (!schema) return;
  const validate = ajv.compile({ $ref: `api#${schema.$ref ? schema.$ref.slice(1) : ''}`, ...(schema.$ref ? {} : schema) });
  assert.ok(validate(body), `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 300)}`);
}

describe('api/openapi.json (profiling endpoints)', () => {
  let server: Server;
  let url: string;
  let tables: string;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'api-bundle-'));
    tables = mkdtempSync(join(tmpdir(), 'api-tables-'));
    writeBundle(dir, { targets: [{ skeleton: SKELETON_SMALL, input: { height: 28, width: 28, channels: 1 } }], numClasses: 10, maxKernelsPerTarget: 6, calibrationNetworks: 5, repeats: 5 });
    ({ server, url } = await serveProfiling({ bundleDir: dir, tablesDir: tables, maxBodyBytes: 256 * 1024 }));
  });
  after(() => server?.close());

  it('is a valid OpenAPI 3.1 document whose schemas compile', () => {
    assert.equal(spec.openapi, '3.1.0');
    for (const name of Object.keys(spec.components.schemas)) ajv.compile({ $ref: `api#/components/schemas/${name}` });
  });

  it('GET / and GET /bundle/manifest.json, then every model the manifest lists', async () => {
    const page = await fetch(url);
    schemaFor('/', 'get', page.status);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const res = await fetch(url + 'bundle/manifest.json');
    const manifest = await res.json();
    check('/bundle/manifest.json', 'get', res.status, manifest);
    for (const m of [manifest.reference, manifest.baseline, ...manifest.kernels, ...manifest.networks]) {
      const r = await fetch(url + 'bundle/' + m.file);
      schemaFor('/bundle/models/{file}', 'get', r.status);
      assert.equal(Buffer.from(await r.arrayBuffer()).subarray(4, 8).toString('latin1'), 'TFL3');
    }
    const missing = await fetch(url + 'bundle/models/99999.tflite');
    check('/bundle/models/{file}', 'get', missing.status, await missing.json());
  });

  it('POST /results: 200 stores a complete upload; 400, 413, 422 and 405 answer as documented, storing nothing', async () => {
    const manifest = await (await fetch(url + 'bundle/manifest.json')).json();
    const models: Json = {};
    for (const m of [manifest.reference, manifest.baseline, ...manifest.kernels, ...manifest.networks]) {
      models[m.id] = { samplesMs: [0.5, 0.51, 0.5, 0.49, 0.5], ...(m.id === 'reference' ? {} : { referenceMs: [0.2, 0.2, 0.2, 0.2, 0.2] }) };
    }
    const upload = { format: 'nas-profile-results', formatVersion: 1, bundleId: manifest.bundleId, device: { id: 'api-phone', name: 'Phone', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 1, cpu: 'arm64' }, models };
    const post = (body: string) => fetch(url + 'results', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

    const bad = structuredClone(upload);
    bad.device.id = 'api-bad';
    delete bad.models.baseline;
    for (const [body, status] of [['{not json', 400], ['x'.repeat(300 * 1024), 413], [JSON.stringify(bad), 422]] as const) {
      const r = await post(body);
      assert.equal(r.status, status);
      check('/results', 'post', r.status, await r.json());
    }
    assert.equal(existsSync(join(tables, 'api-bad.json')), false);

    const ok = await post(JSON.stringify(upload));
    const body = await ok.json();
    assert.equal(ok.status, 200, JSON.stringify(body));
    check('/results', 'post', 200, body);
    assert.equal(body.entries, manifest.kernels.length);
    assert.ok(existsSync(join(tables, 'api-phone.json')));

    const get = await fetch(url + 'results');
    check('/results', 'get', get.status, await get.json());
  });
});
