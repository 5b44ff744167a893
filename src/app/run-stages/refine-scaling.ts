// Compound scaling in `nas run`: the base is well under T, so a grid of
// (alpha, beta, gamma) candidates is trained on the proxy task (phi = 1) and
// the best triple's phi fills T. Progress: each candidate's epochs (and
// heartbeats within), then each candidate. Under a budget: a shorter proxy
// recipe when one candidate would not fit the refine time, no candidate
// started that would overrun the refine deadline (estimated from measured
// images/s), and a candidate still training at the deadline is stopped and
// not compared (the first is always kept).

import { trainWeights } from '../../refine/finetune.ts';
import { disposeWeights } from '../../refine/prune.ts';
import { factorsFor, fillTarget, gridCandidates, gridSearch, orderCandidates, scaleArch } from '../../refine/scaling.ts';
import type { ModelCheckpoint } from '../../store/models.ts';
import { type BudgetDecision, proxyConfig, recipeOf } from '../run-budget.ts';
import { CUT_ORDER, fitRecipe } from '../run-plan.ts';
import type { RunSession } from './session.ts';

export async function scaleUp(s: RunSession, base: ModelCheckpoint, baseMs: number, belowMs: number): Promise<ModelCheckpoint> {
  const { o } = s;
  s.enter('refine', `compound scaling: ${baseMs.toFixed(4)} ms predicted < ${belowMs.toFixed(4)} ms`);
  const order = orderCandidates(gridCandidates(o.scaling.grid));
  const total = order.length;
  const proxy = proxyConfig(o);
  let recipe = recipeOf(proxy, s.counts);
  const macsOf = (i: number) => {
    const x = scaleArch(base.spec, base.input, factorsFor(order[i]!, 1));
    return s.macs(x.spec, x.input);
  };
  const minutesOf = (i: number) => s.throughput.minutes(recipe, macsOf(i));
  const decisions: BudgetDecision[] = [];
  const budget = s.budget?.enforced ? s.budget : null;
  const leftMin = () => (budget ? budget.remainingMs('refine') / 60_000 : Infinity);
  if (budget && minutesOf(0) > leftMin()) {
    const fit = fitRecipe(recipe, Math.max(0, leftMin()), s.throughput.imagesPerSec(macsOf(0)));
    const why = `one candidate at ${recipe.epochs} epoch(s) x ${recipe.images} images would take ${minutesOf(0).toFixed(2)} min of ${Math.max(0, leftMin()).toFixed(2)} min left`;
    if (fit.epochs < recipe.epochs) decisions.push(budget.decide({ stage: 'refine', what: `${CUT_ORDER[1]}: epochs`, planned: recipe.epochs, actual: fit.epochs, reason: why }));
    if (fit.images < recipe.images) decisions.push(budget.decide({ stage: 'refine', what: `${CUT_ORDER[1]}: images`, planned: recipe.images, actual: fit.images, reason: why }));
    recipe = fit;
  }
  const progress = s.progress();
  // candidates still to come that fit the time left, each estimated from the measured throughput
  const laterS = (i: number) => {
    let t = 0;
    for (let j = i + 1; j < total && t / 60 + minutesOf(j) <= leftMin(); j++) t += minutesOf(j) * 60;
    return t;
  };
  let refused: string | null = null;
  const grid = await gridSearch(base.spec, base.input, async (spec, input, i) => {
    s.checkCancel();
    const c = order[i]!;
    const r = await trainWeights(spec, s.dataset, s.cfg({ ...proxy, epochs: recipe.epochs, subset: recipe.images }, input.height), undefined, false,
      progress.training(`scaling grid candidate ${i + 1} of ${total} (alpha ${c.alpha}, beta ${c.beta}, gamma ${c.gamma})`, {
        epochs: recipe.epochs, imagesPerEpoch: recipe.images, cancel: s.ctx.cancel, stopEarly: s.deadlinePassed('refine'), afterS: () => laterS(i),
      }));
    disposeWeights(r.weights);
    s.throughput.record(s.macs(spec, input), r.imagesPerSec);
    if (r.stoppedEarly && i > 0) {
      decisions.push(budget!.decide({ stage: 'refine', what: 'scaling-grid candidate stopped at the refine deadline (not compared)', planned: i + 1, actual: 0, reason: `after ${r.epochs} epoch(s)` }));
      return null;
    }
    return r.accuracy;
  }, {
    grid: o.scaling.grid, cancel: s.ctx.cancel,
    deadlineMs: o.scaling.maxMinutes === undefined ? undefined : Date.now() + o.scaling.maxMinutes * 60_000,
    canStart: (_c, i) => {
      if (!budget || minutesOf(i) <= leftMin()) return true;
      refused = `candidate ${i + 1} would take ${minutesOf(i).toFixed(2)} min, ${Math.max(0, leftMin()).toFixed(2)} min left before the refine deadline`;
      return false;
    },
    onCandidate: (c, i) => {
      s.log(`scaling grid alpha ${c.alpha} beta ${c.beta} gamma ${c.gamma}: proxy accuracy ${c.accuracy.toFixed(3)}`);
      progress.report({
        task: 'scaling grid', done: i + 1, total, unit: 'candidate', imagesPerSec: s.throughput.imagesPerSec(macsOf(i)), etaS: laterS(i),
        message: `alpha ${c.alpha}, beta ${c.beta}, gamma ${c.gamma}: proxy accuracy ${(100 * c.accuracy).toFixed(1)}%`,
      });
    },
  });
  if (grid.tried.length < grid.candidates) {
    if (budget && (refused || grid.dropped > 0)) {
      decisions.push(budget.decide({ stage: 'refine', what: CUT_ORDER[0], planned: grid.candidates, actual: grid.tried.length, reason: refused ?? 'the refine deadline passed' }));
    }
    s.log(`scaling grid: ${grid.tried.length} of ${grid.candidates} candidates tried${refused ? ` (${refused})` : o.scaling.maxMinutes !== undefined ? ` within its ${o.scaling.maxMinutes} min` : ''}`);
  }
  s.checkCancel();
  const phi = fillTarget(base.spec, base.input, grid.best, s.T, (x, i) => s.predict(x, i), { maxPhi: o.scaling.maxPhi });
  s.log(`compound scaling: alpha ${grid.best.alpha}, beta ${grid.best.beta}, gamma ${grid.best.gamma}, phi ${phi.phi.toFixed(3)} -> ${phi.latencyMs.toFixed(4)} ms, input ${phi.input.height}x${phi.input.width}`);
  const ck = s.checkpoint({
    stage: 'refine', spec: phi.spec, input: phi.input, weightsArtifactId: null,
    detail: {
      method: 'compound-scaling', coefficients: grid.best, phi: phi.phi, factors: phi.factors, tried: grid.tried, gridCandidates: grid.candidates,
      predictedLatencyMs: phi.latencyMs, proxyRecipe: recipe, ...(decisions.length ? { budget: { decisions } } : {}),
    },
  });
  s.savePlan();
  progress.report({ task: 'compound scaling', done: 1, total: 1, unit: 'network', message: `phi ${phi.phi.toFixed(3)}: ${phi.latencyMs.toFixed(4)} ms predicted` });
  return ck;
}
