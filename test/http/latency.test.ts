// POST /v1/latency/predict over HTTP, against the shipped tables.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import request from 'supertest';
import { loadPredictor } from '../../src/latency/index.ts';
import { shippedPaths } from '../../src/config/paths.ts';
import { getPreset } from '../../src/space/presets.ts';
import { toWire } from '../../src/space/archspec.ts';
import { ADMIN, bearer, conforms, isError, testApp } from './helpers.ts';

const P = '/v1/latency/predict';

describe('http: latency prediction', () => {
  const { app } = testApp();
  let user: string;
  before(async () => {
    user = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'u' })).body.token;
  });
  const predict = (body: unknown) => request(app).post(P).set(bearer(user)).send(body as object);

  it('a preset on a built-in device: the same figure as the library predictor, full coverage, MACs and params', async () => {
    const r = await predict({ deviceId: 'node-tflite-wasm', arch: 'mnasnet-a1', input: '224x224x3', classes: 1000 });
    conforms(r, P, 'post', 200);
    const lib = loadPredictor('node-tflite-wasm', { tablesDir: shippedPaths.latencyTables, devicesDir: shippedPaths.deviceProfiles, calibration: 'off' })
      .predict(getPreset('mnasnet-a1', { smallInput: false }), { height: 224, width: 224, channels: 3 }, 1000);
    assert.equal(r.body.latencyMs, lib.latencyMs);
    assert.equal(r.body.coverage, lib.coverage);
    assert.equal(r.body.tableVersion, 1);
    assert.equal(r.body.calibration, 'none', 'no host calibration in a fresh data directory: table units');
    assert.ok(r.body.macs > 300e6 && r.body.macs < 320e6, String(r.body.macs));
  });

  it('block strings (array or one string) and an ArchSpec object give the same prediction', async () => {
    const blocks = ['ir_r1_k3_s1_e1_c16', 'ir_r2_k5_s2_e6_c24_se0.25'];
    const a = await predict({ deviceId: 'node-tfjs-wasm', arch: blocks, input: '32x32x3', classes: 10 });
    conforms(a, P, 'post', 200);
    const b = await predict({ deviceId: 'node-tfjs-wasm', arch: blocks.join(' '), input: '32x32x3', classes: 10 });
    assert.equal(b.body.latencyMs, a.body.latencyMs);
    const spec = getPreset('proxy-small', { smallInput: true });
    const c = await predict({ deviceId: 'node-tfjs-wasm', arch: toWire(spec), input: '32x32x3', classes: 10 });
    conforms(c, P, 'post', 200);
    assert.ok(c.body.latencyMs > 0 && c.body.coverage > 0);
  });

  it('bad requests: unknown device 404, bad block 400 naming it, missing/wrong fields 400, file names refused, no key 401', async () => {
    isError(await predict({ deviceId: 'nope', arch: 'mnasnet-a1', input: '224x224x3', classes: 1000 }), P, 'post', 404, /nope/);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: ['ir_r1_k4_s1_e1_c16'], input: '32x32x3', classes: 10 }), P, 'post', 400, /k4|kernel/);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: 'mnasnet-a1', input: '224x224x3' }), P, 'post', 400, /classes/);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: 'mnasnet-a1', input: 224, classes: 10 }), P, 'post', 400, /input/);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: 'mnasnet-a1', input: '224x224x3', classes: 1 }), P, 'post', 400, /classes/);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: '/etc/passwd.json', input: '32x32x3', classes: 10 }), P, 'post', 400, /file name/);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: { version: 1, blocks: 3 }, input: '32x32x3', classes: 10 }), P, 'post', 400);
    isError(await predict({ deviceId: 'node-tflite-wasm', arch: 'mnasnet-a1', input: '32x32x3', classes: 10, version: 5 }), P, 'post', 404, /version 5/);
    isError(await request(app).post(P).send({ deviceId: 'node-tflite-wasm', arch: 'mnasnet-a1', input: '32x32x3', classes: 10 }), P, 'post', 401);
  });
});
