// The model card of a run on an uploaded dataset names no server path: the
// dataset is `dataset:<id>` (as the API names it), in `dataset.name` and in
// the sources of the verification and calibration samples, and the weights
// are the model's checkpoint, not a folder under the data directory. The
// card is checked where a user gets it: the stored row (GET /v1/models, the
// downloads) and the model-card.json beside each export.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { uploadDataset } from '../../src/app/datasets.ts';
import { runRun } from '../../src/app/run.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { createKey } from '../../src/store/keys.ts';
import { getModel } from '../../src/store/models.ts';
import { makeZip } from '../http/zip.ts';
import { tempStore } from './run-fixtures.ts';

const store = tempStore('nas-run-card-');
const dir = store.dir;
const device = 'node-tflite-wasm';

/** 12x12 RGB stripes, one shade per class */
async function png(cls: number, i: number): Promise<Buffer> {
  const px = Buffer.alloc(12 * 12 * 3, 40 + cls * 80);
  for (let k = 0; k < 12; k++) px[((i * 5 + k * (cls + 2) * 3) * 3) % px.length] = 255;
  return sharp(px, { raw: { width: 12, height: 12, channels: 3 } }).png().toBuffer();
}


describe('model card of a run on an uploaded dataset', () => {
  it('names the dataset dataset:<id> and no server path, in the stored card and in model-card.json', async () => {
    const entries = [];
    for (const [c, name] of ['dark', 'mid', 'light'].entries()) {
      for (let i = 0; i < 16; i++) entries.push({ name: `${name}/${i}.png`, data: await png(c, i) });
    }
    const zip = join(dir, 'upload.zip');
    writeFileSync(zip, makeZip(entries));
    const bytes = readFileSync(zip);
    const ds = await uploadDataset({
      db: store.db, dataDir: dir, ownerKeyId: createKey(store.db, 'alice', 'user').key.id, name: 'shades',
      archive: { path: zip, sizeBytes: statSync(zip).size, sha256: createHash('sha256').update(bytes).digest('hex') },
    });
    // what POST /v1/searches with "dataset:<id>" stores (resolveDatasetRef): the upload's folder under the data directory
    const r = await runRun({
      dataset: `folder:${join(dir, 'datasets', ds.id, 'images')}`, deviceId: device, latencyTargetMs: 1000, mode: 'soft',
      baseArch: 'stem_k3_s1_c8 ir_r1_k3_s2_e3_c16 ds_r1_k3_s2_c24 head_c32', scaleUpSlack: 1,
      final: { epochs: 1, batchSize: 16 }, formats: ['tflite', 'tflite-int8'],
    }, { deps: { db: store.db, datasetOptions: { folder: { size: 12 } }, predictor: loadPredictor(device, { calibration: 'off' }) } });
    // int8 verification is not meaningful on this toy set's few validation images: either outcome leaves cards
    assert.ok(r.status === 'succeeded' || /verification failed for tflite-int8$/.test(r.error ?? ''), `${r.status}: ${r.error}`);
    const stored = getModel(store.db, r.modelId).card as Record<string, unknown> | null;
    assert.ok(stored, 'the model row has its card');
    const cards = [stored, ...['tflite', 'tflite-int8'].map((f) => JSON.parse(readFileSync(join(dir, 'out', 'models', r.modelId, f, 'model-card.json'), 'utf8')))];
    for (const card of cards) {
      assert.equal(card.dataset.name, `dataset:${ds.id}`);
      const text = JSON.stringify(card);
      assert.ok(!text.includes(dir), `the card names a server path: ${text.match(new RegExp(`.{0,60}${dir.replace(/[/.]/g, '\\$&')}.{0,60}`))?.[0]}`);
      assert.ok(!text.includes('folder:'), 'no folder: reference');
      assert.match(card.verification.reference, new RegExp(`images of dataset:${ds.id} validation split`));
      assert.match(card.weightsSource, new RegExp(`^model ${r.modelId}, final-training checkpoint`));
    }
    const int8 = cards[2];
    assert.match(int8.quantization.representativeSource, new RegExp(`images of dataset:${ds.id} train split`));
  });
});
