// The findings of the security probe (issue 20), each reproduced against the
// app: dataset references that name the server's disk or another key's
// upload, the upload rate limit bypassed by re-spacing the Authorization
// header, image and archive decompression bombs, object lookups reaching the
// prototype, hardening headers, API keys in the request log, server paths in
// error bodies and Node's bare 431 for oversized headers.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Router } from 'express';
import { pino } from 'pino';
import sharp from 'sharp';
import request from 'supertest';
import { PACKAGE_ROOT, dataPaths } from '../../src/config/paths.ts';
import { startService } from '../../src/cli/serve.ts';
import { ApiError } from '../../src/http/errors.ts';
import { createLogger } from '../../src/http/logger.ts';
import { serviceHandlers } from '../../src/jobs/handlers.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { attachJobQueue } from '../../src/jobs/queue.ts';
import { writeBundle } from '../../src/latency/bundle.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { FakeExecutor } from '../search/fakes.ts';
import { ADMIN, bearer, conforms, isError, testApp } from './helpers.ts';
import { makeZip, type TestZipEntry } from './zip.ts';

const png = (v: number, side = 8) => sharp({ create: { width: side, height: side, channels: 3, background: { r: v, g: 255 - v, b: 40 } } }).png().toBuffer();

async function classZip(): Promise<TestZipEntry[]> {
  return [
    { name: 'cat/a.png', data: await png(10) }, { name: 'cat/b.png', data: await png(30) },
    { name: 'dog/a.png', data: await png(200) }, { name: 'dog/b.png', data: await png(220) },
  ];
}

/** Files and folders under the data directory's datasets folder (path:size). */
function datasetFiles(dataDir: string): string[] {
  const root = dataPaths(dataDir).datasets;
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[]).sort().map((f) => {
    const st = statSync(join(root, f));
    return st.isFile() ? `${f}:${st.size}` : `${f}/`;
  });
}

describe('security: dataset references over the API (one grammar, parsed once)', () => {
  const { ctx, app, dataDir } = testApp();
  // searches are stored and queued, never run
  const queue = new InProcessQueue({ db: ctx.db, concurrency: 1, handlers: serviceHandlers({ db: ctx.db, dataDir: ctx.dataDir, deps: { executor: new FakeExecutor() } }) });
  attachJobQueue(ctx, queue);
  let alice: string;
  let bob: string;
  let aliceDs: string;
  let bobDs: string;
  const search = (token: string, dataset: unknown) => request(app).post('/v1/searches').set(bearer(token))
    .send({ dataset, deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', budget: { maxTrials: 1 } });
  // /etc's sub-folders with names long enough not to appear in a message by chance
  const etcFolders = readdirSync('/etc', { withFileTypes: true }).filter((d) => d.isDirectory() && d.name.length >= 6).map((d) => d.name);

  before(async () => {
    alice = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'alice' })).body.token;
    bob = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'bob' })).body.token;
    const zip = makeZip(await classZip());
    aliceDs = (await request(app).post('/v1/datasets').set(bearer(alice)).set('Content-Type', 'application/zip').send(zip)).body.id;
    bobDs = (await request(app).post('/v1/datasets').set(bearer(bob)).set('Content-Type', 'application/zip').send(zip)).body.id;
    assert.match(aliceDs, /^ds_/);
    assert.match(bobDs, /^ds_/);
  });
  after(async () => {
    await queue.close();
    ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a server folder behind leading whitespace (space, tab, U+00A0) is refused (400) without listing it', async () => {
    assert.ok(etcFolders.length > 0, 'this host has sub-folders in /etc to look for');
    for (const ws of [' ', '\t', '\u00a0', '\u3000', '\ufeff', '\n']) {
      const r = await search(alice, `${ws}folder:/etc`);
      isError(r, '/v1/searches', 'post', 400);
      const body = JSON.stringify(r.body);
      assert.ok(!/image folder|class folder/.test(body), `${JSON.stringify(ws)}: ${body}`);
      for (const name of etcFolders) assert.ok(!body.includes(name), `${JSON.stringify(ws)}: the answer names /etc/${name}: ${body}`);
    }
  });

  it("another key's upload cannot be trained on: not by its folder, not by its id (however spelled)", async () => {
    const folder = join(dataPaths(dataDir).datasets, bobDs, 'images');
    assert.ok(existsSync(folder));
    const before = (await request(app).get('/v1/searches').set(bearer(alice))).body.items.length;
    for (const ref of [` folder:${folder}`, `\tfolder:${folder}`, `\u00a0folder:${folder}`, `folder:${folder}`, `FOLDER:${folder}`]) {
      isError(await search(alice, ref), '/v1/searches', 'post', 400);
    }
    isError(await search(alice, `dataset:${bobDs}`), '/v1/searches', 'post', 404, /not found/);
    for (const ref of [` dataset:${bobDs}`, `Dataset:${bobDs}`, `dataset:${bobDs.toUpperCase()}`, `dataset:${bobDs}\n`, `dataset: ${bobDs}`]) {
      const r = await search(alice, ref);
      assert.ok(r.status === 400 || r.status === 404, `${JSON.stringify(ref)}: ${r.status}`);
    }
    assert.equal((await request(app).get('/v1/searches').set(bearer(alice))).body.items.length, before, 'no search was created');
  });

  it('built-in names and the caller\'s own dataset:<id> are accepted exactly as written, and shown back without a server path', async () => {
    for (const ref of ['mnist ', ' synthetic', 'MNIST', 'Synthetic', `dataset:${aliceDs} `, ` dataset:${aliceDs}`, `DATASET:${aliceDs}`, 'dataset:', 'folder:', '']) {
      isError(await search(alice, ref), '/v1/searches', 'post', 400);
    }
    const own = await search(alice, `dataset:${aliceDs}`);
    conforms(own, '/v1/searches', 'post', 202);
    assert.equal(own.body.options.dataset, `dataset:${aliceDs}`);
    const view = await request(app).get(`/v1/searches/${own.body.id}`).set(bearer(alice));
    conforms(view, '/v1/searches/{searchId}', 'get', 200);
    assert.equal(view.body.options.dataset, `dataset:${aliceDs}`);
    assert.ok(!JSON.stringify(view.body).includes(dataDir), 'the view names no server path');
    conforms(await search(alice, 'synthetic'), '/v1/searches', 'post', 202);
  });

  it('the refusal says what is accepted', async () => {
    const r = await search(alice, ' folder:/etc');
    assert.match(r.body.error.message, /dataset/);
    assert.match(r.body.error.message, /fashion-mnist, mnist, synthetic/);
    assert.match(r.body.error.message, /dataset:<id>/);
  });
});

