// The time plan of a `nas run` job (src/app/run-plan.ts): the stages' shares
// add up to the budget, verification/export/measurement keep their reserves,
// and a shrinking budget cuts work in the stated order: scaling-grid
// candidates first, then the proxy recipe, then the final recipe's epochs,
// then its images. Pure: no training, no clock.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { planInputFor } from '../../src/app/run-budget.ts';
import { resolveRunOptions } from '../../src/app/run-options.ts';
import { RESCORE_TOP } from '../../src/app/run-stages/refine-inherit.ts';
import {
  CUT_ORDER, fitRecipe, MIN_TRAIN_IMAGES, minutesAfter, minutesThrough, PLAN_STAGES, type PlanInput, planRun, recipeMinutes, type RunPlan,
} from '../../src/app/run-plan.ts';

// fashion-mnist-like: 60,000 training images, 20 search trials of 2,000 images, the default recipes (validation on
// 5,000 images, BN recalibration on 2,048; the proxy's capped at 1,000 each under a budget), 16 grid candidates
const input = (budgetMinutes: number | null, o: Partial<PlanInput> = {}): PlanInput => ({
  budgetMinutes,
  search: { maxTrials: 20, parallel: 2, imagesPerTrial: 2000 + 2000 / 3, trialOverheadS: 10, afterTrialsImages: 0, afterTrialsOverheadS: 0, maxWallMinutes: null },
  inheritImages: null,
  proxy: { epochs: 2, images: 60_000, evalImages: 2000, testImages: 0 },
  final: { epochs: 10, images: 60_000, evalImages: 7048, testImages: 10_000 },
  gridCandidates: 16, formats: 3, imagesPerSec: 250, throughputSource: 'default', ...o,
});

const total = (p: RunPlan) => PLAN_STAGES.reduce((s, k) => s + p.minutes[k], 0);

describe('planRun: shares', () => {
  it('add up to the budget at every size, none negative, reserves for measurement and export always there', () => {
    for (const b of [0.5, 1, 2, 5, 10, 20, 40, 60, 240, 10_000]) {
      const p = planRun(input(b));
      assert.ok(Math.abs(total(p) - b) < 1e-9, `budget ${b}: shares add up to ${total(p)}`);
      for (const k of PLAN_STAGES) assert.ok(p.minutes[k] >= 0, `${k} ${p.minutes[k]}`);
      assert.ok(p.minutes.measure > 0 && p.minutes.export > 0, `budget ${b}: reserves ${p.minutes.measure}, ${p.minutes.export}`);
      assert.equal(minutesThrough(p, 'export'), total(p));
      assert.ok(Math.abs(minutesAfter(p, 'refine') - (p.minutes['final-training'] + p.minutes.measure + p.minutes.export)) < 1e-9);
    }
  });

  it('a budget large enough for everything cuts nothing', () => {
    const p = planRun(input(10_000));
    assert.deepEqual(p.cuts, []);
    assert.deepEqual({ ...p.work, searchRoundMinutes: undefined }, { searchTrials: 20, searchRoundMinutes: undefined, gridCandidates: 16, gridCandidatesTotal: 16, proxyEpochs: 2, proxyImages: 60_000, finalEpochs: 10, finalImages: 60_000, formats: 3 });
  });

  it('a given base architecture (no search) plans no search minutes', () => {
    const p = planRun(input(20, { search: null }));
    assert.equal(p.minutes.search, 0);
    assert.equal(p.work.searchTrials, null);
    assert.ok(Math.abs(total(p) - 20) < 1e-9);
  });

  it('without a budget the minutes are full-cost estimates and nothing is cut', () => {
    const p = planRun(input(null));
    assert.equal(p.budgetMinutes, null);
    assert.deepEqual(p.cuts, []);
    // 10 epochs x 60,000 images at 250 images/s, their validations and the test evaluation, with the overhead factor
    assert.ok(p.minutes['final-training'] > 45 && p.minutes['final-training'] < 50, String(p.minutes['final-training']));
    assert.equal(p.work.finalEpochs, 10);
  });

  it('refuses a plan without throughput or with a non-positive budget', () => {
    assert.throws(() => planRun(input(10, { imagesPerSec: 0 })), /positive throughput/);
    assert.throws(() => planRun(input(-1)), /budget minutes must be > 0/);
  });
});

