// Searches over HTTP against the real search use case (store, strategy,
// runner) with an in-process fake trial executor (no training): submit,
// live events over SSE, the state, ownership (another key's search is 404),
// 400/401/422 answers, cancellation of queued and running searches. Every
// answer is checked against api/openapi.json.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { serviceHandlers } from '../../src/jobs/handlers.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { attachJobQueue } from '../../src/jobs/queue.ts';
import type { TrialExecutor, TrialOutcome, TrialRequest } from '../../src/search/executor.ts';
import { FakeExecutor } from '../search/fakes.ts';
import { ADMIN, bearer, conforms, isError, testApp } from './helpers.ts';
import { readSse, type SseMessage } from './sse-client.ts';

/** Trials wait until released (to observe queued/running searches). */
class GateExecutor implements TrialExecutor {
  readonly concurrency = 1;
  private readonly inner = new FakeExecutor();
  private release!: () => void;
  readonly gate = new Promise<void>((r) => (this.release = r));
  started = 0;
  async run(r: TrialRequest): Promise<TrialOutcome> {
    this.started++;
    await this.gate;
    return this.inner.run(r);
  }
  open(): void { this.release(); }
  async close(): Promise<void> {}
}

const body = (extra: Record<string, unknown> = {}) => ({
  dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random',
  budget: { maxTrials: 4, maxParallelTrials: 2 }, proxy: { subset: 64, validationSubset: 32 }, ...extra,
});

