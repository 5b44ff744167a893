// Stage 3 of `nas run`: the final training of the refined network (the longer
// recipe, crop augmentation), from the refined weights when NetAdapt made
// them. Input: the latest 'refine' checkpoint; output: a 'final-training'
// checkpoint (weights, validation and test accuracy, the recipe run and the
// budget's cuts). Progress per epoch and at least every 30 s, with images/s
// and ETA. Under a budget the recipe is fitted to the time left before the
// stage's deadline from the measured throughput (fewer epochs, then fewer
// images), and a run still going at the deadline stops after its batch.

import { trainArch } from '../../train/trainer.ts';
import { trainWeights } from '../../refine/finetune.ts';
import type { ModelCheckpoint } from '../../store/models.ts';
import { type BudgetDecision, recipeOf } from '../run-budget.ts';
import { CUT_ORDER, fitRecipe } from '../run-plan.ts';
import type { RunSession } from './session.ts';

/** Images/s of `refined`'s network on a few batches (the budget needs a figure before the recipe is fixed). */
async function probeThroughput(s: RunSession, refined: ModelCheckpoint): Promise<void> {
  const batch = s.cfg(s.o.final, refined.input.height).batchSize;
  const r = await trainArch({
    arch: refined.spec, dataset: s.dataset, cancel: s.ctx.cancel,
    config: s.cfg({ ...s.o.final, epochs: 1, subset: batch * 6, validationSubset: batch, bnRecalibrationImages: 0, restartOnChance: false }, refined.input.height),
  });
  s.throughput.record(s.macs(refined.spec, refined.input), r.imagesPerSec);
}

export async function finalTrainingStage(s: RunSession, refined: ModelCheckpoint): Promise<ModelCheckpoint> {
  const done = s.last('final-training', refined.seq);
  if (done) return done;
  const { o } = s;
  s.enter('final-training');
  const full = recipeOf(o.final, s.counts, true);
  let recipe = full;
  const decisions: BudgetDecision[] = [];
  const budget = s.budget?.enforced ? s.budget : null;
  if (budget) {
    // the refined network's own pace: an extrapolation by MACs from the proxy trainings (small runs, their
    // overheads) underestimated a scaled network's final training 2.3x in bench:budget, which cut 10 epochs to 1
    if (!s.throughput.measuredFor(s.macs(refined.spec, refined.input))) await probeThroughput(s, refined);
    const ips = s.throughput.imagesPerSec(s.macs(refined.spec, refined.input));
    const leftMin = Math.max(0, budget.remainingMs('final-training') / 60_000);
    recipe = fitRecipe(full, leftMin, ips);
    const why = `${leftMin.toFixed(2)} min left before the final-training deadline at ${ips.toFixed(0)} images/s (measured)`;
    if (recipe.epochs < full.epochs) decisions.push(budget.decide({ stage: 'final-training', what: CUT_ORDER[2], planned: full.epochs, actual: recipe.epochs, reason: why }));
    if (recipe.images < full.images) decisions.push(budget.decide({ stage: 'final-training', what: CUT_ORDER[3], planned: full.images, actual: recipe.images, reason: why }));
  }
  const start = s.loadWeights(refined);
  const hooks = s.progress().training('final training', { epochs: recipe.epochs, imagesPerEpoch: recipe.images, cancel: s.ctx.cancel, stopEarly: s.deadlinePassed('final-training') });
  let trainedImages = 0;
  const r = await trainWeights(refined.spec, s.dataset, s.cfg({ ...o.final, epochs: recipe.epochs, subset: recipe.images }, refined.input.height), start ?? undefined, true, {
    ...hooks, onBatch: (b) => { trainedImages = b.images; hooks.onBatch?.(b); },
  });
  s.hold(r.weights);
  s.throughput.record(s.macs(refined.spec, refined.input), r.imagesPerSec);
  if (r.stoppedEarly && budget) {
    decisions.push(budget.decide({
      stage: 'final-training', what: 'final-training images trained (stopped at its deadline)', planned: recipe.epochs * recipe.images, actual: trainedImages,
      reason: `the final-training deadline passed in epoch ${r.epochs} of ${recipe.epochs}`,
    }));
  }
  if (s.budget) s.budget.state.measuredImagesPerSec = r.imagesPerSec;
  const ck = s.checkpoint({
    stage: 'final-training', spec: refined.spec, input: refined.input, weightsArtifactId: s.saveWeights(r.weights),
    detail: {
      validationAccuracy: r.accuracy, testAccuracy: r.testAccuracy ?? null, epochs: recipe.epochs, images: recipe.images, epochsRun: r.epochs,
      imagesPerSec: r.imagesPerSec, ...(decisions.length ? { budget: { decisions } } : {}),
    },
  });
  s.savePlan();
  s.log(`final training: validation ${(100 * r.accuracy).toFixed(2)}%, test ${(100 * (r.testAccuracy ?? NaN)).toFixed(2)}%`);
  return ck;
}
