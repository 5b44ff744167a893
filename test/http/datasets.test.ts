// POST/GET /v1/datasets: safe extraction, corrupt images listed, ownership,
// limits; every answer checked against api/openapi.json.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import request from 'supertest';
import { dataPaths } from '../../src/config/paths.ts';
import { parseApiDatasetRef, resolveDatasetRef } from '../../src/app/datasets.ts';
import { ADMIN, bearer, conforms, isError, testApp } from './helpers.ts';
import { makeZip, type TestZipEntry } from './zip.ts';

const png = (v: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 255 - v, b: 40 } } }).png().toBuffer();

describe('http: datasets', () => {
  const { app, ctx, dataDir } = testApp({ limits: { datasetBytes: 256 * 1024 } });
  let alice: string;
  let aliceId: string;
  let bob: string;
  let images: TestZipEntry[];
  const P = '/v1/datasets';
  const upload = (token: string, zip: Buffer, query = '') => request(app).post(P + query).set(bearer(token)).set('Content-Type', 'application/zip').send(zip);

  before(async () => {
    ({ token: alice, id: aliceId } = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'alice' })).body);
    bob = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'bob' })).body.token;
    images = [
      { name: 'shapes/cat/', mode: 0o040755 },
      { name: 'shapes/cat/a.png', data: await png(10) }, { name: 'shapes/cat/b.png', data: await png(20) },
      { name: 'shapes/dog/c.png', data: await png(200) }, { name: 'shapes/dog/d.png', data: Buffer.from('not an image') },
      { name: '__MACOSX/shapes/._a.png', data: Buffer.from('x') },
    ];
  });

  it('a zip of class folders is stored with its sha256, classes and the corrupt images listed; only the owner sees it', async () => {
    const zip = makeZip(images);
    const r = await upload(alice, zip, '?name=shapes');
    conforms(r, P, 'post', 201);
    assert.equal(r.body.sha256, createHash('sha256').update(zip).digest('hex'));
    assert.deepEqual(r.body.classes, [{ name: 'cat', images: 2 }, { name: 'dog', images: 1 }]);
    assert.deepEqual(r.body.corrupt, ['dog/d.png']);
    assert.equal(r.body.name, 'shapes');
    assert.equal(r.body.ref, `dataset:${r.body.id}`);
    const dir = join(dataPaths(dataDir).datasets, r.body.id, 'images');
    assert.deepEqual(readdirSync(dir).sort(), ['cat', 'dog']);
    const mine = await request(app).get(P).set(bearer(alice));
    conforms(mine, P, 'get', 200);
    assert.deepEqual(mine.body.items.map((d: { id: string }) => d.id), [r.body.id]);
    const theirs = await request(app).get(P).set(bearer(bob));
    assert.deepEqual(theirs.body.items, []);
    conforms(await request(app).get(`${P}/${r.body.id}`).set(bearer(alice)), '/v1/datasets/{datasetId}', 'get', 200);
    isError(await request(app).get(`${P}/${r.body.id}`).set(bearer(bob)), '/v1/datasets/{datasetId}', 'get', 404, 'not_found');
    assert.equal(resolveDatasetRef(ctx.db, parseApiDatasetRef(r.body.ref), aliceId), `folder:${dir}`);
    assert.throws(() => resolveDatasetRef(ctx.db, parseApiDatasetRef(r.body.ref), 'key_0000000000000000'), /not found/);
  });

  for (const [label, name, mode, msg] of [
    ['a ../ entry', 'cat/../../evil.png', undefined, /"cat\/\.\.\/\.\.\/evil\.png".*"\.\."/],
    ['an absolute path', '/etc/evil.png', undefined, /"\/etc\/evil\.png".*absolute/],
    ['a drive-letter path', 'C:/evil.png', undefined, /drive-letter/],
    ['a Windows ..\\ path', 'cat\\..\\..\\evil.png', undefined, /"cat\/\.\.\/\.\.\/evil\.png".*"\.\."/],
    ['a symlink', 'cat/link.png', 0o120777, /"cat\/link\.png".*symbolic link/],
  ] as const) {
    it(`an archive with ${label} is refused (400 naming the entry) and nothing is written`, async () => {
      const zip = makeZip([...images.slice(1, 4), { name, data: Buffer.from('/etc/passwd'), mode }]);
      const r = await upload(alice, zip);
      isError(r, P, 'post', 400, 'unsafe_archive');
      assert.match(r.body.error.message, msg);
      assert.equal(existsSync(join(dataDir, '..', 'evil.png')), false);
      const left = existsSync(dataPaths(dataDir).datasets) ? readdirSync(dataPaths(dataDir).datasets).filter((f) => f.startsWith('.incoming') || f.startsWith('.upload')) : [];
      assert.deepEqual(left, []);
    });
  }

  it('not a zip 400, one class 422, empty body 400, wrong media type 415, oversized 413, no key 401', async () => {
    isError(await upload(alice, Buffer.from('PK-not-really-a-zip')), P, 'post', 400, 'invalid_archive');
    isError(await upload(alice, makeZip(images.slice(1, 3))), P, 'post', 422, /at least 2 class folders/);
    isError(await request(app).post(P).set(bearer(alice)).set('Content-Type', 'application/zip'), P, 'post', 400);
    isError(await request(app).post(P).set(bearer(alice)).set('Content-Type', 'application/json').send('{}'), P, 'post', 415);
    isError(await upload(alice, makeZip([...images, { name: 'cat/big.png', data: Buffer.alloc(300 * 1024) }])), P, 'post', 413, 'payload_too_large');
    isError(await upload(alice, makeZip(images), '?name=../x'), P, 'post', 400, /name/);
    isError(await request(app).post(P).set('Content-Type', 'application/zip').send(makeZip(images)), P, 'post', 401);
    isError(await request(app).get(P), P, 'get', 401);
    assert.deepEqual(readdirSync(dataPaths(dataDir).datasets).filter((f) => f.startsWith('.')), [], 'no temporary files left behind');
  });

  it('a chunked upload (no Content-Length) is cut off at the limit with 413 and leaves nothing', async () => {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((ok) => server.once('listening', ok));
    try {
      const port = (server.address() as import('node:net').AddressInfo).port;
      const { status, body } = await new Promise<{ status: number; body: string }>((ok, fail) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: P, headers: { ...bearer(alice), 'Content-Type': 'application/zip', 'Transfer-Encoding': 'chunked' } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => { text += c.toString(); });
          res.on('end', () => ok({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', fail);
        for (let i = 0; i < 40; i++) req.write(Buffer.alloc(16 * 1024, 7));
        req.end();
      });
      assert.equal(status, 413, body);
      assert.equal(JSON.parse(body).error.code, 'payload_too_large');
    } finally {
      server.close();
    }
    assert.deepEqual(readdirSync(dataPaths(dataDir).datasets).filter((f) => f.startsWith('.')), []);
  });
});
