// Supernets over HTTP with the real use cases in-process (training on the
// synthetic set, a few steps): a supernet search before any supernet exists
// is a 409 that says how to train one; POST /v1/supernets trains one as a
// job with live progress over SSE; a second POST while it runs (or after an
// interruption) continues the same supernet; a search with evaluator
// supernet then scores every candidate with it (stored on each trial); a
// supernet of another dataset is refused naming the mismatch. Every answer
// is checked against api/openapi.json.

import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { serviceHandlers } from '../../src/jobs/handlers.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { attachJobQueue } from '../../src/jobs/queue.ts';
import { listTrials } from '../../src/store/trials.ts';
import { readArtifact } from '../../src/store/artifacts.ts';
import { findSupernet } from '../../src/store/supernets.ts';
import { decodeWeights } from '../../src/refine/weights-blob.ts';
import { resumeSupernet, SupernetUnavailableError, warmStartSource } from '../../src/app/supernet.ts';
import { ADMIN, bearer, conforms, isError, testApp } from './helpers.ts';
import { readSse, type SseMessage } from './sse-client.ts';

const searchBody = (extra: Record<string, unknown> = {}) => ({
  dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', evaluator: 'supernet',
  budget: { maxTrials: 4 }, ...extra,
});
const supernetBody = { dataset: 'synthetic', steps: 3, recipe: { batchSize: 8, randomSubnets: 0 }, predictorSamples: 10 };

