// Uploaded datasets for workers on other machines: a real server app on
// loopback (the dataset uploaded through POST /v1/datasets), a real
// redis-server (test/helpers/redis.ts) and a real `nas worker` child with its
// own data directory. The trial jobs carry {id, sha256, url}; the worker
// fetches the archive once for two trials, and a job whose checksum does not
// match the archive fails with the reason instead of training.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { BullMqExecutor } from '../../src/jobs/bullmq-executor.ts';
import { datasetRefResolver } from '../../src/jobs/dataset-ref.ts';
import { parseArchString, toCanonicalJson } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { defaultTrainConfig } from '../../src/train/config.ts';
import type { TrialRequest } from '../../src/train/protocol.ts';
import request from 'supertest';
import { ADMIN, bearer, conforms, isError, testApp } from '../http/helpers.ts';
import { makeZip, type TestZipEntry } from '../http/zip.ts';
import { redisSkipReason, type RedisServer, startRedis } from '../helpers/redis.ts';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));
const QUEUE = 'nas-test-remote-ds';
const arch = toCanonicalJson(parseArchString('stem_k3_s1_c8 ir_r1_k3_s2_e3_c8 ds_r1_k3_s2_c16 head_c16', { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head }));
const config = defaultTrainConfig({ epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 0.01, warmupEpochs: 0, restartOnChance: false });

async function png(shade: number, i: number): Promise<Buffer> {
  const px = Buffer.alloc(12 * 12 * 3, shade);
  for (let k = 0; k < 12; k++) px[(i * 7 + k * 13) % px.length] = 255 - shade;
  return sharp(px, { raw: { width: 12, height: 12, channels: 3 } }).png().toBuffer();
}

const skip = redisSkipReason();

