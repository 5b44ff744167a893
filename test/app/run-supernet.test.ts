// "Train once, serve every target": with a trained supernet (and its accuracy
// predictor) a `nas run` searches with the predictor, re-scores the best few
// candidates with the supernet, keeps the chosen architecture, inherits its
// weights from the supernet (the refine checkpoint holds exactly the
// extracted weights) and fine-tunes them in the final training, then exports.
// Two targets reuse the one supernet. Synthetic data, a few steps: seconds.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runRun } from '../../src/app/run.ts';
import { trainSupernet } from '../../src/app/supernet.ts';
import { loadDataset } from '../../src/data/registry.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { decodeWeights } from '../../src/refine/weights-blob.ts';
import { disposeWeights } from '../../src/refine/prune.ts';
import { readArtifact } from '../../src/store/artifacts.ts';
import { getModel, listCheckpoints } from '../../src/store/models.ts';
import { listSupernets } from '../../src/store/supernets.ts';
import { listTrials } from '../../src/store/trials.ts';
import { SupernetEvaluator } from '../../src/supernet/evaluator.ts';
import { tempStore } from './run-fixtures.ts';

const datasetOptions = { synthetic: { size: 16, perClass: 24 } };
const device = 'node-tflite-wasm';
const tablePredictor = loadPredictor(device, { calibration: 'off' });
const store = tempStore('nas-run-supernet-');


describe('nas run with a trained supernet', () => {
  it('predictor search -> supernet re-scoring -> inherited weights fine-tuned -> exported, for two targets from one supernet', async () => {
    const sn = await trainSupernet({ dataset: 'synthetic', steps: 4, recipe: { batchSize: 8, randomSubnets: 0 }, predictorSamples: 12 }, { deps: { db: store.db, datasetOptions } });
    assert.equal(sn.status, 'succeeded');
    assert.ok((sn.record.metrics.predictor as { artifactId?: string }).artifactId, 'the supernet has its accuracy predictor');
    const ds = await loadDataset('synthetic', datasetOptions);
    for (const latencyTargetMs of [0.6, 1.2]) {
      const r = await runRun({
        dataset: 'synthetic', deviceId: device, latencyTargetMs, mode: 'hard', seed: 3,
        search: { evaluator: 'predictor', strategy: 'random', maxTrials: 40 },
        final: { epochs: 1, batchSize: 16 }, formats: ['tflite'],
      }, { deps: { db: store.db, datasetOptions, predictor: tablePredictor, search: { datasetOptions } } });
      assert.equal(r.status, 'succeeded', r.error ?? '');
      const cks = listCheckpoints(store.db, r.modelId);
      const search = cks.find((c) => c.stage === 'search')!;
      const d = search.detail as { evaluator: string; supernetId: string; rescored: { supernet: number }[] };
      assert.equal(d.evaluator, 'predictor');
      assert.equal(d.supernetId, sn.supernetId);
      assert.ok(d.rescored.length >= 1 && d.rescored.length <= 8);
      assert.ok(listTrials(store.db, getModel(store.db, r.modelId).searchId!).every((t) => t.evaluator === 'predictor'));
      const refine = cks.find((c) => c.stage === 'refine')!;
      assert.equal((refine.detail as { method: string }).method, 'inherit');
      assert.deepEqual(refine.spec, search.spec, 'the searched architecture is kept');
      // the refine checkpoint's weights are the supernet's extraction of that architecture, to the bit
      const stored = decodeWeights(readArtifact(store.db, refine.weightsArtifactId!));
      const ev = new SupernetEvaluator(readArtifact(store.db, sn.record.checkpointArtifactId!), ds);
      const want = ev.extract(refine.spec);
      try {
        assert.deepEqual([...stored.keys()].sort(), [...want.keys()].sort());
        for (const [k, ts] of want) ts.forEach((t, i) => assert.deepEqual(Array.from(stored.get(k)![i]!.dataSync()), Array.from(t.dataSync()), k));
      } finally {
        disposeWeights(stored);
        disposeWeights(want);
        ev.dispose();
      }
      assert.ok(cks.some((c) => c.stage === 'final-training'));
      assert.ok(r.files.some((f) => f.format === 'tflite'));
    }
    assert.equal(listSupernets(store.db).length, 1, 'both targets used the one supernet');
  });
});
