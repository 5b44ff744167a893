// The store and the data directory stay in step: uploads and restores write
// the device's current table where searches and the CLI read it
// (`loadPredictor`), registered profiles are written there too, and a table
// someone else wrote there (a local `nas profile` run) is imported as a
// 'local' version instead of being overwritten.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { dataPaths, shippedPaths } from '../../src/config/paths.ts';
import { createApp } from '../../src/http/app.ts';
import { createContext } from '../../src/http/context.ts';
import { createLogger } from '../../src/http/logger.ts';
import { writeBundle } from '../../src/latency/bundle.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { getPreset } from '../../src/space/presets.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { ADMIN, bearer, conforms, uploadFor } from './helpers.ts';
import { CALIBRATION_FORMAT, CALIBRATION_FORMAT_VERSION, fingerprintId, fitMapping, hostFingerprint, mappingFit, saveCalibration } from '../../src/latency/calibration.ts';
import { loadDevice } from '../../src/latency/device.ts';
import { loadTable } from '../../src/latency/table.ts';

const bundleDir = mkdtempSync(join(tmpdir(), 'sync-bundle-'));
const manifest = writeBundle(bundleDir, { targets: [{ skeleton: SKELETON_SMALL, input: { height: 28, width: 28, channels: 1 } }], numClasses: 10, maxKernelsPerTarget: 4, calibrationNetworks: 0, repeats: 5 });

function start(dataDir: string) {
  const { ctx } = createContext({ dataDir, logger: createLogger({ level: 'silent' }), adminToken: ADMIN, bundleDir });
  return { ctx, app: createApp(ctx) };
}

describe('http: store <-> data directory', () => {
  it('registration and uploads are written where loadPredictor reads; restoring the shipped version removes the copy', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sync-'));
    const { ctx, app } = start(dataDir);
    const p = dataPaths(dataDir);
    const created = await request(app).post('/v1/devices').set(bearer(ADMIN)).send({ id: 'pixel-7', name: 'Pixel 7', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 4, cpu: 'G2' });
    assert.equal(created.status, 201);
    assert.equal(JSON.parse(readFileSync(join(p.deviceProfiles, 'pixel-7.json'), 'utf8')).name, 'Pixel 7');
    const up = await request(app).post('/v1/devices/pixel-7/measurements').set(bearer(created.body.uploadToken)).send(uploadFor(manifest, 'pixel-7'));
    assert.equal(up.status, 201);
    const lp = loadPredictor('pixel-7', { tablesDir: p.latencyTables, devicesDir: p.deviceProfiles });
    const spec = getPreset('proxy-small', { smallInput: true });
    const api = await request(app).post('/v1/latency/predict').set(bearer(ADMIN)).send({ deviceId: 'pixel-7', arch: 'proxy-small', input: '28x28x1', classes: 10 });
    const lib = lp.predict(spec, { height: 28, width: 28, channels: 1 }, 10).latencyMs;
    assert.ok(Math.abs(api.body.latencyMs - lib) <= 1e-9 * lib, `the API and searches predict the same: ${api.body.latencyMs} vs ${lib}`);

    const r = await request(app).post('/v1/devices/node-tfjs-wasm/measurements').set(bearer(ADMIN)).send(uploadFor(manifest, 'node-tfjs-wasm'));
    assert.equal(r.status, 201);
    const copy = join(p.latencyTables, 'node-tfjs-wasm.json');
    assert.equal(Object.keys(JSON.parse(readFileSync(copy, 'utf8')).entries).length, manifest.kernels.length);
    await request(app).post('/v1/devices/node-tfjs-wasm/latency-table/restore').set(bearer(ADMIN)).send({ version: 1 }).expect(200);
    assert.equal(existsSync(copy), false, 'the shipped table is in force again');
    await request(app).post('/v1/devices/node-tfjs-wasm/latency-table/restore').set(bearer(ADMIN)).send({ version: 2 }).expect(200);
    assert.ok(existsSync(copy));
    ctx.db.close();
  });

  it("a table someone else wrote to the data directory is imported as a 'local' version (at start, and before an upload replaces it)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sync-local-'));
    const p = dataPaths(dataDir);
    mkdirSync(p.latencyTables, { recursive: true });
    const shipped = JSON.parse(readFileSync(join(shippedPaths.latencyTables, 'node-tfjs-wasm.json'), 'utf8'));
    writeFileSync(join(p.latencyTables, 'node-tfjs-wasm.json'), JSON.stringify({ ...shipped, createdAt: '2026-11-30T00:00:00.000Z' }));
    let { ctx, app } = start(dataDir);
    let d = await request(app).get('/v1/devices/node-tfjs-wasm').set(bearer(ADMIN));
    assert.deepEqual(d.body.versions.map((v: { version: number; source: string; current: boolean }) => [v.version, v.source, v.current]), [[1, 'shipped', false], [2, 'local', true]]);
    ctx.db.close();
    // a restart with the same file imports nothing new
    ({ ctx, app } = start(dataDir));
    d = await request(app).get('/v1/devices/node-tfjs-wasm').set(bearer(ADMIN));
    assert.equal(d.body.versions.length, 2);
    // a local run rewrites the file while the service runs: the device (and predictions) see it at once
    writeFileSync(join(p.latencyTables, 'node-tfjs-wasm.json'), JSON.stringify({ ...shipped, createdAt: '2026-11-30T01:00:00.000Z' }));
    const pr = await request(app).post('/v1/latency/predict').set(bearer(ADMIN)).send({ deviceId: 'node-tfjs-wasm', arch: 'proxy-small', input: '28x28x1', classes: 10 });
    assert.equal(pr.body.tableVersion, 3);
    // and a local rewrite is kept as a version before an upload replaces the file
    writeFileSync(join(p.latencyTables, 'node-tfjs-wasm.json'), JSON.stringify({ ...shipped, createdAt: '2026-11-30T02:00:00.000Z' }));
    const r = await request(app).post('/v1/devices/node-tfjs-wasm/measurements').set(bearer(ADMIN)).send(uploadFor(manifest, 'node-tfjs-wasm'));
    assert.equal(r.body.version, 5);
    d = await request(app).get('/v1/devices/node-tfjs-wasm').set(bearer(ADMIN));
    assert.deepEqual(d.body.versions.map((v: { source: string }) => v.source), ['shipped', 'local', 'local', 'local', 'upload']);
    ctx.db.close();
  });

  it('an invalid device profile or table in the data directory is skipped, not fatal', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sync-bad-'));
    const p = dataPaths(dataDir);
    mkdirSync(p.deviceProfiles, { recursive: true });
    mkdirSync(p.latencyTables, { recursive: true });
    writeFileSync(join(p.deviceProfiles, 'broken.json'), '{not json');
    writeFileSync(join(p.latencyTables, 'node-tfjs-wasm.json'), '{"format":"nope"}');
    const { ctx, app } = start(dataDir);
    const list = await request(app).get('/v1/devices').set(bearer(ADMIN));
    assert.deepEqual(list.body.items.map((x: { id: string }) => x.id).sort(), ['node-tfjs-wasm', 'node-tflite-wasm']);
    ctx.db.close();
  });
});