describe('security: the upload rate limit counts per authenticated key', () => {
  const { ctx, app, dataDir } = testApp({ rateLimit: { uploads: 5, windowMs: 3_600_000 } });
  after(() => {
    ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const spellings = (t: string) => [`Bearer ${t}`, `bearer ${t}`, `BEARER ${t}`, `Bearer  ${t}`, `Bearer\t${t}`, `bEaReR \t ${t}`, `Bearer ${t}\t`, `bearer   ${t}`, `Bearer ${t}  `, `BeArEr ${t}`, `bearer\t\t${t}`, `Bearer ${t}`];

  it('re-spacing or re-casing "Bearer" does not make a new bucket: dataset uploads', async () => {
    const key = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'spacer' })).body.token;
    const statuses: number[] = [];
    for (const h of spellings(key)) {
      const r = await request(app).post('/v1/datasets').set('Authorization', h).set('Content-Type', 'application/zip').send(Buffer.from('PK-not-a-zip'));
      statuses.push(r.status);
    }
    assert.equal(statuses.filter((s) => s !== 429).length, 5, `statuses ${statuses.join(',')}`);
    assert.ok(statuses.slice(0, 5).every((s) => s === 400), `the first five were read (400 not a zip): ${statuses.join(',')}`);
    const limited = await request(app).post('/v1/datasets').set('Authorization', `bearer    ${key}`).set('Content-Type', 'application/zip').send(Buffer.from('PK'));
    isError(limited, '/v1/datasets', 'post', 429, 'rate_limited');
    // another key has its own bucket
    const other = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'other' })).body.token;
    assert.equal((await request(app).post('/v1/datasets').set(bearer(other)).set('Content-Type', 'application/zip').send(Buffer.from('PK'))).status, 400);
  });

  it('re-spacing the device upload token does not make a new bucket: measurement uploads', async () => {
    const dev = await request(app).post('/v1/devices').set(bearer(ADMIN)).send({ id: 'rl-phone', name: 'p', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 1, cpu: 'arm64' });
    assert.equal(dev.status, 201, JSON.stringify(dev.body));
    const statuses: number[] = [];
    for (const h of spellings(dev.body.uploadToken)) {
      statuses.push((await request(app).post('/v1/devices/rl-phone/measurements').set('Authorization', h).send({ not: 'results' })).status);
    }
    assert.equal(statuses.filter((s) => s !== 429).length, 5, `statuses ${statuses.join(',')}`);
  });
});

