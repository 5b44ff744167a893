// Budgets that hold and cancels that stop any stage, on the synthetic dataset.
// A run's plan is stored with its row; with a budget far too small for the
// work, the run still delivers a verified model by cutting work in the
// stated order, and the cuts are recorded (checkpoint details and the row's
// plan). The job's clock is a fake that advances 20 s per reading, so every
// deadline passes at once: the assertions are on the decisions, never on
// wall time. Cancel is checked per batch: a cancel inside the first grid
// candidate's first epoch stops the run there, keeping the search stage.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import type { BudgetDecision, StoredPlan } from '../../src/app/run-budget.ts';
import { PLAN_STAGES } from '../../src/app/run-plan.ts';
import { resumeRun, runRun, type RunOptionsInput } from '../../src/app/run.ts';
import { getModel, listCheckpoints, listModelFiles } from '../../src/store/models.ts';
import { baseMs, baseText, datasetOptions, device, grid3, measure, predictor, tempStore } from './run-fixtures.ts';

const store = tempStore('nas-run-budget-');

const options = (o: Partial<RunOptionsInput>): RunOptionsInput => ({
  dataset: 'synthetic', deviceId: device, latencyTargetMs: baseMs * 3, baseArch: baseText, mode: 'soft', formats: ['tflite'],
  proxy: { epochs: 2, batchSize: 16, bnRecalibrationImages: 0 }, final: { epochs: 5, batchSize: 16 },
  scaling: { grid: grid3, maxPhi: 1 }, ...o,
});

/** a clock that advances 20 s each time the job reads it */
function fastClock(): () => number {
  let t = Date.now();
  return () => (t += 20_000);
}

const find = (ds: BudgetDecision[] | undefined, what: RegExp) => (ds ?? []).find((d) => what.test(d.what));
const budgetOf = (detail: Record<string, unknown>) => (detail.budget as { decisions: BudgetDecision[] } | undefined)?.decisions;

