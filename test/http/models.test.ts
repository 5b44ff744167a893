// Models over HTTP on a store holding what a finished `nas run` leaves
// (a models row, its exports as checked artifacts): list and card, owner
// isolation (404), downloads of a .tflite file and of a TF.js export as a
// zip with its card, each with a SHA-256 that matches the bytes and the
// listing; bad or missing formats; a tampered file is never served.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, it, before } from 'node:test';
import request from 'supertest';
import yauzl from 'yauzl';
import { artifactFile, putArtifact } from '../../src/store/artifacts.ts';
import { ADMIN, bearer, conforms, isError, spec, testApp } from './helpers.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function unzip(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out = new Map<string, Buffer>();
      zip.on('entry', (e: yauzl.Entry) => zip.openReadStream(e, (er, s) => {
        if (er || !s) return reject(er);
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => { out.set(e.fileName, Buffer.concat(chunks)); zip.readEntry(); });
      }));
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}

const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

describe('/v1/models', () => {
  const { ctx, app } = testApp();
  let keyA: string;
  let keyB: string;
  let ownerA: string;
  const tflite = new Uint8Array([0x1c, 0, 0, 0, 0x54, 0x46, 0x4c, 0x33, 1, 2, 3, 4, 5]);
  const int8 = new Uint8Array([0x1c, 0, 0, 0, 0x54, 0x46, 0x4c, 0x33, 9, 9]);
  const modelJson = new TextEncoder().encode('{"format":"layers-model","weightsManifest":[]}');
  const shard = new Uint8Array(1000).map((_, i) => i % 251);
  const card = { schema: 'mobile-nas/model-card@1', archId: 'abcd1234abcd1234', params: 1234, macs: 56789, accuracy: { top1: 0.91, split: 'test' }, measuredLatency: { latencyMs: 3.2, device: 'node-tflite-wasm' } };
  let tfliteArtifact: string;

  function addModel(id: string, owner: string, status: string, stage: string, withFiles: boolean): void {
    const at = new Date().toISOString();
    ctx.db.prepare(`INSERT INTO models (id, owner, search_id, arch_id, spec, options, card, status, stage, created_at, updated_at, finished_at)
      VALUES (?, ?, NULL, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`).run(id, owner, withFiles ? card.archId : null,
      JSON.stringify({ dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 5 }), withFiles ? JSON.stringify(card) : null, status, stage, at, at, withFiles ? at : null);
    if (!withFiles) return;
    const cardBytes = new TextEncoder().encode(JSON.stringify(card));
    const files: [string, string, Uint8Array][] = [
      ['tflite', 'model.tflite', tflite], ['tflite', 'model-card.json', cardBytes],
      ['tflite-int8', 'model.tflite', int8], ['tflite-int8', 'model-card.json', cardBytes],
      ['tfjs', 'model.json', modelJson], ['tfjs', 'group1-shard1of1.bin', shard], ['tfjs', 'model-card.json', cardBytes],
    ];
    for (const [format, name, bytes] of files) {
      const a = putArtifact(ctx.db, `model-${format}`, name, bytes, ctx.dataDir);
      if (format === 'tflite' && name === 'model.tflite') tfliteArtifact = a.id;
      ctx.db.prepare('INSERT INTO model_files (model_id, format, name, artifact_id) VALUES (?, ?, ?, ?)').run(id, format, name, a.id);
    }
  }

  before(async () => {
    const a = await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'a' });
    keyA = a.body.token;
    ownerA = a.body.id;
    keyB = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'b' })).body.token;
    addModel('mdl_done', ownerA, 'succeeded', 'done', true);
    addModel('mdl_running', ownerA, 'running', 'final-training', false);
  });

  it('lists the caller\'s models with their formats\' sizes and digests; another key sees none', async () => {
    const res = await request(app).get('/v1/models').set(bearer(keyA));
    conforms(res, '/v1/models', 'get', 200);
    assert.deepEqual(res.body.items.map((m: { id: string }) => m.id).sort(), ['mdl_done', 'mdl_running']);
    const m = res.body.items.find((x: { id: string }) => x.id === 'mdl_done');
    assert.deepEqual(m.formats.map((f: { format: string }) => f.format), ['tflite', 'tflite-int8', 'tfjs']);
    assert.equal(m.formats[0].sha256, sha(tflite));
    assert.equal(m.formats[0].sizeBytes, tflite.byteLength);
    assert.equal(m.accuracy, 0.91);
    assert.equal(m.latencyMs, 3.2);
    assert.equal(m.latencyKind, 'measured');
    assert.equal(m.deviceId, 'node-tflite-wasm');
    const running = res.body.items.find((x: { id: string }) => x.id === 'mdl_running');
    assert.deepEqual(running.formats, []);
    assert.equal(running.archId, null);
    assert.deepEqual((await request(app).get('/v1/models').set(bearer(keyB))).body.items, []);
    isError(await request(app).get('/v1/models'), '/v1/models', 'get', 401);
  });

  it('GET /v1/models/{id} gives the card; another key\'s model is 404', async () => {
    const res = await request(app).get('/v1/models/mdl_done').set(bearer(keyA));
    conforms(res, '/v1/models/{modelId}', 'get', 200);
    assert.deepEqual(res.body.card, card);
    isError(await request(app).get('/v1/models/mdl_done').set(bearer(keyB)), '/v1/models/{modelId}', 'get', 404);
    isError(await request(app).get('/v1/models/mdl_nope').set(bearer(keyA)), '/v1/models/{modelId}', 'get', 404);
    isError(await request(app).get('/v1/models/mdl_done/download?format=tflite').set(bearer(keyB)), '/v1/models/{modelId}/download', 'get', 404);
  });

  it('downloads the .tflite file with Content-Disposition and a SHA-256 matching the bytes and the listing', async () => {
    for (const [format, bytes, name] of [['tflite', tflite, 'mdl_done.tflite'], ['tflite-int8', int8, 'mdl_done-int8.tflite']] as const) {
      const res = await request(app).get(`/v1/models/mdl_done/download?format=${format}`).set(bearer(keyA)).buffer(true).parse(binary);
      conforms(res, '/v1/models/{modelId}/download', 'get', 200);
      assert.deepEqual(new Uint8Array(res.body as Buffer), bytes);
      assert.equal(res.headers['x-checksum-sha256'], sha(bytes));
      assert.equal(res.headers.digest, `sha-256=${createHash('sha256').update(bytes).digest('base64')}`);
      assert.equal(res.headers['content-disposition'], `attachment; filename="${name}"`);
    }
  });

  it('downloads a TF.js export as a zip of its files with the model card, digest as listed', async () => {
    const res = await request(app).get('/v1/models/mdl_done/download?format=tfjs').set(bearer(keyA)).buffer(true).parse(binary);
    assert.equal(res.status, 200);
    // the contract lists application/zip for this answer (the shared helper checks only its first media type)
    assert.ok('application/zip' in spec.paths['/v1/models/{modelId}/download'].get.responses['200'].content);
    assert.match(res.headers['content-type'] ?? '', /^application\/zip/);
    const body = res.body as Buffer;
    assert.equal(res.headers['x-checksum-sha256'], sha(body));
    const listed = (await request(app).get('/v1/models/mdl_done').set(bearer(keyA))).body.formats.find((f: { format: string }) => f.format === 'tfjs');
    assert.equal(listed.sha256, sha(body));
    assert.equal(listed.sizeBytes, body.byteLength);
    const entries = await unzip(body);
    assert.deepEqual([...entries.keys()].sort(), ['group1-shard1of1.bin', 'model-card.json', 'model.json']);
    assert.deepEqual(new Uint8Array(entries.get('group1-shard1of1.bin')!), shard);
    assert.deepEqual(JSON.parse(entries.get('model-card.json')!.toString('utf8')), card);
  });

  it('a bad or missing format is 400; a format a running model has not exported yet is 404 naming its stage', async () => {
    isError(await request(app).get('/v1/models/mdl_done/download').set(bearer(keyA)), '/v1/models/{modelId}/download', 'get', 400, /format/);
    isError(await request(app).get('/v1/models/mdl_done/download?format=onnx').set(bearer(keyA)), '/v1/models/{modelId}/download', 'get', 400, /tflite, tflite-int8, tfjs/);
    isError(await request(app).get('/v1/models/mdl_running/download?format=tflite').set(bearer(keyA)), '/v1/models/{modelId}/download', 'get', 404, /final-training/);
  });

  it('never serves a file whose bytes no longer match its stored SHA-256', async () => {
    const rec = ctx.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(tfliteArtifact) as { id: string; kind: string; path: string; sha256: string; size_bytes: number; created_at: string };
    writeFileSync(artifactFile({ id: rec.id, kind: rec.kind, path: rec.path, sha256: rec.sha256, sizeBytes: rec.size_bytes, createdAt: rec.created_at }, ctx.dataDir), new Uint8Array(tflite.byteLength));
    const res = await request(app).get('/v1/models/mdl_done/download?format=tflite').set(bearer(keyA));
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'internal');
  });
});