describe('uploaded datasets on a remote nas worker (server app + redis-server + worker child)', { skip, timeout: 180_000 }, () => {
  let redis: RedisServer;
  let server: Server;
  let worker: ChildProcess;
  let executor: BullMqExecutor;
  const workerLines: string[] = [];
  const workerDir = mkdtempSync(join(tmpdir(), 'nas-remote-worker-'));
  const { app, ctx, dataDir } = testApp();
  let base = '';
  let archiveRequests = 0;
  let alice = '';
  let dataset: { id: string; sha256: string; ref: string };
  let zip: Buffer;

  before(async () => {
    redis = await startRedis();
    server = createServer((req, res) => {
      if (/^\/v1\/datasets\/[^/]+\/archive/.test(req.url ?? '')) archiveRequests++;
      app(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const json = { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` };
    alice = ((await (await fetch(`${base}/v1/keys`, { method: 'POST', headers: json, body: '{"name":"alice"}' })).json()) as { token: string }).token;
    const entries: TestZipEntry[] = [];
    for (const [cls, shade] of [['dark', 30], ['light', 220]] as const) {
      for (let i = 0; i < 12; i++) entries.push({ name: `${cls}/${i}.png`, data: await png(shade, i) });
    }
    zip = makeZip(entries);
    const up = await fetch(`${base}/v1/datasets?name=shades`, { method: 'POST', headers: { 'Content-Type': 'application/zip', Authorization: `Bearer ${alice}` }, body: new Uint8Array(zip) });
    assert.equal(up.status, 201, await up.clone().text());
    dataset = (await up.json()) as typeof dataset;

    worker = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--queue', QUEUE, '--concurrency', '1', '--data-dir', workerDir], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir(),
    });
    let buf = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        workerLines.push(line);
        if (/ ready worker=/.test(line)) ready();
      }
    };
    worker.stdout!.on('data', onData);
    worker.stderr!.on('data', onData);
    await isReady;

    const refOf = datasetRefResolver({ db: ctx.db, dataDir, publicUrl: base });
    executor = new BullMqExecutor({
      redisUrl: redis.url, queueName: QUEUE, concurrency: 2, reconcileIntervalMs: 1000, retryDelayMs: 200,
      // "corrupt-*" trials carry a wrong checksum (as if the archive changed or the download were corrupted)
      datasetRefOf: (r) => {
        const ref = refOf(r);
        if (ref && r.id.startsWith('corrupt-')) return { ...ref, sha256: ref.sha256.slice(0, -1) + (ref.sha256.endsWith('0') ? '1' : '0') };
        // "short-*" trials announce fewer bytes than the archive has (and another checksum: no cached copy matches)
        if (ref && r.id.startsWith('short-')) return { ...ref, sizeBytes: 100, sha256: 'f'.repeat(64) };
        return ref;
      },
    });
  });

  after(async () => {
    await executor?.close();
    if (worker && worker.exitCode === null) {
      try {
        process.kill(-worker.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => server?.close(r));
    await redis?.stop();
  });

  const trial = (id: string): TrialRequest => ({ id, arch, dataset: dataset.ref, datasetOptions: { folder: { size: 12 } }, config });

  it('the archive route: the owner key or the job token; anything else is refused', async () => {
    const owner = await fetch(`${base}/v1/datasets/${dataset.id}/archive`, { headers: { Authorization: `Bearer ${alice}` } });
    assert.equal(owner.status, 200);
    assert.equal(owner.headers.get('x-checksum-sha256'), dataset.sha256);
    assert.equal(createHash('sha256').update(Buffer.from(await owner.arrayBuffer())).digest('hex'), dataset.sha256);
    const ref = datasetRefResolver({ db: ctx.db, dataDir, publicUrl: base })(trial('x'))!;
    assert.deepEqual({ id: ref.id, sha256: ref.sha256, sizeBytes: ref.sizeBytes }, { id: dataset.id, sha256: dataset.sha256, sizeBytes: zip.length });
    assert.equal((await fetch(ref.url)).status, 200);
    const resolve = datasetRefResolver({ db: ctx.db, dataDir, publicUrl: base });
    assert.equal(resolve({ ...trial('y'), dataset: `folder:${join(dataDir, 'datasets', dataset.id, 'images')}` })?.id, dataset.id, 'the extracted folder names the same dataset');
    assert.equal(resolve({ ...trial('z'), dataset: 'synthetic' }), null, 'built-in datasets carry no reference');
    assert.throws(() => datasetRefResolver({ db: ctx.db, dataDir })(trial('w')), /set NAS_SERVER_URL/);
    const bad = await fetch(`${base}/v1/datasets/${dataset.id}/archive?token=${'A'.repeat(43)}`);
    assert.equal(bad.status, 401);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /invalid archive token/);
    assert.equal((await fetch(`${base}/v1/datasets/${dataset.id}/archive`)).status, 401);
    // the answers the contract lists (api/openapi.json)
    const A = '/v1/datasets/{datasetId}/archive';
    conforms(await request(app).get(`/v1/datasets/${dataset.id}/archive`).set(bearer(alice)), A, 'get', 200);
    isError(await request(app).get(`/v1/datasets/${dataset.id}/archive`).query({ token: 'nope' }), A, 'get', 401, 'unauthorized');
    isError(await request(app).get('/v1/datasets/ds_0000000000000000/archive').set(bearer(alice)), A, 'get', 404, 'not_found');
    archiveRequests = 0;
  });

  it('two trials of an uploaded dataset: the worker fetches it once, verifies it and trains both from its own cache', async () => {
    const outcomes = await Promise.all([executor.run(trial('rd:arch-1')), executor.run(trial('rd:arch-2'))]);
    assert.deepEqual(outcomes.map((o) => (o.ok ? 'ok' : o.error.message)), ['ok', 'ok']);
    for (const o of outcomes) assert.ok(o.ok && o.result.epochs.length === 1);
    assert.equal(archiveRequests, 1, 'one download for two trials');
    assert.equal(workerLines.filter((l) => l.includes(` dataset-fetched dataset=${dataset.id} sizeBytes=${zip.length} `)).length, 1, workerLines.join('\n'));
    assert.equal(workerLines.filter((l) => l.includes(` dataset-cached dataset=${dataset.id}`)).length, 1);
    const cached = join(workerDir, 'datasets', 'remote', `${dataset.id}-${dataset.sha256}`, 'images');
    assert.deepEqual(readdirSync(cached).sort(), ['dark', 'light']);
    assert.equal(readdirSync(join(cached, 'dark')).length, 12);
  });

  it('a checksum that does not match the archive fails the job with the reason, unretried, and leaves nothing in the cache', async () => {
    const o = await executor.run(trial('corrupt-rd:arch-3'));
    assert.equal(o.ok, false);
    assert.ok(!o.ok);
    assert.match(o.error.message, new RegExp(`dataset ${dataset.id}: checksum mismatch: .* has sha256 ${dataset.sha256}, the job expects [0-9a-f]{64}; not training on it`));
    assert.equal(o.attempts, 1, 'a wrong checksum is not retried');
    assert.equal(archiveRequests, 2);
    const remote = readdirSync(join(workerDir, 'datasets', 'remote'));
    assert.deepEqual(remote, [`${dataset.id}-${dataset.sha256}`], 'only the verified copy is cached');
    const finished = workerLines.filter((l) => l.includes(' trial-finished job=corrupt-rd%3Aarch-3 '));
    assert.equal(finished.length, 1);
    assert.match(finished[0]!, / failed wallMs=\d+ error=".*checksum mismatch/);
    assert.ok(existsSync(join(workerDir, 'datasets', 'remote', `${dataset.id}-${dataset.sha256}`, 'images')));
  });

  it('an archive longer than the job announced is cut off and fails the job; nothing is cached', async () => {
    const o = await executor.run(trial('short-rd:arch-4'));
    assert.ok(!o.ok);
    assert.match(o.error.message, new RegExp(`dataset ${dataset.id}: the archive from .* is larger than the job's 100 bytes; not training on it`));
    assert.equal(o.attempts, 1);
    assert.deepEqual(readdirSync(join(workerDir, 'datasets', 'remote')), [`${dataset.id}-${dataset.sha256}`]);
  });
});