describe('security: image and archive bombs in dataset uploads', () => {
  const { ctx, app, dataDir } = testApp();
  let key: string;
  let kept: { id: string; files: string[] };
  const upload = (zip: Buffer) => request(app).post('/v1/datasets').set(bearer(key)).set('Content-Type', 'application/zip').send(zip);
  before(async () => {
    key = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'bomber' })).body.token;
    const r = await upload(makeZip(await classZip()));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    kept = { id: r.body.id, files: datasetFiles(dataDir) };
  });
  after(() => {
    ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const intact = async () => {
    assert.deepEqual(datasetFiles(dataDir), kept.files, 'the data directory holds what it held before (nothing partial, nothing removed)');
    assert.equal((await request(app).get(`/v1/datasets/${kept.id}`).set(bearer(key))).status, 200);
    assert.deepEqual((await request(app).get('/v1/datasets').set(bearer(key))).body.items.map((d: { id: string }) => d.id), [kept.id]);
  };

  it('a 12000x12000 PNG (a few hundred KB) is refused naming the image, before it is decoded', async () => {
    const big = await sharp({ create: { width: 12000, height: 12000, channels: 3, background: '#102030' } }).png({ compressionLevel: 9 }).toBuffer();
    assert.ok(big.length < 1024 * 1024, `${big.length} bytes`);
    const r = await upload(makeZip([...(await classZip()), { name: 'dog/huge.png', data: big }]));
    isError(r, '/v1/datasets', 'post', 422, /dog\/huge\.png.*12000x12000/);
    await intact();
  });

  it('an image with one side over the limit is refused (a 20000x2 PNG)', async () => {
    const wide = await sharp({ create: { width: 20000, height: 2, channels: 3, background: '#000' } }).png().toBuffer();
    isError(await upload(makeZip([...(await classZip()), { name: 'cat/wide.png', data: wide }])), '/v1/datasets', 'post', 422, /cat\/wide\.png.*20000x2/);
    await intact();
  });

  it('an archive that expands far past its size is refused before anything is written', async () => {
    const zeros = Buffer.alloc(10 * 2 ** 20);
    const entries: TestZipEntry[] = [...(await classZip()), ...Array.from({ length: 10 }, (_x, i) => ({ name: `cat/z${i}.png`, data: zeros, deflate: true }))];
    const zip = makeZip(entries);
    assert.ok(zip.length < 200 * 1024, `${zip.length} bytes`);
    isError(await upload(zip), '/v1/datasets', 'post', 413, /expands to more than/);
    await intact();
  });

  it('an entry that inflates past the size its header declares is stopped while extracting, and nothing is left', async () => {
    const zip = makeZip([...(await classZip()), { name: 'cat/liar.png', data: Buffer.alloc(20 * 2 ** 20), deflate: true, declaredSize: 1000 }]);
    const r = await upload(zip);
    assert.ok(r.status === 400 || r.status === 413, `${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, /cat\/liar\.png/);
    await intact();
  });
});

describe('security: a name in the request never reaches Object.prototype', () => {
  // a small profiling bundle (the default one is generated on first use: thousands of models)
  const bundleDir = mkdtempSync(join(tmpdir(), 'proto-bundle-'));
  writeBundle(bundleDir, { targets: [{ skeleton: SKELETON_SMALL, input: { height: 28, width: 28, channels: 1 } }], numClasses: 10, maxKernelsPerTarget: 4, calibrationNetworks: 2, repeats: 5 });
  const { ctx, app, dataDir } = testApp({ bundleDir });
  after(() => {
    ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  });
  const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];

  it('public files: /profile/lib, /profile/tflite-wasm, /vendor/uplot, /dashboard answer 404', async () => {
    for (const n of NAMES) {
      for (const p of [`/profile/lib/${n}`, `/profile/tflite-wasm/${n}`, `/vendor/uplot/${n}`, `/dashboard/${n}`]) {
        const r = await request(app).get(p);
        assert.equal(r.status, 404, `${p}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.equal(r.body.error.code, 'not_found', p);
      }
    }
  });

  it('API resources named like prototype members answer 404 (ids) or 400 (query values), never 500', async () => {
    for (const n of NAMES) {
      for (const [method, p] of [
        ['get', `/v1/devices/${n}`], ['get', `/v1/devices/${n}/latency-table`], ['get', `/v1/devices/${n}/benchmark-suite`],
        ['get', `/v1/devices/node-tflite-wasm/benchmark-suite/models/${n}`], ['post', `/v1/devices/${n}/upload-token`],
        ['get', `/v1/searches/${n}`], ['post', `/v1/searches/${n}/cancel`], ['get', `/v1/models/${n}`], ['get', `/v1/models/${n}/download?format=tflite`],
        ['get', `/v1/datasets/${n}`], ['get', `/v1/datasets/${n}/archive`], ['get', `/v1/datasets/${n}/archive?token=x`], ['delete', `/v1/keys/${n}`],
      ] as const) {
        const r = await request(app)[method](p).set(bearer(ADMIN));
        assert.ok(r.status === 404 || (r.status === 401 && p.includes('token=')), `${method} ${p}: ${r.status} ${r.text.slice(0, 200)}`);
      }
      for (const p of [`/v1/devices/node-tflite-wasm/latency-table?version=${n}`, `/v1/searches?status=${n}`]) {
        const r = await request(app).get(p).set(bearer(ADMIN));
        assert.equal(r.status, 400, `${p}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
  });
});

describe('security: hardening headers', () => {
  const { ctx, app, dataDir } = testApp();
  after(() => {
    ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every answer (API, error, dashboard, profiling page) carries a CSP, frame protection and nosniff', async () => {
    for (const [p, status] of [['/healthz', 200], ['/v1/devices', 401], ['/v1/nothing', 404], ['/', 200], ['/dashboard/main.js', 200], ['/profile/?device=x', 200]] as const) {
      const r = await request(app).get(p);
      assert.equal(r.status, status, p);
      const csp = String(r.headers['content-security-policy'] ?? '');
      assert.match(csp, /default-src 'self'/, `${p}: ${csp}`);
      assert.match(csp, /frame-ancestors 'none'/, p);
      assert.match(csp, /object-src 'none'/, p);
      assert.ok(!/unsafe-inline/.test(csp), `${p}: ${csp}`);
      // only the profiling page's TFLite runtime evaluates generated code; the dashboard (which keeps the API key) may not
      assert.equal(/'unsafe-eval'/.test(csp), p.startsWith('/profile/'), `${p}: ${csp}`);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', p);
    }
  });
});

describe('security: API keys never reach the request log', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
  const { ctx, app, dataDir } = testApp({ logger: pino({ level: 'info' }, sink) });
  after(() => {
    ctx.db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const percentAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

  it('?token= however its name or value is encoded (%74oken, TOKEN, &token, token[]) is masked; the encoded name still authenticates', async () => {
    const key = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'logged' })).body.token as string;
    const secret = key.slice(4);
    const path = '/v1/searches/s-missing/events';
    // the server decodes %74oken to token: this is a real credential, answered 404 (authenticated, no such search)
    assert.equal((await request(app).get(`${path}?%74oken=${key}`)).status, 404);
    const queries = [
      `token=${key}`, `%74oken=${key}`, `TOKEN=${key}`, `x=1&token=${key}`, `x=1&%74oken=${key}`, `%54%4F%4B%45%4E=${key}`, `tok%65n=${key}`,
      `token=${percentAll(key)}`, `%74oken=${percentAll(key)}`, `token[]=${key}`, `token=${key}&token=${key}`, `access_token=${key}`, `key=${key}`,
      `t=${key}`, `x=${encodeURIComponent(key)}`, `;token=${key}`, `token=${key.replace('_', '%5f')}`,
    ];
    const before = lines.length;
    for (const q of queries) await request(app).get(`${path}?${q}`);
    for (let i = 0; i < 100 && lines.length - before < queries.length; i++) await new Promise((r) => setTimeout(r, 10));
    const logged = lines.slice(before).filter((l) => l.includes(path));
    assert.equal(logged.length, queries.length, 'every request was logged');
    for (const l of logged) {
      const decoded = decodeURIComponent(l.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
      assert.ok(!l.includes(secret) && !decoded.includes(secret) && !l.toLowerCase().includes(percentAll(secret).slice(0, 12)), `the key is in the log: ${l}`);
    }
  });
});

describe('security: error bodies name the user\'s input, never server paths', () => {
  const thrower = {
    register(router: Router, ctx: { dataDir: string }) {
      router.get('/boom/:kind', (req) => {
        if (req.params.kind === 'data') throw new ApiError(400, 'bad_request', `cannot read ${join(ctx.dataDir, 'datasets', 'x')}`, { file: join(ctx.dataDir, 'y') });
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${join(PACKAGE_ROOT, 'web', 'nope')}'`), { status: 404 });
      });
    },
  };
  const { ctx, app, dataDir } = testApp();
  const probe = testApp({}, [thrower as never]);
  after(() => {
    for (const t of [{ ctx, dataDir }, probe]) {
      t.ctx.db.close();
      rmSync(t.dataDir, { recursive: true, force: true });
    }
  });
  const paths = () => [dataDir, realpathSync(dataDir), PACKAGE_ROOT, tmpdir()];

  it('a zip entry with a 300-character name: 400 naming the entry, no data-directory path', async () => {
    const key = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'long' })).body.token;
    for (const name of [`cat/${'a'.repeat(300)}.png`, `${Array.from({ length: 20 }, (_x, i) => String.fromCharCode(100 + (i % 3)).repeat(250)).join('/')}/x.png`, 'cat/sub']) {
      const entries = [...(await classZip()), { name, data: await png(90) }, ...(name === 'cat/sub' ? [{ name: 'cat/sub/x.png', data: await png(91) }] : [])];
      const r = await request(app).post('/v1/datasets').set(bearer(key)).set('Content-Type', 'application/zip').send(makeZip(entries));
      assert.ok(r.status >= 400 && r.status < 500, `${name.slice(0, 40)}: ${r.status} ${JSON.stringify(r.body)}`);
      const body = JSON.stringify(r.body);
      for (const p of paths()) assert.ok(!body.includes(p), `${name.slice(0, 40)}: the answer names ${p}: ${body}`);
      assert.match(r.body.error.message, new RegExp(name.slice(0, 20)), body);
    }
    assert.deepEqual(datasetFiles(dataDir), [], 'nothing left in the datasets folder');
  });

  it('a 4xx message or detail that names the data directory or the package is rewritten before it is sent', async () => {
    for (const kind of ['data', 'pkg']) {
      const r = await request(probe.app).get(`/boom/${kind}`);
      assert.ok(r.status === 400 || r.status === 404, `${r.status}`);
      const body = JSON.stringify(r.body);
      for (const p of [probe.dataDir, PACKAGE_ROOT]) assert.ok(!body.includes(p), `${kind}: ${body}`);
      assert.match(r.body.error.message, kind === 'data' ? /cannot read <data dir>\/datasets\/x/ : /<server>\/web\/nope/);
    }
  });
});

