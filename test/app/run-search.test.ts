// `nas run` from the search on: runRun with no base architecture runs a real
// (tiny) search through the trial pool, refines its best to the target and
// delivers the model whose card names the search.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import { runRun } from '../../src/app/run.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { fastestArch } from '../../src/search/fastest.ts';
import { skeletonFor } from '../../src/space/skeleton.ts';
import { getModel, listCheckpoints } from '../../src/store/models.ts';
import { getSearch } from '../../src/store/searches.ts';
import { tempStore } from './run-fixtures.ts';

const store = tempStore('nas-run-search-');
const input = { height: 12, width: 12, channels: 1 };
const predictor = loadPredictor('node-tflite-wasm', { calibration: 'off' });


describe('runRun with the search', () => {
  it('searches (1 trial in the worker pool), refines the best to T, and the card and row name the search', async () => {
    // sampled architectures of the small skeleton at 12x12 are predicted around 0.3-2 ms; the fastest far below
    const fastest = fastestArch(skeletonFor(input), predictor, input, 3);
    const T = 1;
    assert.ok(fastest.latencyMs < T);
    const events: NasEvent[] = [];
    const r = await runRun({
      dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: T, mode: 'hard', formats: ['tflite'],
      search: { skipFactor: 10, strategy: 'random', maxTrials: 1, maxParallelTrials: 1, proxy: { epochs: 1, batchSize: 16, bnRecalibrationImages: 0 } },
      proxy: { epochs: 1, batchSize: 16, bnRecalibrationImages: 0 }, final: { epochs: 2, batchSize: 16 },
      netadapt: { schedule: { initialFraction: 0.1 } }, scaling: { grid: { alpha: [1.2], beta: [1.1], gamma: [1.15], tolerance: 0.1 } },
    }, { onEvent: (e) => { events.push(e); if (process.env.DEBUG_RUN) console.log(JSON.stringify(e).slice(0, 200)); }, deps: { db: store.db, predictor } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    assert.ok(r.searchId, 'no search id');
    assert.equal(getSearch(store.db, r.searchId!).status, 'succeeded');
    assert.equal(r.card!.run!.searchId, r.searchId);
    assert.equal(getModel(store.db, r.modelId).searchId, r.searchId);
    assert.ok(events.some((e) => e.type === 'trial-finished'));
    assert.ok(r.measuredLatencyMs! <= T && r.predictedLatencyMs! <= T);
    const search = listCheckpoints(store.db, r.modelId)[0]!;
    assert.equal(search.stage, 'search');
    assert.equal((search.detail as { source: string }).source, 'search');
  });
});
