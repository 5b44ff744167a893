// Every stage of `nas run` reports progress, counted per unit of work (never
// timed): a progress event per search trial, per scaling-grid candidate and
// per epoch of each candidate's training, per NetAdapt proposal and step,
// per final-training epoch (with images/s and the stage's and the job's
// ETA), per export format (start and verified end), and for the
// measurement. Inside a training run a heartbeat follows a batch once the
// heartbeat interval has passed (0 here: after every batch). Every event
// conforms to api/openapi.json's NasEvent.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { NasEvent, ProgressEvent } from '../../src/app/events.ts';
import { runRun, type RunOptionsInput } from '../../src/app/run.ts';
import { gridCandidates } from '../../src/refine/scaling.ts';
import { ajv } from '../http/helpers.ts';
import { baseMs, baseText, datasetOptions, device, grid3, measure, predictor, tempStore } from './run-fixtures.ts';

const validEvent = ajv.compile({ $ref: 'api#/components/schemas/NasEvent' });
const store = tempStore('nas-run-progress-');

async function run(o: Partial<RunOptionsInput>, heartbeatMs?: number): Promise<{ events: NasEvent[]; progress: (stage: string, unit?: string) => ProgressEvent[] }> {
  const events: NasEvent[] = [];
  const r = await runRun({
    dataset: 'synthetic', deviceId: device, latencyTargetMs: baseMs, baseArch: baseText, mode: 'soft', formats: ['tflite', 'tfjs'],
    proxy: { epochs: 2, batchSize: 16, bnRecalibrationImages: 0 }, final: { epochs: 3, batchSize: 16 }, ...o,
  }, { onEvent: (e) => events.push(e), deps: { db: store.db, datasetOptions, predictor, measure, heartbeatMs, search: { datasetOptions } } });
  assert.equal(r.status, 'succeeded', r.error ?? '');
  for (const e of events) assert.ok(validEvent(e), `${JSON.stringify(e)}: ${JSON.stringify(validEvent.errors)}`);
  const progress = (stage: string, unit?: string) => events.filter((e): e is ProgressEvent => e.type === 'progress' && e.stage === stage && (unit === undefined || e.unit === unit));
  return { events, progress };
}

describe('progress events of every stage', () => {
  it('search trials, scaling-grid candidates and their epochs, final epochs with images/s and ETA, export formats, measurement', async () => {
    const grid = grid3;
    const C = gridCandidates(grid).length;
    assert.equal(C, 3);
    const trials = 2;
    const { progress, events } = await run({
      // a target far above the base: compound scaling, phi at most 1 (about twice the base's FLOPs)
      baseArch: null, latencyTargetMs: 5,
      search: { strategy: 'random', maxTrials: trials, maxParallelTrials: 1, proxy: { subset: 48, validationSubset: 24, epochs: 1, batchSize: 16, bnRecalibrationImages: 0 } },
      proxy: { epochs: 2, batchSize: 16, bnRecalibrationImages: 0 }, scaling: { grid, maxPhi: 1 }, final: { epochs: 2, batchSize: 16 },
    });
    assert.ok(events.some((e) => e.type === 'log' && /^compound scaling/.test(e.message)), 'the run scaled up');
    const trialEvents = progress('search', 'trial');
    assert.ok(trialEvents.length >= trials, `${trialEvents.length} trial progress events for ${trials} trials`);
    assert.equal(trialEvents.at(-1)!.total, trials);
    assert.ok(progress('refine', 'candidate').length >= C, `${progress('refine', 'candidate').length} candidate events for ${C} candidates`);
    assert.deepEqual(progress('refine', 'candidate').map((e) => e.done), [1, 2, 3]);
    // 2 proxy epochs per candidate
    assert.ok(progress('refine', 'epoch').length >= 2 * C, `${progress('refine', 'epoch').length} epoch events for ${C} candidates x 2 epochs`);
    const finalEpochs = progress('final-training', 'epoch');
    assert.ok(finalEpochs.length >= 2, `${finalEpochs.length} final-training epoch events for 2 epochs`);
    const perEpoch = (es: ProgressEvent[]) => es.filter((e) => !/batch/.test(e.message ?? ''));
    assert.deepEqual(perEpoch(finalEpochs).map((e) => e.done), [1, 2]);
    for (const e of finalEpochs) {
      assert.ok(e.imagesPerSec! > 0 && e.etaS! >= 0 && e.jobEtaS! >= e.etaS!, JSON.stringify(e));
    }
    assert.equal(perEpoch(finalEpochs).at(-1)!.etaS, 0, 'no training left after the last epoch');
    const formats = progress('export', 'format');
    assert.ok(formats.length >= 2 * 2, `${formats.length} export events for 2 formats`);
    assert.deepEqual(formats.filter((e) => /verification passed/.test(e.message ?? '')).map((e) => e.done), [1, 2], 'each format says it was verified');
    assert.ok(progress('measure', 'network').some((e) => e.done === 1 && /measured/.test(e.message ?? '')));
    // progress of a stage comes after the stage-changed event that entered it
    const stageAt = (s: string) => events.findIndex((e) => e.type === 'stage-changed' && e.stage === s);
    for (const s of ['search', 'refine', 'final-training', 'measure', 'export']) {
      assert.ok(events.findIndex((e) => e.type === 'progress' && e.stage === s) > stageAt(s), s);
    }
  });

  it('NetAdapt: per training epoch, per proposal and per step; heartbeats within an epoch after every batch', async () => {
    const { progress, events } = await run({ latencyTargetMs: baseMs * 0.8, netadapt: { schedule: { initialFraction: 0.1 } } }, 0);
    const steps = events.filter((e) => e.type === 'log' && /^NetAdapt step \d+:/.test(e.message)).length;
    assert.ok(steps >= 1);
    assert.equal(progress('refine', 'step').length, steps, 'one progress event per step');
    assert.ok(progress('refine', 'proposal').length >= steps, 'at least one per proposal');
    // base training on the proxy task (2 epochs), one fine-tune epoch per proposal, the long fine-tune (2 epochs)
    const whole = progress('refine', 'epoch').filter((e) => !/batch/.test(e.message ?? ''));
    assert.ok(whole.length >= 2 + progress('refine', 'proposal').length + 2, `${whole.length} epoch events`);
    // heartbeats: one after every batch of the final training (3 epochs of 3 batches: 48 images, batch 16)
    const final = progress('final-training', 'epoch');
    const batches = final.filter((e) => /batch \d+ of \d+/.test(e.message ?? ''));
    assert.ok(batches.length >= 3 * 3, `${batches.length} heartbeats for 9 batches`);
    assert.ok(batches.some((e) => !Number.isInteger(e.done)), 'heartbeats report fractions of an epoch');
  });
});