describe('/v1/searches', () => {
  const { ctx, app } = testApp();
  // trials go to whichever executor the test sets
  const executor = {
    current: new FakeExecutor() as TrialExecutor,
    concurrency: 2,
    run(r: TrialRequest) { return this.current.run(r); },
    async close() {},
  };
  const queue = new InProcessQueue({
    db: ctx.db, concurrency: 1,
    handlers: serviceHandlers({ db: ctx.db, dataDir: ctx.dataDir, deps: { executor } }),
  });
  attachJobQueue(ctx, queue);
  let server: Server;
  let base: string;
  let keyA: string;
  let keyB: string;
  before(async () => {
    await queue.start();
    keyA = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'a' })).body.token;
    keyB = (await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'b' })).body.token;
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await queue.idle();
  });

  it('refuses a missing key (401), an invalid body (400 naming the field) and a target below the fastest architecture (422 stating it)', async () => {
    isError(await request(app).post('/v1/searches').send(body()), '/v1/searches', 'post', 401, 'unauthorized');
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send({ ...body(), budget: { maxTrials: 0 } }), '/v1/searches', 'post', 400, /maxTrials/);
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send({ ...body(), colour: 'red' }), '/v1/searches', 'post', 400, /colour/);
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ dataset: 'no-such-set' })), '/v1/searches', 'post', 400);
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ dataset: 'dataset:ds_0123456789abcdef' })), '/v1/searches', 'post', 404, /ds_0123456789abcdef/);
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ deviceId: 'no-such-phone' })), '/v1/searches', 'post', 404, /no-such-phone/);
    const low = await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ latencyTargetMs: 0.0001 }));
    isError(low, '/v1/searches', 'post', 422, /below the fastest architecture/);
    assert.ok(low.body.error.details.fastestLatencyMs > 0.0001, JSON.stringify(low.body));
    assert.equal((await request(app).get('/v1/searches').set(bearer(keyA))).body.items.length, 0, 'nothing stored for refused submissions');
  });

  it('runs a submitted search as a job: 202 + Location, live SSE events until done, then the state with trials, best and Pareto front', async () => {
    const gate = new GateExecutor();
    executor.current = gate;
    const res = await request(app).post('/v1/searches').set(bearer(keyA)).send(body());
    conforms(res, '/v1/searches', 'post', 202);
    const id = res.body.id as string;
    assert.equal(res.headers.location, `/v1/searches/${id}`);
    const got: SseMessage[] = [];
    const sse = await fetch(`${base}/v1/searches/${id}/events`, { headers: bearer(keyA) });
    assert.equal(sse.status, 200);
    const reading = readSse(sse, (m) => got.push(m));
    for (let i = 0; i < 400 && queue.events.subscriberCount(id) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    gate.open();
    await reading;
    executor.current = new FakeExecutor();
    const types = got.map((m) => m.event);
    assert.equal(types[0], 'state');
    assert.equal(types.at(-1), 'done', types.join(','));
    assert.ok(['queued', 'running'].includes((got[0]!.data as { status: string }).status));
    assert.equal(types.filter((t) => t === 'trial-finished').length, 4, types.join(','));
    assert.ok(types.includes('best-changed'), types.join(','));
    const detail = await request(app).get(`/v1/searches/${id}`).set(bearer(keyA));
    conforms(detail, '/v1/searches/{searchId}', 'get', 200);
    const s = detail.body;
    assert.equal(s.status, 'succeeded');
    assert.equal(s.trials.length, 4);
    assert.equal(s.progress.trialsDone, 4);
    assert.ok(s.best && s.best.accuracy > 0 && s.best.latencyMs > 0);
    assert.ok(s.pareto.length >= 1 && s.pareto.every((t: string) => s.trials.some((x: { id: string }) => x.id === t)));
    assert.ok(s.trials.every((t: { params: number; macs: number }) => t.params > 0 && t.macs > 0));
    assert.equal(s.options.deviceId, 'node-tflite-wasm');
    assert.equal(s.run, false);
    assert.equal(s.options.run, false);
    assert.equal(s.options.pipeline, undefined, 'the deprecated name is not echoed');
    assert.ok(s.trials.every((t: { evaluator: string }) => t.evaluator === 'proxy'), 'each trial says what scored it');
    // a late joiner of a finished search gets the state and the end
    const late: SseMessage[] = [];
    await readSse(await fetch(`${base}/v1/searches/${id}/events?token=${keyA}`), (m) => late.push(m));
    assert.deepEqual(late.map((m) => m.event), ['state']);
    assert.equal((late[0]!.data as { status: string }).status, 'succeeded');
  });

  it('lists only the caller\'s searches; another key\'s search, its events and its cancel are 404', async () => {
    const list = await request(app).get('/v1/searches').set(bearer(keyA));
    conforms(list, '/v1/searches', 'get', 200);
    assert.ok(list.body.items.length >= 1);
    const id = list.body.items[0].id as string;
    const other = await request(app).get('/v1/searches').set(bearer(keyB));
    assert.equal(other.body.items.length, 0);
    isError(await request(app).get(`/v1/searches/${id}`).set(bearer(keyB)), '/v1/searches/{searchId}', 'get', 404);
    isError(await request(app).get(`/v1/searches/${id}/events`).set(bearer(keyB)), '/v1/searches/{searchId}/events', 'get', 404);
    isError(await request(app).post(`/v1/searches/${id}/cancel`).set(bearer(keyB)), '/v1/searches/{searchId}/cancel', 'post', 404);
    isError(await request(app).get('/v1/searches/s-nope').set(bearer(keyA)), '/v1/searches/{searchId}', 'get', 404);
    isError(await request(app).get('/v1/searches?status=finished').set(bearer(keyA)), '/v1/searches', 'get', 400);
    assert.equal((await request(app).get('/v1/searches?status=succeeded').set(bearer(keyA))).body.items.length, list.body.items.filter((s: { status: string }) => s.status === 'succeeded').length);
    isError(await request(app).post(`/v1/searches/${id}/cancel`).set(bearer(keyA)), '/v1/searches/{searchId}/cancel', 'post', 409, /already ended/);
  });

  it('cancels a queued search at once and a running one after its trial in flight, keeping its trials', async () => {
    const gate = new GateExecutor();
    executor.current = gate;
    const a = (await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ budget: { maxTrials: 6, maxParallelTrials: 1 } }))).body.id as string;
    const b = (await request(app).post('/v1/searches').set(bearer(keyA)).send(body())).body.id as string;
    for (let i = 0; i < 400 && gate.started === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await request(app).get(`/v1/searches/${b}`).set(bearer(keyA))).body.status, 'queued');
    const cb = await request(app).post(`/v1/searches/${b}/cancel`).set(bearer(keyA));
    conforms(cb, '/v1/searches/{searchId}/cancel', 'post', 202);
    assert.equal(cb.body.status, 'cancelled');
    const ca = await request(app).post(`/v1/searches/${a}/cancel`).set(bearer(keyA));
    conforms(ca, '/v1/searches/{searchId}/cancel', 'post', 202);
    gate.open();
    await queue.idle();
    const sa = (await request(app).get(`/v1/searches/${a}`).set(bearer(keyA))).body;
    assert.equal(sa.status, 'cancelled');
    assert.ok(sa.trials.length >= 1 && sa.trials.length < 6, `kept ${sa.trials.length} trials`);
    executor.current = new FakeExecutor();
  });

  it('run: true queues the whole nas run: a model owned by the key follows the search; cancelling stops both', async () => {
    const gate = new GateExecutor();
    executor.current = gate;
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ scaleUp: false })), '/v1/searches', 'post', 400, /scaleUp applies to run: true only/);
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ run: true, formats: ['onnx'] })), '/v1/searches', 'post', 400, /formats/);
    const res = await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ run: true, objective: 'hard', scaleUp: false, formats: ['tflite', 'tfjs'] }));
    conforms(res, '/v1/searches', 'post', 202);
    const id = res.body.id as string;
    for (let i = 0; i < 400 && gate.started === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const s = (await request(app).get(`/v1/searches/${id}`).set(bearer(keyA))).body;
    assert.equal(s.run, true);
    assert.equal(s.options.run, true);
    assert.equal(s.options.scaleUp, false);
    assert.deepEqual(s.options.formats, ['tflite', 'tfjs']);
    assert.equal(s.options.objective, 'hard');
    assert.equal(s.status, 'running');
    assert.equal(s.stage, 'search');
    const models = (await request(app).get('/v1/models').set(bearer(keyA))).body.items as { id: string; searchId: string; status: string; formats: unknown[] }[];
    const m = models.find((x) => x.searchId === id);
    assert.ok(m, 'a model row for the run, owned by the key');
    assert.ok(['queued', 'running'].includes(m.status), m.status);
    assert.deepEqual(m.formats, []);
    assert.equal((await request(app).get('/v1/models').set(bearer(keyB))).body.items.length, 0);
    await request(app).post(`/v1/searches/${id}/cancel`).set(bearer(keyA)).expect(202);
    gate.open();
    await queue.idle();
    const after = (await request(app).get(`/v1/searches/${id}`).set(bearer(keyA))).body;
    assert.equal(after.status, 'cancelled');
    assert.equal(after.modelId, null, 'no model is offered for a cancelled run');
    assert.equal((await request(app).get(`/v1/models/${m.id}`).set(bearer(keyA))).body.status, 'cancelled');
    executor.current = new FakeExecutor();
  });
  it('pipeline (the deprecated name of run) still queues the whole nas run; run and pipeline disagreeing is a 400 naming both', async () => {
    const before = (await request(app).get('/v1/searches').set(bearer(keyA))).body.items.length as number;
    for (const conflict of [{ run: true, pipeline: false }, { run: false, pipeline: true }]) {
      const r = await request(app).post('/v1/searches').set(bearer(keyA)).send(body(conflict));
      isError(r, '/v1/searches', 'post', 400);
      assert.match(r.body.error.message, /run: (true|false) and pipeline: (true|false) disagree/);
    }
    // scaleUp/formats with the old name alone are the whole run's, as with run: true
    isError(await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ pipeline: false, scaleUp: false })), '/v1/searches', 'post', 400, /run: true only/);
    assert.equal((await request(app).get('/v1/searches').set(bearer(keyA))).body.items.length, before, 'nothing stored for a refused request');
    const gate = new GateExecutor();
    executor.current = gate;
    const ids: string[] = [];
    for (const flags of [{ pipeline: true }, { run: true, pipeline: true }]) {
      const res = await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ ...flags, scaleUp: false, formats: ['tflite'] }));
      conforms(res, '/v1/searches', 'post', 202);
      assert.equal(res.body.run, true, JSON.stringify(flags));
      assert.equal(res.body.options.run, true);
      assert.equal(res.body.pipeline, undefined, 'the view names it run only');
      assert.ok(res.body.plan, 'a whole run has a time plan');
      ids.push(res.body.id);
    }
    const models = (await request(app).get('/v1/models').set(bearer(keyA))).body.items as { searchId: string }[];
    for (const id of ids) assert.ok(models.some((m) => m.searchId === id), `a model row for ${id}`);
    // pipeline: false is a search alone
    const alone = await request(app).post('/v1/searches').set(bearer(keyA)).send(body({ pipeline: false }));
    conforms(alone, '/v1/searches', 'post', 202);
    assert.equal(alone.body.run, false);
    for (const id of [...ids, alone.body.id]) await request(app).post(`/v1/searches/${id}/cancel`).set(bearer(keyA)).expect(202);
    gate.open();
    await queue.idle();
    executor.current = new FakeExecutor();
  });
});
