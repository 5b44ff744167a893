import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildSynthetic } from '../../src/data/synthetic.ts';
import { parseArchString } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { useTrainingBackend } from '../../src/train/backend.ts';
import { defaultTrainConfig, type TrainConfig } from '../../src/train/config.ts';
import { trainArch } from '../../src/train/trainer.ts';
import { loadTrainedModel, saveTrainedModel } from '../../src/train/weights_io.ts';

// A 2-block net on 12x12 synthetic stripes: seconds per run on any backend.
const arch = parseArchString('stem_k3_s1_c8 ir_r1_k3_s2_e3_c8_se0.25 ds_r1_k3_s2_c16 head_c16_d0.1', { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head });
const dataset = buildSynthetic({ perClass: 32, numClasses: 3, size: 12, seed: 1 });
const cfg = (o: Partial<TrainConfig>): TrainConfig =>
  defaultTrainConfig({ optimizer: 'adam', learningRate: 0.01, batchSize: 8, warmupEpochs: 0, restartOnChance: false, ...o });
const dir = mkdtempSync(join(tmpdir(), 'nas-train-'));

before(async () => {
  await useTrainingBackend();
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('trainer on synthetic stripes', () => {
  it('learns well above chance, loss falls, and no tensors leak across epochs', async () => {
    const before = tf.memory().numTensors;
    const r = await trainArch({ arch, dataset, config: cfg({ epochs: 6 }), evaluateTest: true });
    assert.ok(r.valAccuracy >= 0.8, `validation accuracy ${r.valAccuracy}`);
    assert.ok(r.testAccuracy !== undefined && r.testAccuracy >= 0.7, `test accuracy ${r.testAccuracy}`);
    assert.ok(r.epochs[5].trainLoss < r.epochs[0].trainLoss);
    assert.equal(r.epochs.length, 6);
    assert.ok(r.lossCurve.length >= 6);
    assert.ok(r.imagesPerSec > 0);
    assert.equal(r.trainImages, dataset.manifest.splits.train.count);
    const counts = new Set(r.epochs.map((e) => e.numTensors));
    assert.equal(counts.size, 1, `numTensors per epoch ${r.epochs.map((e) => e.numTensors)}`);
    assert.equal(tf.memory().numTensors, before);
  });

  it('is reproducible for a seed and differs for another seed', async () => {
    const c = cfg({ epochs: 2, seed: 3 });
    const a = await trainArch({ arch, dataset, config: c });
    const b = await trainArch({ arch, dataset, config: c });
    const d = await trainArch({ arch, dataset, config: { ...c, seed: 4 } });
    assert.deepEqual(a.lossCurve, b.lossCurve);
    assert.equal(a.valAccuracy, b.valAccuracy);
    assert.notDeepEqual(a.lossCurve, d.lossCurve);
  });

  it('restarts with a lower learning rate when epoch 1 is no better than chance (BlockQNN)', async () => {
    const noise = buildSynthetic({ perClass: 24, numClasses: 3, size: 12, seed: 2, noise: 1 });
    const c = cfg({ epochs: 2, optimizer: 'sgd', learningRate: 10, restartOnChance: true, maxRestarts: 1, restartLrFactor: 0.01 });
    const r = await trainArch({ arch, dataset: noise, config: c });
    assert.equal(r.restarts, 1);
    assert.deepEqual(r.epochs.map((e) => [e.attempt, e.epoch]), [[0, 1], [1, 1], [1, 2]]);
    assert.ok(Math.abs(r.learningRate - 0.1) < 1e-9);
    const none = await trainArch({ arch, dataset: noise, config: { ...c, restartOnChance: false } });
    assert.equal(none.restarts, 0);
  });

  it('trains a subset at another resolution', async () => {
    const r = await trainArch({ arch, dataset, config: cfg({ epochs: 1, subset: 16, validationSubset: 6, resolution: 8 }), keepModel: true });
    assert.equal(r.trainImages, 16);
    assert.equal(r.valImages, 6);
    assert.equal(r.resolution, 8);
    assert.deepEqual(r.model!.inputs[0].shape, [null, 8, 8, 1]);
    r.model!.dispose();
  });

  it('saves weights in the tfjs layers format and loads them back with identical predictions', async () => {
    const r = await trainArch({ arch, dataset, config: cfg({ epochs: 1 }), keepModel: true });
    const model = r.model!;
    await saveTrainedModel(model, dir);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
    const loaded = await loadTrainedModel(dir);
    const x = tf.randomUniform([4, 12, 12, 1], -1, 1, 'float32', 5);
    const [p, q] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    assert.deepEqual(Array.from(p.dataSync()), Array.from(q.dataSync()));
    tf.dispose([x, p, q]);
    model.dispose();
    loaded.dispose();
  });
});
