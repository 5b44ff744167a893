// A full disk while writing artifacts (ENOSPC, injected through
// NAS_FAULT_ENOSPC in the artifact writer): a clear error naming what was
// being written, no partial file and no row for it, earlier artifacts intact;
// a `nas run` that hits it at export ends failed with that reason, and so
// does its job on the service's queue.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createRun, runRun, runStoredModel, type RunOptionsInput } from '../../src/app/run.ts';
import { isPathError } from '../../src/cli/errors.ts';
import { setDataDir } from '../../src/config/paths.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { DiskFullError, diskFullMessage, injectedEnospc, putArtifact, readArtifact } from '../../src/store/artifacts.ts';
import { openDb, type Db } from '../../src/store/db.ts';
import { JobsRepo } from '../../src/store/jobs.ts';
import { getModel, listModelFiles } from '../../src/store/models.ts';
import { useTrainingBackend } from '../../src/train/backend.ts';

const dir = mkdtempSync(join(tmpdir(), 'nas-enospc-'));
let db: Db;

function files(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(root, f)).isFile()).sort();
}

/** every artifact row's file exists and matches its size and checksum */
function assertConsistent(): void {
  const rows = db.prepare('SELECT id, path FROM artifacts').all() as { id: string; path: string }[];
  for (const r of rows) assert.doesNotThrow(() => readArtifact(db, r.id, dir), `artifact ${r.id} (${r.path})`);
  const onDisk = files(join(dir, 'artifacts'));
  assert.ok(onDisk.every((f) => !/\.tmp-/.test(f)), `temporary files left: ${onDisk.join(', ')}`);
  assert.equal(onDisk.length, rows.length, `files on disk ${onDisk.join(', ')} vs rows ${rows.map((r) => r.path).join(', ')}`);
}

before(async () => {
  await useTrainingBackend();
  setDataDir(dir);
  db = openDb(join(dir, 'nas.sqlite'));
});
afterEach(() => { delete process.env.NAS_FAULT_ENOSPC; });
after(() => {
  db.close();
  setDataDir(undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('artifact writer on a full disk', () => {
  it('NAS_FAULT_ENOSPC selects all artifacts or named kinds only', () => {
    assert.equal(injectedEnospc('weights', {}), false);
    assert.equal(injectedEnospc('weights', { NAS_FAULT_ENOSPC: 'artifacts' }), true);
    assert.equal(injectedEnospc('weights', { NAS_FAULT_ENOSPC: 'artifacts:model-tflite' }), false);
    assert.equal(injectedEnospc('model-tflite', { NAS_FAULT_ENOSPC: 'artifacts:weights, artifacts:model-tflite' }), true);
  });

  it('a full disk elsewhere (Node\'s own ENOSPC, e.g. writing export files) gets the same message', () => {
    const raw = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/data/out/models/m1/tflite/model.tflite' });
    assert.equal(diskFullMessage(raw), 'no space left on device while writing /data/out/models/m1/tflite/model.tflite');
    assert.equal(diskFullMessage(new DiskFullError('artifact weights/w.nasw (3 bytes)', '/x')), 'no space left on device while writing artifact weights/w.nasw (3 bytes)');
    assert.equal(diskFullMessage(new Error('other')), null);
  });

  it('a failed write is a DiskFullError naming the artifact, leaves no row and no file, keeps earlier artifacts', () => {
    const kept = putArtifact(db, 'weights', 'a.bin', new Uint8Array(1000).fill(7), dir);
    process.env.NAS_FAULT_ENOSPC = 'artifacts';
    assert.throws(() => putArtifact(db, 'weights', 'b.bin', new Uint8Array(4096).fill(1), dir), (e: unknown) => {
      assert.ok(e instanceof DiskFullError);
      assert.equal(e.status, 507);
      assert.equal(e.message, 'no space left on device while writing artifact weights/b.bin (4096 bytes)');
      assert.ok(isPathError(e), 'the CLI reports it as one error line (exit 2), not an internal error');
      return true;
    });
    delete process.env.NAS_FAULT_ENOSPC;
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM artifacts').get() as { n: number }).n, 1);
    assert.deepEqual([...readArtifact(db, kept.id, dir)], [...new Uint8Array(1000).fill(7)]);
    assertConsistent();
    // the disk has room again: writing works
    putArtifact(db, 'weights', 'b.bin', new Uint8Array(16), dir);
    assertConsistent();
  });
});

describe('a run that fills the disk at export', () => {
  const device = 'node-tflite-wasm';
  const predictor = loadPredictor(device, { calibration: 'off' });
  const baseText = 'stem_k3_s1_c8 ds_r1_k3_s2_c16 head_c32';
  const opts = (): RunOptionsInput => ({
    dataset: 'synthetic', deviceId: device, latencyTargetMs: 1000, baseArch: baseText, mode: 'soft', formats: ['tflite'],
    proxy: { epochs: 1, batchSize: 16, bnRecalibrationImages: 0 }, final: { epochs: 1, batchSize: 16 }, scaleUpSlack: 1,
  });
  const datasetOptions = { synthetic: { size: 20, perClass: 12 } };

  it('runRun ends failed with "no space left on device while writing artifact model-tflite/..."; store consistent', async () => {
    process.env.NAS_FAULT_ENOSPC = 'artifacts:model-tflite';
    const failed: string[] = [];
    let thrown: unknown;
    try {
      await runRun(opts(), { onEvent: (e) => { if (e.type === 'failed') failed.push(e.error); }, deps: { db, datasetOptions, predictor } });
    } catch (e) { thrown = e; }
    assert.ok(thrown instanceof DiskFullError, String(thrown));
    assert.match(failed.join('\n'), /^no space left on device while writing artifact model-tflite\/\S+ \(\d+ bytes\)$/);
    const rows = db.prepare('SELECT id FROM models').all() as { id: string }[];
    assert.equal(rows.length, 1);
    const model = getModel(db, rows[0]!.id);
    assert.equal(model.status, 'failed');
    assert.match(model.error ?? '', /^no space left on device while writing artifact model-tflite\//);
    assert.deepEqual(listModelFiles(db, model.id), []);
    assertConsistent();
  });

  it('the same run as a job on the service queue: the job is failed with that reason', async () => {
    process.env.NAS_FAULT_ENOSPC = 'artifacts:model-tflite';
    const { id: modelId } = await createRun(db, opts(), { owner: null, deps: { db, datasetOptions, predictor } });
    // the run job's work: runStoredModel on the queued row, as the service's run handler calls it
    const queue = new InProcessQueue({
      db, concurrency: 1,
      handlers: { run: async (_job, { onEvent, cancel }) => {
        const r = await runStoredModel(db, modelId, { onEvent, cancel, deps: { db, datasetOptions, predictor } });
        return r.status === 'failed' ? { status: 'failed', error: r.error ?? 'run failed' } : { status: r.status };
      } },
    });
    await queue.start();
    const jobId = await queue.enqueue('run', { modelId }, null);
    const repo = new JobsRepo(db);
    while (!['succeeded', 'failed', 'cancelled'].includes(repo.get(jobId)!.status)) await new Promise((r) => setTimeout(r, 200));
    await queue.close();
    const job = repo.get(jobId)!;
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', /no space left on device while writing artifact model-tflite\//);
    assert.equal(getModel(db, modelId).status, 'failed');
    assertConsistent();
  });
});