describe('a budget far too small for the work', () => {
  it('compound scaling: grid candidates skipped, proxy and final recipes cut, final training stopped at its deadline; a verified model still delivered', async () => {
    const r = await runRun(options({ budgetMinutes: 1 }), { deps: { db: store.db, datasetOptions, predictor, measure, clock: fastClock() } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    const cks = listCheckpoints(store.db, r.modelId);
    assert.deepEqual(cks.map((c) => c.stage), ['search', 'refine', 'final-training']);
    const refine = budgetOf(cks[1]!.detail);
    const skipped = find(refine, /^scaling-grid candidates$/);
    assert.ok(skipped, JSON.stringify(refine));
    assert.deepEqual([skipped.planned, skipped.actual], [3, 1], 'two of the three candidates skipped');
    assert.deepEqual((cks[1]!.detail.tried as unknown[]).length, 1);
    const proxyEpochs = find(refine, /^proxy recipe .*: epochs$/);
    assert.deepEqual([proxyEpochs?.planned, proxyEpochs?.actual], [2, 1]);
    const final = budgetOf(cks[2]!.detail);
    const epochs = find(final, /^final-training epochs$/);
    assert.deepEqual([epochs?.planned, epochs?.actual], [5, 1], JSON.stringify(final));
    assert.ok(find(final, /stopped at its deadline/), JSON.stringify(final));
    assert.equal(cks[2]!.detail.epochs, 1);
    // never cut: export and its verification (a failed verification fails the run)
    assert.deepEqual(listModelFiles(store.db, r.modelId).map((f) => f.format).filter((f, i, a) => a.indexOf(f) === i), ['tflite']);
    assert.ok(r.card!.verification, 'the export was verified');
    if (process.env.DEBUG_BUDGET) console.log(JSON.stringify(getModel(store.db, r.modelId).plan, null, 1));
    // the row's plan: a 1-minute budget shared among the stages, what each stage spent, every decision
    const plan = getModel(store.db, r.modelId).plan as StoredPlan;
    assert.equal(plan.budgetMinutes, 1);
    assert.ok(Math.abs(PLAN_STAGES.reduce((s, k) => s + plan.minutes[k], 0) - 1) < 1e-9);
    assert.equal(plan.minutes.search, 0, 'a given base architecture: no search');
    for (const k of ['refine', 'final-training', 'measure', 'export'] as const) assert.ok((plan.actual[k] ?? 0) > 0, `${k} spent ${plan.actual[k]}`);
    assert.deepEqual(plan.decisions.map((d) => d.what), [...refine!, ...final!].map((d) => d.what));
    assert.ok(plan.measuredImagesPerSec! > 0);
  });

  it('NetAdapt: the base trains a shorter recipe, steps past the deadline are not fine-tuned, no long fine-tune', async () => {
    const events: NasEvent[] = [];
    const r = await runRun(options({ budgetMinutes: 1, latencyTargetMs: baseMs * 0.8, netadapt: { schedule: { initialFraction: 0.1 } } }),
      { onEvent: (e) => events.push(e), deps: { db: store.db, datasetOptions, predictor, measure, clock: fastClock() } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    const refine = budgetOf(listCheckpoints(store.db, r.modelId)[1]!.detail);
    assert.deepEqual([find(refine, /^NetAdapt base training epochs$/)?.planned, find(refine, /^NetAdapt base training epochs$/)?.actual], [2, 1]);
    const untuned = find(refine, /^NetAdapt steps without fine-tune$/);
    assert.ok(untuned && untuned.actual >= 1, JSON.stringify(refine));
    assert.ok(find(refine, /^NetAdapt long fine-tune$/), JSON.stringify(refine));
    assert.ok(events.some((e) => e.type === 'log' && /NetAdapt step 0: .*not fine-tuned \(time budget\)/.test(e.message)));
    assert.ok(r.predictedLatencyMs! <= baseMs * 0.8, 'the target is still reached');
  });

  it('without a budget the plan only estimates: nothing is cut', async () => {
    const r = await runRun(options({ scaling: { grid: { alpha: [1.2], beta: [1.1], gamma: [1.15], tolerance: 0.1 }, maxPhi: 1 }, final: { epochs: 1, batchSize: 16 } }),
      { deps: { db: store.db, datasetOptions, predictor, measure, clock: fastClock() } });
    assert.equal(r.status, 'succeeded', r.error ?? '');
    const plan = getModel(store.db, r.modelId).plan as StoredPlan;
    assert.equal(plan.budgetMinutes, null);
    assert.deepEqual(plan.decisions, []);
    assert.ok(listCheckpoints(store.db, r.modelId).every((c) => c.detail.budget === undefined));
  });
});

describe('cancel inside a training run', () => {
  it('stops within the batch it is asked in, names the stage, keeps the search checkpoint, and resumes', async () => {
    const signal = { cancelled: false };
    const events: NasEvent[] = [];
    const r = await runRun(options({}), {
      cancel: signal, deps: { db: store.db, datasetOptions, predictor, measure, heartbeatMs: 0 },
      onEvent: (e) => {
        events.push(e);
        // the first heartbeat of the first grid candidate's first epoch
        if (e.type === 'progress' && e.stage === 'refine' && e.unit === 'epoch' && e.done < 1) signal.cancelled = true;
      },
    });
    assert.equal(r.status, 'cancelled');
    assert.match(r.error!, /^cancelled during refine; kept 1 stage checkpoint\(s\) \(search\)/);
    const cancelled = events.at(-1)!;
    assert.equal(cancelled.type, 'cancelled');
    assert.match((cancelled as { message?: string }).message ?? '', /cancelled during refine/);
    // stopped inside the first candidate's first epoch: no candidate finished, the batch after the cancel never ran
    assert.equal(events.filter((e) => e.type === 'progress' && e.unit === 'candidate').length, 0);
    const heartbeats = events.filter((e) => e.type === 'progress' && e.stage === 'refine' && e.unit === 'epoch');
    assert.equal(heartbeats.length, 1, 'one batch ran before the cancel was seen');
    assert.equal(getModel(store.db, r.modelId).status, 'cancelled');
    assert.deepEqual(listCheckpoints(store.db, r.modelId).map((c) => c.stage), ['search']);
    const r2 = await resumeRun(r.modelId, { deps: { db: store.db, datasetOptions, predictor, measure } });
    assert.equal(r2.status, 'succeeded', r2.error ?? '');
  });
});

describe('throughput for the final training', () => {
  it('a figure measured on another network is an extrapolation: measuredFor says so, and the network\'s own figure replaces it', async () => {
    const { Throughput } = await import('../../src/app/run-budget.ts');
    const t = new Throughput(200);
    assert.equal(t.measuredFor(2e6), false);
    t.record(1e6, 100); // a proxy training of a smaller network
    assert.equal(t.measuredFor(2e6), false, 'the final network (twice the MACs) is not measured yet: the stage probes it');
    assert.equal(t.imagesPerSec(2e6), 50, 'the extrapolation scales by MACs');
    t.record(2e6, 180); // the probe of the final network itself
    assert.equal(t.measuredFor(2e6), true);
    assert.equal(t.imagesPerSec(2e6), 180);
  });
});