describe('security: oversized request headers', () => {
  it('a 20 KB header gets a JSON 431 from `nas serve`; a malformed request a JSON 400', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nas-431-'));
    const svc = await startService({ dataDir, port: 0, host: '127.0.0.1', adminToken: ADMIN, logger: createLogger({ level: 'silent' }), inProcessDeps: { executor: new FakeExecutor() } });
    try {
      const port = (svc.server.address() as AddressInfo).port;
      const big = await raw(port, { 'x-filler': 'x'.repeat(20 * 1024) });
      assert.equal(big.status, 431, big.body);
      assert.match(big.type, /^application\/json/);
      assert.equal(JSON.parse(big.body).error.code, 'header_too_large');
      assert.match(JSON.parse(big.body).error.message, /16384 bytes/);
      const ok = await raw(port, {});
      assert.equal(ok.status, 200, 'the server keeps serving');
      const bad = await rawBytes(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
      assert.match(bad, /^HTTP\/1\.1 400 /);
      assert.match(bad, /"code":"bad_request"/);
    } finally {
      await svc.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

function raw(port: number, headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => ok({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', fail);
    req.end();
  });
}

function rawBytes(port: number, text: string): Promise<string> {
  return new Promise((ok, fail) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (c: Buffer) => { out += c.toString(); });
    s.on('end', () => ok(out));
    s.on('close', () => ok(out));
    s.on('error', fail);
  });
}

