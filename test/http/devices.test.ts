// Devices, latency tables, the benchmark suite and measurement uploads over
// HTTP; every answer checked against api/openapi.json.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import request from 'supertest';
import { shippedPaths } from '../../src/config/paths.ts';
import { writeBundle, type BundleManifest } from '../../src/latency/bundle.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { ADMIN, bearer, conforms, isError, testApp, uploadFor } from './helpers.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bundleDir = mkdtempSync(join(tmpdir(), 'http-bundle-'));
const manifest: BundleManifest = writeBundle(bundleDir, { targets: [{ skeleton: SKELETON_SMALL, input: { height: 28, width: 28, channels: 1 } }], numClasses: 10, maxKernelsPerTarget: 6, calibrationNetworks: 5, repeats: 5 });


const PHONE = { id: 'pixel-7', name: 'Pixel 7', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 4, cpu: 'Tensor G2' };
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('http: devices', () => {
  const { app } = testApp({ bundleDir, limits: { measurementBytes: 512 * 1024 } });
  let user: string;
  let phoneToken: string;

  before(async () => {
    user = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'u' })).body.token;
  });

  it('the shipped devices are built-in, their shipped table is version 1', async () => {
    const r = await request(app).get('/v1/devices').set(bearer(user));
    conforms(r, '/v1/devices', 'get', 200);
    const ids = r.body.items.filter((d: Json) => d.builtin).map((d: Json) => d.id);
    assert.deepEqual(ids.sort(), ['node-tfjs-wasm', 'node-tflite-wasm']);
    const d = await request(app).get('/v1/devices/node-tflite-wasm').set(bearer(user));
    conforms(d, '/v1/devices/{deviceId}', 'get', 200);
    assert.deepEqual(d.body.versions.map((v: Json) => [v.version, v.source, v.current]), [[1, 'shipped', true]]);
    assert.ok(d.body.table.entries > 100);
    assert.deepEqual(d.body.table.coverage.map((c: Json) => c.input).sort(), ['224x224x3', '28x28x1', '32x32x3']);
    assert.ok(d.body.table.calibration.medianSumOverMeasured > 0);
  });

  it('POST /v1/devices: admin registers a device and gets its upload token once; user 403, duplicate 409, bad profiles 400', async () => {
    const r = await request(app).post('/v1/devices').set(bearer(ADMIN)).send(PHONE);
    conforms(r, '/v1/devices', 'post', 201);
    assert.equal(r.body.tableVersion, null);
    assert.match(r.body.profileUrl, /^\/profile\/\?device=pixel-7&token=dev_/);
    phoneToken = r.body.uploadToken;
    isError(await request(app).post('/v1/devices').set(bearer(user)).send({ ...PHONE, id: 'x1' }), '/v1/devices', 'post', 403);
    isError(await request(app).post('/v1/devices').set(bearer(ADMIN)).send(PHONE), '/v1/devices', 'post', 409, /already exists/);
    isError(await request(app).post('/v1/devices').set(bearer(ADMIN)).send({ ...PHONE, id: 'x2', threads: 0 }), '/v1/devices', 'post', 400, /threads/);
    isError(await request(app).post('/v1/devices').set(bearer(ADMIN)).send({ ...PHONE, id: 'x3', runtime: 'coreml' }), '/v1/devices', 'post', 400, /runtime/);
    isError(await request(app).post('/v1/devices').set(bearer(ADMIN)).send({ ...PHONE, id: 'Bad Id' }), '/v1/devices', 'post', 400, /id/);
    const { name: _n, ...noName } = PHONE;
    isError(await request(app).post('/v1/devices').set(bearer(ADMIN)).send({ ...noName, id: 'x4' }), '/v1/devices', 'post', 400, /name/);
    isError(await request(app).post('/v1/devices').set(bearer(ADMIN)).set('Content-Type', 'application/json').send('{"id":'), '/v1/devices', 'post', 400, 'malformed_json');
    isError(await request(app).post('/v1/devices'), '/v1/devices', 'post', 401);
  });

  it('unknown device 404, malformed percent-encoding 400, no key 401', async () => {
    isError(await request(app).get('/v1/devices/nope').set(bearer(user)), '/v1/devices/{deviceId}', 'get', 404, /nope/);
    isError(await request(app).get('/v1/devices/%E0%A4%A').set(bearer(user)), '/v1/devices/{deviceId}', 'get', 400, 'malformed_url');
    isError(await request(app).get('/v1/devices/node-tflite-wasm'), '/v1/devices/{deviceId}', 'get', 401);
  });

  it('benchmark suite: manifest and every model with the device token or a key; unknown or traversing file names 404; no credentials 401', async () => {
    const r = await request(app).get('/v1/devices/pixel-7/benchmark-suite').set(bearer(phoneToken));
    conforms(r, '/v1/devices/{deviceId}/benchmark-suite', 'get', 200);
    assert.equal(r.body.bundleId, manifest.bundleId);
    for (const m of [r.body.reference, r.body.kernels[0], r.body.networks[0]]) {
      const f = await request(app).get(`/v1/devices/pixel-7/benchmark-suite/${m.file}`).set(bearer(user)).buffer(true).parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      conforms(f, '/v1/devices/{deviceId}/benchmark-suite/models/{file}', 'get', 200);
      assert.equal((f.body as Buffer).subarray(4, 8).toString('latin1'), 'TFL3');
    }
    const p = '/v1/devices/{deviceId}/benchmark-suite/models/{file}';
    isError(await request(app).get('/v1/devices/pixel-7/benchmark-suite/models/99999.tflite').set(bearer(user)), p, 'get', 404);
    isError(await request(app).get('/v1/devices/pixel-7/benchmark-suite/models/..%2Fmanifest.json').set(bearer(user)), p, 'get', 404);
    isError(await request(app).get('/v1/devices/pixel-7/benchmark-suite'), '/v1/devices/{deviceId}/benchmark-suite', 'get', 401);
    isError(await request(app).get('/v1/devices/pixel-7/benchmark-suite').set(bearer('dev_wrong')), '/v1/devices/{deviceId}/benchmark-suite', 'get', 401);
    isError(await request(app).get('/v1/devices/nope/benchmark-suite').set(bearer(user)), '/v1/devices/{deviceId}/benchmark-suite', 'get', 404);
  });

  it('measurements: rejected uploads answer 400/401/403/413/415/422 and store nothing', async () => {
    const P = '/v1/devices/{deviceId}/measurements';
    const post = (token: string) => request(app).post('/v1/devices/pixel-7/measurements').set(bearer(token));
    const partial = uploadFor(manifest, 'pixel-7');
    delete partial.models.baseline;
    isError(await post(phoneToken).send(partial), P, 'post', 422, /partial/);
    const negative = uploadFor(manifest, 'pixel-7', -1);
    isError(await post(phoneToken).send(negative), P, 'post', 400, 'invalid_request');
    const other = uploadFor(manifest, 'pixel-7');
    other.bundleId = '0000000000000000';
    isError(await post(phoneToken).send(other), P, 'post', 422, /bundle/);
    isError(await post(phoneToken).send(uploadFor(manifest, 'someone-else')), P, 'post', 422, /someone-else/);
    isError(await post(phoneToken).set('Content-Type', 'application/json').send('{"format":'), P, 'post', 400, 'malformed_json');
    isError(await post(phoneToken).send({ format: 'nas-profile-results' }), P, 'post', 400, /must have required property/);
    isError(await post(phoneToken).set('Content-Type', 'text/plain').send('x'), P, 'post', 415);
    isError(await post(phoneToken).set('Content-Type', 'application/json').send(JSON.stringify({ pad: 'x'.repeat(600 * 1024) })), P, 'post', 413, 'payload_too_large');
    isError(await post(user).send(uploadFor(manifest, 'pixel-7')), P, 'post', 403);
    isError(await post('dev_not-a-token').send(uploadFor(manifest, 'pixel-7')), P, 'post', 401);
    isError(await request(app).post('/v1/devices/pixel-7/measurements').send(uploadFor(manifest, 'pixel-7')), P, 'post', 401);
    const d = await request(app).get('/v1/devices/pixel-7').set(bearer(user));
    assert.deepEqual(d.body.versions, []);
    assert.equal(d.body.table, null);
    isError(await request(app).get('/v1/devices/pixel-7/latency-table').set(bearer(user)), '/v1/devices/{deviceId}/latency-table', 'get', 404, /no latency table/);
  });

  it('measurements: a valid upload with the device token becomes version 1, the next one version 2; both stay readable', async () => {
    const P = '/v1/devices/{deviceId}/measurements';
    const r1 = await request(app).post('/v1/devices/pixel-7/measurements').set(bearer(phoneToken)).send(uploadFor(manifest, 'pixel-7'));
    conforms(r1, P, 'post', 201);
    assert.equal(r1.body.version, 1);
    assert.equal(r1.body.entries, manifest.kernels.length);
    const r2 = await request(app).post('/v1/devices/pixel-7/measurements').set(bearer(phoneToken)).send(uploadFor(manifest, 'pixel-7', 1.0));
    conforms(r2, P, 'post', 201);
    assert.equal(r2.body.version, 2);
    const cur = await request(app).get('/v1/devices/pixel-7/latency-table').set(bearer(user));
    conforms(cur, '/v1/devices/{deviceId}/latency-table', 'get', 200);
    assert.equal(cur.body.version, 2);
    assert.equal(cur.body.table.device.name, 'Pixel 7', 'the stored table carries the registered profile');
    const v1 = await request(app).get('/v1/devices/pixel-7/latency-table?version=1').set(bearer(user));
    conforms(v1, '/v1/devices/{deviceId}/latency-table', 'get', 200);
    assert.equal(v1.body.current, false);
    const k = manifest.kernels[0]!.id;
    assert.ok(cur.body.table.entries[k].latencyMs > v1.body.table.entries[k].latencyMs * 1.5);
    isError(await request(app).get('/v1/devices/pixel-7/latency-table?version=9').set(bearer(user)), '/v1/devices/{deviceId}/latency-table', 'get', 404);
    isError(await request(app).get('/v1/devices/pixel-7/latency-table?version=abc').set(bearer(user)), '/v1/devices/{deviceId}/latency-table', 'get', 400, /version/);
  });

  it("an upload for a built-in device becomes version 2; the shipped file is untouched and version 1 can be restored", async () => {
    const file = join(shippedPaths.latencyTables, 'node-tflite-wasm.json');
    const before = sha(file);
    const P = '/v1/devices/{deviceId}/latency-table/restore';
    const up = uploadFor(manifest, 'node-tflite-wasm');
    const r = await request(app).post('/v1/devices/node-tflite-wasm/measurements').set(bearer(ADMIN)).send(up);
    conforms(r, '/v1/devices/{deviceId}/measurements', 'post', 201);
    assert.equal(r.body.version, 2);
    assert.equal(sha(file), before);
    const cur = await request(app).get('/v1/devices/node-tflite-wasm/latency-table').set(bearer(user));
    assert.equal(cur.body.version, 2);
    const predict = () => request(app).post('/v1/latency/predict').set(bearer(user)).send({ deviceId: 'node-tflite-wasm', arch: 'proxy-small', input: '28x28x1', classes: 10 });
    const p2 = await predict();
    conforms(p2, '/v1/latency/predict', 'post', 200);
    assert.equal(p2.body.tableVersion, 2, 'predictions use the current version');
    assert.ok(p2.body.coverage < 1, 'the uploaded version holds only the suite\'s few kernels');
    isError(await request(app).post('/v1/devices/node-tflite-wasm/latency-table/restore').set(bearer(user)).send({ version: 1 }), P, 'post', 403);
    isError(await request(app).post('/v1/devices/node-tflite-wasm/latency-table/restore').set(bearer(ADMIN)).send({ version: 7 }), P, 'post', 404, /version 7/);
    isError(await request(app).post('/v1/devices/node-tflite-wasm/latency-table/restore').set(bearer(ADMIN)).send({ version: '1' }), P, 'post', 400, /version/);
    const ok = await request(app).post('/v1/devices/node-tflite-wasm/latency-table/restore').set(bearer(ADMIN)).send({ version: 1 });
    conforms(ok, P, 'post', 200);
    assert.deepEqual([ok.body.version, ok.body.source, ok.body.current], [1, 'shipped', true]);
    const d = await request(app).get('/v1/devices/node-tflite-wasm').set(bearer(user));
    assert.deepEqual(d.body.versions.map((v: Json) => [v.version, v.current]), [[1, true], [2, false]]);
    assert.equal(d.body.tableVersion, 1);
    const p1 = await predict();
    assert.equal(p1.body.tableVersion, 1);
    assert.notEqual(p1.body.latencyMs, p2.body.latencyMs);
  });

  it('upload-token rotation (admin): the new token works, the old one no longer does', async () => {
    const P = '/v1/devices/{deviceId}/upload-token';
    isError(await request(app).post('/v1/devices/pixel-7/upload-token').set(bearer(user)), P, 'post', 403);
    isError(await request(app).post('/v1/devices/nope/upload-token').set(bearer(ADMIN)), P, 'post', 404);
    const r = await request(app).post('/v1/devices/pixel-7/upload-token').set(bearer(ADMIN));
    conforms(r, P, 'post', 200);
    isError(await request(app).get('/v1/devices/pixel-7/benchmark-suite').set(bearer(phoneToken)), '/v1/devices/{deviceId}/benchmark-suite', 'get', 401);
    conforms(await request(app).get('/v1/devices/pixel-7/benchmark-suite').set(bearer(r.body.uploadToken)), '/v1/devices/{deviceId}/benchmark-suite', 'get', 200);
    // a device's token is not a token for another device
    isError(await request(app).get('/v1/devices/node-tfjs-wasm/benchmark-suite').set(bearer(r.body.uploadToken)), '/v1/devices/{deviceId}/benchmark-suite', 'get', 401);
  });

  it('measurement uploads are rate limited (429)', async () => {
    const { app: limited } = testApp({ bundleDir, rateLimit: { uploads: 2, windowMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await request(limited).post('/v1/devices/node-tfjs-wasm/measurements').set(bearer(ADMIN)).send({});
      statuses.push(r.status);
      if (r.status === 429) isError(r, '/v1/devices/{deviceId}/measurements', 'post', 429, 'rate_limited');
    }
    assert.deepEqual(statuses, [400, 400, 429]);
  });
});
