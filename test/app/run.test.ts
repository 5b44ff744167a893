import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import { createRun, resumeRun, runRun, type RunOptionsInput } from '../../src/app/run.ts';
import { setDataDir } from '../../src/config/paths.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { measureOnDevice } from '../../src/refine/measure.ts';
import { parseArchString } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { openDb, type Db } from '../../src/store/db.ts';
import { readArtifact } from '../../src/store/artifacts.ts';
import { getModel, listCheckpoints, listModelFiles, listModels } from '../../src/store/models.ts';
import { useTrainingBackend } from '../../src/train/backend.ts';

// 20x20 synthetic stripes, 3 classes, 24 per class: seconds per training run.
const datasetOptions = { synthetic: { size: 20, perClass: 24 } };
const input = { height: 20, width: 20, channels: 1 };
const baseText = 'stem_k3_s1_c16 ir_r1_k3_s2_e3_c48_se0.25 ds_r1_k3_s2_c64 head_c64';
const base = parseArchString(baseText, { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head });
const device = 'node-tflite-wasm';
// predictions in the table's unit (no host calibration: it takes up to a minute); measurements follow the predictor's unit
const tablePredictor = loadPredictor(device, { calibration: 'off' });
const baseMs = tablePredictor.predict(base, input, 3).latencyMs;
const dir = mkdtempSync(join(tmpdir(), 'nas-run-test-'));
let db: Db;

const common = (o: Partial<RunOptionsInput>): RunOptionsInput => ({
  dataset: 'synthetic', deviceId: device, latencyTargetMs: baseMs * 0.8, baseArch: baseText, mode: 'hard',
  proxy: { epochs: 1, batchSize: 16, bnRecalibrationImages: 0 }, final: { epochs: 3, batchSize: 16 },
  netadapt: { schedule: { initialFraction: 0.1 } }, ...o,
});

before(async () => {
  await useTrainingBackend();
  setDataDir(dir);
  db = openDb(join(dir, 'nas.sqlite'));
});
after(() => {
  db.close();
  setDataDir(undefined);
  rmSync(dir, { recursive: true, force: true });
});

function collect(): { events: NasEvent[]; onEvent: (e: NasEvent) => void; stages: () => string[] } {
  const events: NasEvent[] = [];
  return {
    events,
    onEvent: (e) => events.push(e),
    stages: () => events.flatMap((e) => (e.type === 'stage-changed' ? [e.stage] : [])),
  };
}