describe('/v1/supernets and supernet-scored searches', () => {
  const { ctx, app } = testApp();
  const queue = new InProcessQueue({ db: ctx.db, concurrency: 1, handlers: serviceHandlers({ db: ctx.db, dataDir: ctx.dataDir }) });
  attachJobQueue(ctx, queue);
  let server: Server;
  let base: string;
  let key: string;
  let other: string;
  before(async () => {
    await queue.start();
    key = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'a' })).body.token;
    other = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'b' })).body.token;
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await queue.idle();
  });

  it('a supernet search with no trained supernet is a 409 saying how to train one; nothing is stored', async () => {
    const r = await request(app).post('/v1/searches').set(bearer(key)).send(searchBody());
    isError(r, '/v1/searches', 'post', 409, 'supernet_unavailable');
    assert.match(r.body.error.message, /no trained supernet for dataset synthetic/);
    assert.match(r.body.error.message, /POST \/v1\/supernets/);
    assert.match(r.body.error.message, /nas supernet train --dataset synthetic/);
    assert.equal((await request(app).get('/v1/searches').set(bearer(key))).body.items.length, 0);
    isError(await request(app).post('/v1/supernets').set(bearer(key)).send({ ...supernetBody, steps: 0 }), '/v1/supernets', 'post', 400, /steps/);
    isError(await request(app).post('/v1/supernets').set(bearer(key)).send({ ...supernetBody, dataset: ' folder:/etc' }), '/v1/supernets', 'post', 400);
  });

  it('trains a supernet as a job: 202 + Location, progress over SSE until done; a second POST meanwhile returns the same one', async () => {
    const res = await request(app).post('/v1/supernets').set(bearer(key)).send(supernetBody);
    conforms(res, '/v1/supernets', 'post', 202);
    const id = res.body.id as string;
    assert.match(id, /^sn_[0-9a-f]{16}$/);
    assert.equal(res.headers.location, `/v1/supernets/${id}`);
    const again = await request(app).post('/v1/supernets').set(bearer(key)).send(supernetBody);
    conforms(again, '/v1/supernets', 'post', 202);
    assert.equal(again.body.id, id, 'the unfinished supernet of the dataset is continued, not duplicated');
    // other training options are a new supernet, not the old one silently continued with its old options
    const seed2 = await request(app).post('/v1/supernets').set(bearer(key)).send({ ...supernetBody, seed: 2 });
    conforms(seed2, '/v1/supernets', 'post', 202);
    assert.notEqual(seed2.body.id, id, 'a request with another seed must not continue the unfinished supernet');
    assert.equal(seed2.body.options.seed, 2);
    conforms(await request(app).post(`/v1/supernets/${seed2.body.id}/cancel`).set(bearer(key)), '/v1/supernets/{supernetId}/cancel', 'post', 202);
    const got: SseMessage[] = [];
    await readSse(await fetch(`${base}/v1/supernets/${id}/events?token=${key}`), (m) => got.push(m));
    const types = got.map((m) => m.event);
    assert.equal(types[0], 'state');
    assert.equal(types.at(-1), 'done', types.join(','));
    const progress = got.filter((m) => m.event === 'progress').map((m) => m.data as { stage: string; unit: string; done: number; total: number });
    const steps = progress.filter((p) => p.unit === 'step');
    const nets = progress.filter((p) => p.unit === 'network');
    assert.ok(progress.every((p) => p.stage === 'supernet'), JSON.stringify(progress));
    assert.ok(steps.length >= 1 && steps.every((p) => p.total === 3) && steps.at(-1)!.done === 3, JSON.stringify(steps));
    // then the accuracy predictor: an event per architecture the supernet scores (a stream that joins
    // late starts at the latest one), counting up to 10
    const scored = nets.map((p) => p.done);
    assert.ok(scored.length >= 1 && scored.at(-1) === 10 && scored.every((d, i) => i === 0 || d === scored[i - 1] + 1), JSON.stringify(scored));
    const detail = await request(app).get(`/v1/supernets/${id}`).set(bearer(key));
    conforms(detail, '/v1/supernets/{supernetId}', 'get', 200);
    assert.equal(detail.body.status, 'succeeded');
    assert.equal(detail.body.step, 3);
    assert.equal(detail.body.dataset, 'synthetic');
    assert.equal(detail.body.metrics.predictor.samples, 10);
    const list = await request(app).get('/v1/supernets').set(bearer(other));
    conforms(list, '/v1/supernets', 'get', 200);
    assert.ok(list.body.items.some((s: { id: string }) => s.id === id), 'a built-in dataset\'s supernet serves every key');
    isError(await request(app).post(`/v1/supernets/${id}/cancel`).set(bearer(key)), '/v1/supernets/{supernetId}/cancel', 'post', 409, /already ended/);
    isError(await request(app).get('/v1/supernets/sn_0000000000000000').set(bearer(key)), '/v1/supernets/{supernetId}', 'get', 404);
  });

  it('a search with evaluator supernet scores every trial with it (stored per trial), skipping nothing', async () => {
    const res = await request(app).post('/v1/searches').set(bearer(key)).send(searchBody({ objective: 'hard', latencyTargetMs: 0.07 }));
    conforms(res, '/v1/searches', 'post', 202);
    const id = res.body.id as string;
    assert.equal(res.body.options.evaluator, 'supernet');
    assert.match(res.body.options.supernetId, /^sn_/);
    await readSse(await fetch(`${base}/v1/searches/${id}/events?token=${key}`), () => {});
    const s = (await request(app).get(`/v1/searches/${id}`).set(bearer(key))).body;
    assert.equal(s.status, 'succeeded', JSON.stringify(s.error));
    const trials = listTrials(ctx.db, id);
    assert.equal(trials.length, 4);
    assert.ok(trials.every((t) => t.evaluator === 'supernet' && t.status !== 'skipped' && (t.status === 'cached' || t.accuracy !== null)), JSON.stringify(trials.map((t) => [t.status, t.evaluator])));
  });

  it('refuses a named supernet of another dataset, naming the mismatch', async () => {
    const sn = (await request(app).get('/v1/supernets').set(bearer(key))).body.items.find((x: { status: string }) => x.status === 'succeeded').id as string;
    const r = await request(app).post('/v1/searches').set(bearer(key)).send(searchBody({ dataset: 'mnist', supernetId: sn }));
    isError(r, '/v1/searches', 'post', 409, 'supernet_unavailable');
    assert.match(r.body.error.message, new RegExp(`supernet ${sn} does not match this search: it was trained for dataset synthetic, the search's is mnist`));
  });

  it('a warm start (initFrom) begins from a trained supernet\'s weights, with progressive shrinking; a mismatched or unknown source is refused', async () => {
    const src = (await request(app).get('/v1/supernets').set(bearer(key))).body.items.find((x: { status: string }) => x.status === 'succeeded').id as string;
    isError(await request(app).post('/v1/supernets').set(bearer(key)).send({ ...supernetBody, initFrom: 'sn_0000000000000000' }), '/v1/supernets', 'post', 400, /initFrom: supernet "sn_0000000000000000" not found/);
    isError(await request(app).post('/v1/supernets').set(bearer(key)).send({ ...supernetBody, initFrom: 'latest' }), '/v1/supernets', 'post', 400);
    const row = findSupernet(ctx.db, src)!;
    assert.throws(() => warmStartSource(ctx.db, src, { ...row, dataset: 'mnist', owner: null }), (e: Error) => e instanceof SupernetUnavailableError && /does not match: dataset synthetic, not mnist/.test(e.message));
    // one step at a negligible learning rate: the new supernet's weights are the source's, not a fresh initialisation
    const res = await request(app).post('/v1/supernets').set(bearer(key)).send({ dataset: 'synthetic', steps: 1, initFrom: src, predictorSamples: 0, recipe: { batchSize: 8, randomSubnets: 1, learningRate: 1e-9, progressive: true } });
    conforms(res, '/v1/supernets', 'post', 202);
    assert.notEqual(res.body.id, src);
    await readSse(await fetch(`${base}/v1/supernets/${res.body.id}/events?token=${key}`), () => {});
    const warm = findSupernet(ctx.db, res.body.id)!;
    assert.equal(warm.status, 'succeeded', String(warm.error));
    assert.equal((warm.options as { initFrom?: string }).initFrom, src);
    const weights = (id: string) => {
      const b = readArtifact(ctx.db, findSupernet(ctx.db, id)!.checkpointArtifactId!);
      return decodeWeights(b.subarray(4 + new DataView(b.buffer, b.byteOffset).getUint32(0, true)));
    };
    const [a, b] = [weights(src), weights(res.body.id)];
    let maxDiff = 0;
    let n = 0;
    for (const [k, [t]] of a) {
      if (!k.startsWith('w/')) continue;
      const x = t!.dataSync(), y = b.get(k)![0]!.dataSync();
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
      n++;
    }
    assert.ok(n > 10 && maxDiff < 1e-5, `${n} tensors, max difference ${maxDiff}`);
    // trained with predictorSamples 0: resume with predictorSamples fits the predictor, the checkpoint untouched
    assert.equal(warm.metrics.predictor, undefined);
    const fitted = await resumeSupernet(warm.id, { deps: { db: ctx.db }, predictorSamples: 10 });
    assert.equal(fitted.status, 'succeeded');
    assert.equal((fitted.record.metrics.predictor as { samples: number }).samples, 10);
    assert.equal(fitted.record.checkpointArtifactId, warm.checkpointArtifactId);
    assert.equal(fitted.record.step, 1);
  });

  it('a trained supernet downloads as one file and imports into another server under the same id; a damaged file, a duplicate, another key\'s dataset or the wrong media type are refused', async () => {
    const src = (await request(app).get('/v1/supernets').set(bearer(key))).body.items.find((x: { status: string }) => x.status === 'succeeded') as { id: string; step: number };
    // responseType: superagent collects the body as a Buffer
    const file = await request(app).get(`/v1/supernets/${src.id}/file`).set(bearer(key)).responseType('blob');
    conforms(file, '/v1/supernets/{supernetId}/file', 'get', 200);
    assert.match(String(file.headers['content-disposition']), new RegExp(`${src.id}\\.nas-supernet`));
    const bytes = file.body as Buffer;
    assert.equal(bytes.subarray(0, 13).toString(), 'NAS-SUPERNET\n');
    isError(await request(app).get('/v1/supernets/sn_0000000000000000/file').set(bearer(key)), '/v1/supernets/{supernetId}/file', 'get', 404);

    // another installation
    const b = testApp();
    const bq = new InProcessQueue({ db: b.ctx.db, concurrency: 1, handlers: serviceHandlers({ db: b.ctx.db, dataDir: b.ctx.dataDir }) });
    attachJobQueue(b.ctx, bq);
    await bq.start();
    const bkey = (await request(b.app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'b' })).body.token as string;
    const post = (body: Buffer, q = '', type = 'application/octet-stream') => request(b.app).post(`/v1/supernets/import${q}`).set(bearer(bkey)).set('Content-Type', type).send(body);
    isError(await post(bytes, '', 'application/json'), '/v1/supernets/import', 'post', 415);
    const cut = await post(bytes.subarray(0, bytes.length - 64));
    isError(cut, '/v1/supernets/import', 'post', 400, /truncated/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5]! ^= 0xff;
    isError(await post(flipped), '/v1/supernets/import', 'post', 400, /does not match its SHA-256/);
    isError(await post(bytes, '?dataset=dataset:ds_0000000000000000'), '/v1/supernets/import', 'post', 404);
    assert.equal((await request(b.app).get('/v1/supernets').set(bearer(bkey))).body.items.length, 0, 'nothing stored by a refused import');
    const ok = await post(bytes);
    conforms(ok, '/v1/supernets/import', 'post', 201);
    assert.equal(ok.body.id, src.id);
    assert.equal(ok.body.status, 'succeeded');
    assert.equal(ok.body.step, src.step);
    assert.equal(ok.headers.location, `/v1/supernets/${src.id}`);
    isError(await post(bytes), '/v1/supernets/import', 'post', 409, /already in this store/);
    const s = await request(b.app).get(`/v1/supernets/${src.id}`).set(bearer(bkey));
    conforms(s, '/v1/supernets/{supernetId}', 'get', 200);
    // an import serves its importer only: another key neither sees it, downloads it, nor gets it in its searches
    const ckey = (await request(b.app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'c' })).body.token as string;
    assert.equal((await request(b.app).get('/v1/supernets').set(bearer(ckey))).body.items.length, 0);
    isError(await request(b.app).get(`/v1/supernets/${src.id}/file`).set(bearer(ckey)), '/v1/supernets/{supernetId}/file', 'get', 404);
    isError(await request(b.app).post('/v1/searches').set(bearer(ckey)).send(searchBody()), '/v1/searches', 'post', 409, 'supernet_unavailable');
    const mine = await request(b.app).post('/v1/searches').set(bearer(bkey)).send(searchBody());
    conforms(mine, '/v1/searches', 'post', 202);
    assert.equal(mine.body.options.supernetId, src.id);
    await bq.idle();
    assert.equal((await request(b.app).get(`/v1/searches/${mine.body.id}`).set(bearer(bkey))).body.status, 'succeeded');
  });
});