describe('planRun: a shrinking budget degrades in the stated order', () => {
  const budgets = [600, 400, 200, 120, 80, 60, 40, 30, 20, 15, 10, 5, 2, 1];
  const plans = budgets.map((b) => planRun(input(b)));

  it('each kind of work only shrinks as the budget does', () => {
    for (let i = 1; i < plans.length; i++) {
      const [a, b] = [plans[i - 1]!.work, plans[i]!.work];
      for (const k of ['gridCandidates', 'proxyEpochs', 'proxyImages', 'finalEpochs', 'finalImages'] as const) {
        assert.ok(b[k] <= a[k], `${k} grew from ${a[k]} (${budgets[i - 1]} min) to ${b[k]} (${budgets[i]} min)`);
      }
    }
    // the smallest budget has cut every kind: one candidate, a shorter proxy recipe, one final epoch on fewer images
    const last = plans.at(-1)!.work;
    assert.equal(last.gridCandidates, 1);
    assert.ok(last.proxyEpochs === 1 && last.proxyImages < 60_000);
    assert.equal(last.finalEpochs, 1);
    assert.ok(last.finalImages < 60_000 && last.finalImages >= MIN_TRAIN_IMAGES);
  });

  it('grid candidates are cut before the final recipe, and the final epochs before its images', () => {
    const firstCut = (pred: (p: RunPlan) => boolean) => plans.findIndex(pred);
    const grid = firstCut((p) => p.work.gridCandidates < 16);
    const epochs = firstCut((p) => p.work.finalEpochs < 10);
    const images = firstCut((p) => p.work.finalImages < 60_000);
    assert.ok(grid >= 0 && epochs >= 0 && images >= 0, `grid ${grid}, epochs ${epochs}, images ${images}`);
    assert.ok(grid < epochs, `the final epochs were cut at ${budgets[epochs]} min while the grid still had every candidate`);
    assert.ok(epochs < images, `final images cut at ${budgets[images]} min before epochs reached 1`);
    for (const p of plans.filter((x) => x.work.finalImages < 60_000)) assert.equal(p.work.finalEpochs, 1, 'images are cut only at one epoch');
  });

  it('each plan lists its cuts in CUT_ORDER', () => {
    const rank = (what: string) => CUT_ORDER.findIndex((c) => what.startsWith(c));
    for (const p of plans) {
      const ranks = p.cuts.map((c) => rank(c.what));
      assert.ok(ranks.every((r) => r >= 0), JSON.stringify(p.cuts));
      assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), JSON.stringify(p.cuts));
      for (const c of p.cuts) assert.ok(c.to < c.from, JSON.stringify(c));
    }
  });
});