describe('runRun, hard mode, base over the target (NetAdapt down)', () => {
  it('delivers exported, verified files measured under T on the device runtime, with a complete card and store rows', async () => {
    const ev = collect();
    const T = baseMs * 0.8;
    const r = await runRun(common({ latencyTargetMs: T }), { onEvent: ev.onEvent, deps: { db, datasetOptions, predictor: tablePredictor } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    assert.ok(r.measuredLatencyMs !== null && r.measuredLatencyMs <= T, `measured ${r.measuredLatencyMs} > ${T}`);
    assert.ok(r.predictedLatencyMs !== null && r.predictedLatencyMs <= T);
    assert.equal(r.metTarget, true);
    const st = ev.stages();
    assert.deepEqual(st.slice(0, 3), ['search', 'refine', 'final-training']);
    assert.deepEqual(st.slice(-3), ['measure', 'export', 'done']);
    assert.ok(ev.events.some((e) => e.type === 'log' && /NetAdapt step 0/.test(e.message)));
    const done = ev.events.at(-1)!;
    assert.equal(done.type, 'done');
    // every format exported and verified; the card says target, predicted, measured, accuracy, params, MACs, search
    assert.deepEqual([...new Set(r.files.map((f) => f.format))].sort(), ['tfjs', 'tflite', 'tflite-int8']);
    for (const fmt of ['tflite', 'tflite-int8', 'tfjs']) {
      const card = JSON.parse(readFileSync(join(dir, 'out', 'models', r.modelId, fmt, 'model-card.json'), 'utf8'));
      assert.equal(card.verification.passed === undefined ? true : card.verification.passed, true);
      assert.equal(card.run.target.latencyMs, T);
      assert.equal(card.run.target.mode, 'hard');
      assert.equal(card.run.measuredLatencyMs, r.measuredLatencyMs);
      assert.equal(card.run.predictedLatencyMs, r.predictedLatencyMs);
      assert.equal(card.run.searchId, null);
      assert.equal(card.run.refinement.method, 'netadapt');
      assert.ok(card.run.testAccuracy >= 0 && card.run.testAccuracy <= 1);
      assert.equal(card.accuracy.split, 'test');
      assert.ok(card.params > 0 && card.macs > 0);
      assert.deepEqual(card.input, input);
      assert.equal(card.inputResize, undefined);
    }
    // store: succeeded row with card and spec, checkpoints per stage, files as artifacts whose sha256 matches
    const m = getModel(db, r.modelId);
    assert.equal(m.status, 'succeeded');
    assert.equal(m.stage, 'done');
    assert.ok(m.card && m.spec);
    assert.deepEqual(listCheckpoints(db, r.modelId).map((c) => c.stage), ['search', 'refine', 'final-training']);
    const files = listModelFiles(db, r.modelId);
    assert.equal(files.length, r.files.length);
    const tfl = files.find((f) => f.name === 'model.tflite')!;
    const bytes = readArtifact(db, tfl.artifactId);
    assert.deepEqual(bytes, new Uint8Array(readFileSync(r.files.find((f) => f.name === 'model.tflite')!.path)));
  });

  it('re-shrinks when measurement disagrees with the prediction, until the measured latency is under T', async () => {
    const T = baseMs * 0.8;
    const calls: number[] = [];
    const predictor = tablePredictor;
    // the first measurement reads 30% above the prediction (a biased predictor), later ones agree
    const measure = async (_d: string, spec: typeof base, i: typeof input, k: number) => {
      const p = predictor.predict(spec, i, k).latencyMs;
      calls.push(p);
      return { measured: true as const, latencyMs: calls.length === 1 ? p * 1.3 : p, relIqr: 0, runtime: 'test double', repeats: 1 };
    };
    const r = await runRun(common({ latencyTargetMs: T, formats: ['tflite'] }), { deps: { db, datasetOptions, predictor: tablePredictor, measure } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    assert.equal(calls.length, 2);
    assert.ok(calls[1]! <= T * (1 / 1.3) * 1.0001, `re-shrunk to ${calls[1]}, wanted <= ${T / 1.3}`);
    assert.ok(r.measuredLatencyMs! <= T);
    const cks = listCheckpoints(db, r.modelId);
    assert.deepEqual(cks.map((c) => c.stage), ['search', 'refine', 'final-training', 'refine', 'final-training']);
    assert.equal((cks[3]!.detail as { reshrink: number }).reshrink, 1);
  });

  it('a target no architecture meets: hard mode returns no model and says by how much the closest misses', async () => {
    const r = await runRun(common({ latencyTargetMs: baseMs * 0.05, formats: ['tflite'], netadapt: { schedule: { initialFraction: 0.5, minFraction: 0.3 }, maxSteps: 40 } }),
      { deps: { db, datasetOptions, predictor: tablePredictor } });
    assert.equal(r.status, 'failed');
    assert.match(r.error!, /the closest, [0-9a-f]{16}, is predicted at [0-9.]+ ms, [0-9.]+ ms \([0-9.]+%\) over/);
    assert.ok(r.missByMs > 0);
    assert.equal(r.files.length, 0);
    assert.equal(r.card, null);
    assert.equal(getModel(db, r.modelId).status, 'failed');
    assert.equal(listModelFiles(db, r.modelId).length, 0);
  });
});

describe('runRun: cancel and resume', () => {
  it('a run cancelled after final training keeps its checkpoints, says where it stopped, and resumes at export', async () => {
    const signal = { cancelled: false };
    const ev = collect();
    const r = await runRun(common({ formats: ['tflite'] }), {
      cancel: signal, deps: { db, datasetOptions, predictor: tablePredictor },
      onEvent: (e) => {
        ev.onEvent(e);
        if (e.type === 'log' && e.message.startsWith('final training')) signal.cancelled = true;
      },
    });
    assert.equal(r.status, 'cancelled');
    assert.match(r.error!, /cancelled during final-training; kept 3 stage checkpoint\(s\) \(search, refine, final-training\)/);
    assert.equal(getModel(db, r.modelId).status, 'cancelled');
    const again = collect();
    const r2 = await resumeRun(r.modelId, { onEvent: again.onEvent, deps: { db, datasetOptions, predictor: tablePredictor } });
    assert.equal(r2.status, 'succeeded', r2.error ?? '');
    assert.deepEqual(again.stages(), ['measure', 'export', 'done'], 'resume redid finished stages');
    assert.equal(listCheckpoints(db, r.modelId).length, 3);
    await assert.rejects(resumeRun(r.modelId, { deps: { db, datasetOptions, predictor: tablePredictor } }), /already finished/);
  });
});

describe('runRun, base well under the target (compound scaling up)', () => {
  it('scales depth, width and resolution to fill T; the card states the upsampled input', async () => {
    const T = baseMs * 3;
    const r = await runRun(common({
      latencyTargetMs: T, mode: 'soft', formats: ['tflite'],
      scaling: { grid: { alpha: [1.2], beta: [1.1], gamma: [1.15], tolerance: 0.1 } },
    }), { deps: { db, datasetOptions, predictor: tablePredictor, measure: measureOnDevice } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    assert.ok(r.input!.height > 20, `input ${r.input!.height}`);
    assert.ok(r.predictedLatencyMs! <= T && r.predictedLatencyMs! > baseMs);
    const card = r.card!;
    assert.equal(card.run!.refinement.method, 'compound-scaling');
    assert.deepEqual(card.inputResize!.from, { height: 20, width: 20 });
    assert.equal(card.inputResize!.to.height, r.input!.height);
    assert.deepEqual(card.input, r.input);
    assert.ok(r.spec!.blocks.some((b, i) => b.repeats > base.blocks[i]!.repeats) || r.spec!.blocks.some((b, i) => b.channels > base.blocks[i]!.channels));
    assert.ok(existsSync(r.files.find((f) => f.name === 'model.tflite')!.path));
  });
});

describe('bad input', () => {
  it('CLI flags and options name the problem (400-class), before any row or training', async () => {
    const { runInputFromFlags } = await import('../../src/cli/run.ts');
    const flags = { dataset: 'synthetic', device: device, targetMs: '1', mode: 'hard', seed: '1' };
    assert.throws(() => runInputFromFlags({ ...flags, targetMs: 'abc' }), (e: Error & { status?: number }) => e.status === 400 && /--target-ms/.test(e.message));
    assert.throws(() => runInputFromFlags({ ...flags, mode: 'medium' }), /--mode must be hard or soft/);
    assert.throws(() => runInputFromFlags({ ...flags, formats: 'tflite,onnx' }), /unknown format "onnx"/);
    assert.throws(() => runInputFromFlags({ ...flags, dataset: undefined }), /--dataset is required/);
    const before = db.prepare('SELECT COUNT(*) AS n FROM models').get() as { n: number };
    await assert.rejects(runRun({ ...common({}), baseArch: 'ir_r1_k3_s1_e9_c16' }, { deps: { db, datasetOptions, predictor: tablePredictor } }),
      (e: Error & { status?: number }) => e.status === 400 && /expansion 9/.test(e.message));
    await assert.rejects(runRun({ ...common({}), latencyTargetMs: -1 }, { deps: { db, datasetOptions, predictor: tablePredictor } }), /latency target must be a positive/);
    await assert.rejects(runRun({ ...common({}), final: { epochs: 0 } }, { deps: { db, datasetOptions, predictor: tablePredictor } }), /epochs must be/);
    await assert.rejects(createRun(db, { ...common({}), deviceId: 'no-such-device' }), (e: Error & { status?: number }) => e.status !== undefined && e.status >= 400 && e.status < 500 && /no-such-device/.test(e.message));
    const afterCount = db.prepare('SELECT COUNT(*) AS n FROM models').get() as { n: number };
    assert.equal(afterCount.n, before.n, 'bad input left a model row');
  });

  it('createRun stores a queued row for a job runner, owned by its key', async () => {
    const m = await createRun(db, common({}), { owner: 'key_test', deps: { datasetOptions, predictor: tablePredictor } });
    assert.equal(m.status, 'queued');
    assert.equal(m.owner, 'key_test');
    assert.equal(listModels(db, { owner: 'key_test' }).length, 1);
  });
});
