// The store's named queries that routes, device sync and metrics call
// instead of running SQL themselves: models by id, by search (latest) and by
// owner (newest first, limited), a model's files with their artifacts'
// digests, job counts by kind and status, a device's materialized table hash.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putArtifact, sha256Hex } from '../../src/store/artifacts.ts';
import { type Db, openDb } from '../../src/store/db.ts';
import { getMaterializedSha, insertDevice, setMaterializedSha } from '../../src/store/devices.ts';
import { JobsRepo } from '../../src/store/jobs.ts';
import { addModelFile, findModel, insertModel, latestModelOfSearch, listModelFilesWithDigests, listModels } from '../../src/store/models.ts';
import { loadDevice } from '../../src/latency/device.ts';

let dir: string;
let db: Db;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nas-queries-'));
  db = openDb(join(dir, 'nas.sqlite'));
});
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('store queries', () => {
  it('models: by id (null when absent), the latest of a search, an owner\'s newest first within a limit', () => {
    const a = insertModel(db, { owner: 'k1', searchId: 's-1', options: { deviceId: 'd' }, stage: 'queued', status: 'queued' });
    const b = insertModel(db, { owner: 'k1', searchId: 's-1', options: { deviceId: 'd' }, stage: 'search' });
    const c = insertModel(db, { owner: 'k2', searchId: 's-2', options: {}, stage: 'search' });
    assert.deepEqual(findModel(db, a.id)?.options, { deviceId: 'd' });
    assert.equal(findModel(db, 'mdl_none'), null);
    assert.equal(latestModelOfSearch(db, 's-1')?.id, b.id, 'the later of two models of one search (same millisecond: insertion order)');
    assert.equal(latestModelOfSearch(db, 's-2')?.id, c.id);
    assert.equal(latestModelOfSearch(db, 's-none'), null);
    assert.deepEqual(listModels(db, { owner: 'k1', newestFirst: true }).map((m) => m.id), [b.id, a.id]);
    assert.deepEqual(listModels(db, { owner: 'k1', newestFirst: true, limit: 1 }).map((m) => m.id), [b.id]);
    assert.deepEqual(listModels(db, { owner: 'k1' }).map((m) => m.id).sort(), [a.id, b.id].sort());
  });

  it('a model\'s files carry their artifacts\' SHA-256 and size, ordered by format and name', () => {
    const m = insertModel(db, { owner: 'k3', options: {}, stage: 'export' });
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    const art = putArtifact(db, 'export', 'model.tflite', bytes, dir);
    const json = putArtifact(db, 'export', 'model.json', new Uint8Array([7]), dir);
    addModelFile(db, m.id, { format: 'tflite', name: 'model.tflite', artifactId: art.id });
    addModelFile(db, m.id, { format: 'tfjs', name: 'model.json', artifactId: json.id });
    assert.deepEqual(listModelFilesWithDigests(db, m.id), [
      { format: 'tfjs', name: 'model.json', artifactId: json.id, sha256: sha256Hex(new Uint8Array([7])), sizeBytes: 1 },
      { format: 'tflite', name: 'model.tflite', artifactId: art.id, sha256: sha256Hex(bytes), sizeBytes: 5 },
    ]);
    assert.deepEqual(listModelFilesWithDigests(db, 'mdl_none'), []);
  });

  it('jobs counted by kind and status, only the pairs that occur', () => {
    const jobs = new JobsRepo(db);
    const j1 = jobs.insert({ kind: 'search', payload: {}, owner: null });
    jobs.insert({ kind: 'search', payload: {}, owner: null });
    jobs.insert({ kind: 'run', payload: {}, owner: null });
    jobs.finish(j1.id, 'failed', { error: 'x' });
    assert.deepEqual(jobs.countByKindAndStatus(), [
      { kind: 'run', status: 'queued', count: 1 },
      { kind: 'search', status: 'failed', count: 1 },
      { kind: 'search', status: 'queued', count: 1 },
    ]);
  });

  it('a device\'s materialized table hash: null until set, then the value, then cleared', () => {
    const profile = { ...loadDevice('node-tflite-wasm'), id: 'queries-test-device' };
    assert.ok(insertDevice(db, profile));
    assert.equal(getMaterializedSha(db, profile.id), null);
    setMaterializedSha(db, profile.id, 'ab'.repeat(32));
    assert.equal(getMaterializedSha(db, profile.id), 'ab'.repeat(32));
    setMaterializedSha(db, profile.id, null);
    assert.equal(getMaterializedSha(db, profile.id), null);
    assert.equal(getMaterializedSha(db, 'no-such-device'), null);
  });
});