describe('planInputFor: what scores a candidate sets the search\'s and the refinement\'s cost', () => {
  // Fashion-MNIST's splits, the default throughput at 28x28x1
  const counts = { train: 55_000, validation: 5_000, test: 10_000 };
  const throughput = { imagesPerSec: 200, source: 'default' as const };
  const plan = (evaluator: 'proxy' | 'supernet' | 'predictor', maxTrials: number, budgetMinutes: number | null = null) => planRun(planInputFor(resolveRunOptions({
    dataset: 'fashion-mnist', deviceId: 'node-tflite-wasm', latencyTargetMs: 1.3, budgetMinutes, search: { evaluator, maxTrials }, final: { epochs: 4, subset: 20_000 },
  }), counts, throughput));

  it('a predictor search of 2,000 candidates is planned in minutes (predictor calls and the best re-scored by the supernet), not as 2,000 proxy trainings', () => {
    const proxy = plan('proxy', 2000), predictor = plan('predictor', 2000), supernet = plan('supernet', 2000);
    // a proxy trial trains 2 epochs; 2,000 of them are days
    assert.ok(proxy.minutes.search > 300, `proxy search ${proxy.minutes.search} min`);
    // 2,000 predictor calls (0.05 s each) and RESCORE_TOP supernet evaluations of 512 + 2,000 images (forward only, plus a second each)
    const rescoreMin = (RESCORE_TOP * (512 + 2000) / 3 * 1.1) / 200 / 60 + RESCORE_TOP * 1 / 60;
    assert.ok(Math.abs(predictor.minutes.search - (2000 * 0.05 / 60 + rescoreMin)) < 1e-9, `predictor search ${predictor.minutes.search} min`);
    assert.ok(predictor.minutes.search < 3, `predictor search ${predictor.minutes.search} min`);
    // each supernet evaluation: its forward passes plus a second of extraction and model build
    assert.ok(Math.abs(supernet.minutes.search - 2000 * ((2512 / 3 * 1.1) / 200 + 1) / 60) < 1e-9, `supernet search ${supernet.minutes.search} min`);
    // the search holds back the re-scoring before its deadline
    assert.ok(predictor.work.searchRoundMinutes! >= rescoreMin, `held back ${predictor.work.searchRoundMinutes} min`);
  });

  it('a supernet-scored run refines by inheriting weights: no grid candidates, one evaluation\'s minutes', () => {
    for (const e of ['supernet', 'predictor'] as const) {
      const p = plan(e, 500);
      assert.equal(p.work.gridCandidates, 0);
      assert.equal(p.work.gridCandidatesTotal, 0);
      assert.ok(p.minutes.refine < 0.5, `${e}: refine ${p.minutes.refine} min`);
    }
    assert.ok(plan('proxy', 20).work.gridCandidates > 1, 'a proxy run still plans its scaling grid');
  });

  it('under a budget a supernet-scored run gives the final training what a grid would have taken, and every share still adds up', () => {
    for (const b of [0.2, 1, 3, 10, 20, 60, 600]) {
      const proxy = plan('proxy', 20, b), predictor = plan('predictor', 2000, b);
      for (const p of [proxy, predictor, plan('supernet', 500, b)]) {
        assert.ok(Math.abs(total(p) - b) < 1e-9, `budget ${b}: shares add up to ${total(p)}`);
        for (const k of PLAN_STAGES) assert.ok(Number.isFinite(p.minutes[k]) && p.minutes[k] >= 0, `budget ${b}: ${k} ${p.minutes[k]}`);
      }
      assert.ok(predictor.work.finalEpochs >= proxy.work.finalEpochs, `budget ${b}: ${predictor.work.finalEpochs} vs ${proxy.work.finalEpochs} final epochs`);
      assert.ok(predictor.cuts.every((c) => c.stage !== 'refine'), JSON.stringify(predictor.cuts));
    }
    // 3 min: both cut the final recipe to one epoch; the predictor run, with no grid to train, keeps more of its images
    const [proxy, predictor] = [plan('proxy', 20, 3), plan('predictor', 2000, 3)];
    assert.ok(predictor.work.finalImages > proxy.work.finalImages, `final images: ${predictor.work.finalImages} vs ${proxy.work.finalImages}`);
    assert.ok(predictor.minutes.refine < proxy.minutes.refine, `refine: ${predictor.minutes.refine} vs ${proxy.minutes.refine} min`);
  });
});

describe('fitRecipe', () => {
  it('fewer epochs first (down to 1), then fewer images (down to MIN_TRAIN_IMAGES)', () => {
    const r = { epochs: 10, images: 10_000, evalImages: 0, testImages: 0 };
    // 250 images/s: one epoch of 10,000 images is 44 s with the overhead factor
    assert.deepEqual(fitRecipe(r, 60, 250), r);
    assert.deepEqual(fitRecipe(r, 4, 250), { ...r, epochs: 5 });
    assert.deepEqual(fitRecipe(r, 0.5, 250), { ...r, epochs: 1, images: 6818 });
    assert.deepEqual(fitRecipe(r, 0, 250), { ...r, epochs: 1, images: MIN_TRAIN_IMAGES });
    assert.deepEqual(fitRecipe({ ...r, epochs: 3, images: 100 }, 0, 250), { ...r, epochs: 1, images: 100 }, 'never more images than given');
  });

  it('keeps the evaluations: each epoch validates, the run tests once (an evaluated image costs a third of a trained one)', () => {
    const r = { epochs: 10, images: 10_000, evalImages: 3000, testImages: 6000 };
    // 54,545 image-equivalents in 4 min; the test costs 2,000 of them, each epoch 10,000 + 1,000
    assert.deepEqual(fitRecipe(r, 4, 250), { ...r, epochs: 4 });
    assert.deepEqual(fitRecipe(r, 0.5, 250), { ...r, epochs: 1, images: 6818 - 2000 - 1000 });
    assert.ok(Math.abs(recipeMinutes({ ...r, epochs: 4 }, 250) - (4 * 11_000 + 2000) * 1.1 / 250 / 60) < 1e-9);
  });
});