describe('http: predictor accuracy and host calibration', () => {
  it("a local device with a host calibration reports its fit, and predictions are in this host's ms", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sync-cal-'));
    const { ctx, app } = start(dataDir);
    const before = await request(app).get('/v1/devices/node-tflite-wasm').set(bearer(ADMIN));
    conforms(before, '/v1/devices/{deviceId}', 'get', 200);
    assert.equal(before.body.predictorAccuracy, null);
    const table = loadTable('node-tflite-wasm', shippedPaths.latencyTables);
    const device = loadDevice('node-tflite-wasm', shippedPaths.deviceProfiles);
    const fingerprint = hostFingerprint(device, table);
    const points = [1, 2, 3].map((i) => ({ name: `n${i}`, input: '28x28x1', tableRatio: 10 * i, conv1x1TableRatio: 0, measuredRatio: 20 * i + 1, relIqr: 0.01, rounds: 21 }));
    const pts = points.map((p) => ({ table: p.tableRatio, host: p.measuredRatio }));
    const mapping = fitMapping(pts);
    const reference = { ms: 0.25, measuredAt: new Date().toISOString(), calls: 80 };
    saveCalibration({
      format: CALIBRATION_FORMAT, formatVersion: CALIBRATION_FORMAT_VERSION, deviceId: device.id, fingerprint, fingerprintId: fingerprintId(fingerprint), createdAt: new Date().toISOString(),
      tableReferenceMs: table.measure.referenceMs, mapping, reference, points, classes: [], fit: { ...mappingFit(mapping, pts), maxClassErr: null }, fits: true,
      speed: { referenceMinMs: 0.2, referenceMaxMs: 0.3 }, method: { clock: 'cpu', interleaved: true, rounds: 21, batchMs: 1, threads: 1 }, loadAvg: [0, 0], wallS: 1,
    }, dataPaths(dataDir).calibrations);
    const d = await request(app).get('/v1/devices/node-tflite-wasm').set(bearer(ADMIN));
    conforms(d, '/v1/devices/{deviceId}', 'get', 200);
    assert.equal(d.body.predictorAccuracy.state, 'fresh');
    assert.equal(d.body.predictorAccuracy.networks, 3);
    assert.equal(d.body.predictorAccuracy.within10, 1);
    const r = await request(app).post('/v1/latency/predict').set(bearer(ADMIN)).send({ deviceId: 'node-tflite-wasm', arch: 'proxy-small', input: '28x28x1', classes: 10 });
    conforms(r, '/v1/latency/predict', 'post', 200);
    assert.equal(r.body.calibration, 'fresh');
    // the calibration maps the table's kernel sum (reported host-scaled) and adds this host's own overhead
    assert.ok(Math.abs(r.body.latencyMs - (r.body.kernelSumMs + mapping.overheadRatio * reference.ms)) < 1e-9, JSON.stringify(r.body));
    assert.notEqual(r.body.latencyMs, r.body.tableLatencyMs);
    ctx.db.close();
  });
});
