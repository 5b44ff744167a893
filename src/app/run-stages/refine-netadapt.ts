// NetAdapt in `nas run`: the base over T is trained on the proxy recipe and
// shrunk to T (refine stage), and in hard mode a model measured over T is
// shrunk again to T x predicted/measured (a re-shrink). Progress: each
// training epoch (and heartbeats within), each proposal's fine-tune, each step.
// Under a budget the refine time is split (base training 30%, steps 50%,
// long fine-tune 20%): recipes fitted to their share (epochs, then images),
// fewer steps (a larger latency reduction per step) when the steps would not
// fit, and steps past the deadline taken without fine-tuning.

import { channelGroups } from '../../refine/channels.ts';
import { trainWeights } from '../../refine/finetune.ts';
import { DEFAULT_SCHEDULE, type FineTune, netAdapt, type NetAdaptResult, type NetAdaptSchedule, type NetAdaptStep } from '../../refine/netadapt.ts';
import type { NamedWeights } from '../../refine/prune.ts';
import { archId } from '../../space/archspec.ts';
import type { ArchSpec, InputShape } from '../../space/types.ts';
import type { ModelCheckpoint } from '../../store/models.ts';
import type { TrainConfig } from '../../train/config.ts';
import { CancelledError } from '../events.ts';
import { type BudgetDecision, proxyConfig, recipeOf } from '../run-budget.ts';
import { fitRecipe, type PlanStage, type Recipe, recipeMinutes } from '../run-plan.ts';
import type { RefineOutcome } from './refine.ts';
import type { RunSession } from './session.ts';

/** Share of the refine time for training the base, the steps' fine-tunes and the long fine-tune. */
export const NETADAPT_SHARES = { base: 0.3, steps: 0.5, long: 0.2 } as const;

/** Steps the schedule needs from L0 to T when every step reduces exactly its delta (an estimate: steps often cut more). */
export function stepsToTarget(l0: number, target: number, sch: NetAdaptSchedule, maxSteps: number): number {
  let l = l0;
  let k = 0;
  for (; l > target && k < maxSteps; k++) l -= Math.min(Math.max(sch.initialFraction * sch.decay ** k, sch.minFraction) * l, l - target);
  return k;
}

interface NetAdaptPlan { base: Recipe; short: Recipe; long: Recipe; schedule: NetAdaptSchedule; estSteps: number; groups: number; decisions: BudgetDecision[] }

/** The recipes and schedule that fit the time left to `stage`'s deadline (unchanged without a budget). */
function fitNetAdapt(s: RunSession, spec: ArchSpec, input: InputShape, l0: number, target: number, r: { base: Recipe; short: Recipe; long: Recipe }, stage: PlanStage): NetAdaptPlan {
  let schedule: NetAdaptSchedule = { ...DEFAULT_SCHEDULE, ...s.o.netadapt.schedule };
  const maxSteps = s.o.netadapt.maxSteps ?? 60;
  const groups = channelGroups(spec).length;
  const out: NetAdaptPlan = { ...r, schedule, estSteps: stepsToTarget(l0, target, schedule, maxSteps), groups, decisions: [] };
  const budget = s.budget;
  if (!budget?.enforced) return out;
  const leftMin = Math.max(0, budget.remainingMs(stage) / 60_000);
  const ips = s.throughput.imagesPerSec(s.macs(spec, input));
  const decide = (what: string, planned: number, actual: number, reason: string) => {
    if (actual !== planned) out.decisions.push(budget.decide({ stage: 'refine', what, planned, actual, reason }));
  };
  const fit = (name: string, rec: Recipe, share: number): Recipe => {
    const f = fitRecipe(rec, leftMin * share, ips);
    const why = `${(leftMin * share).toFixed(2)} min of the refine budget at ${ips.toFixed(0)} images/s`;
    decide(`NetAdapt ${name} epochs`, rec.epochs, f.epochs, why);
    decide(`NetAdapt ${name} images`, rec.images, f.images, why);
    return f;
  };
  out.base = r.base.epochs > 0 ? fit('base training', r.base, NETADAPT_SHARES.base) : r.base;
  out.long = fit('long fine-tune', r.long, NETADAPT_SHARES.long);
  const stepMin = groups * recipeMinutes(r.short, ips);
  const stepsFit = Math.floor((leftMin * NETADAPT_SHARES.steps) / stepMin);
  if (stepsFit < out.estSteps) {
    const steps = Math.max(1, stepsFit);
    const f = 1 - (target / l0) ** (1 / steps);
    if (f > schedule.initialFraction) {
      schedule = { initialFraction: f, decay: 1, minFraction: f };
      decide('NetAdapt steps', out.estSteps, steps, `${groups} proposals a step at ${stepMin.toFixed(2)} min; latency reduction per step raised to ${(100 * f).toFixed(1)}%`);
      out.schedule = schedule;
      out.estSteps = steps;
    }
    if (stepsFit < 1) out.short = fit('fine-tune per proposal', r.short, NETADAPT_SHARES.steps / groups);
  }
  return out;
}

interface ShrinkRequest {
  spec: ArchSpec; input: InputShape; weights: NamedWeights | null; targetMs: number;
  /** the budget stage whose deadline bounds it */
  deadline: PlanStage;
  onStep?: (st: NetAdaptStep) => void;
}

/** NetAdapt with progress, cancel, throughput measurement and the budget's cuts; `weights` null: train the base first. */
async function shrink(s: RunSession, q: ShrinkRequest): Promise<{ r: NetAdaptResult; plan: NetAdaptPlan }> {
  const { o } = s;
  const side = q.input.height;
  const proxy = proxyConfig(o);
  const short: Partial<TrainConfig> = { ...proxy, epochs: 1, warmupEpochs: 0, ...o.netadapt.shortTune };
  const l0 = s.predict(q.spec, q.input);
  const long = recipeOf(proxy, s.counts);
  const plan = fitNetAdapt(s, q.spec, q.input, l0, q.targetMs, {
    base: q.weights ? { ...long, epochs: 0 } : long, short: recipeOf(short, s.counts), long,
  }, q.deadline);
  const cfgOf = (base: Partial<TrainConfig>, r: Recipe) => s.cfg({ ...base, epochs: r.epochs, subset: r.images }, side);
  const progress = s.progress();
  const ips = () => s.throughput.imagesPerSec(s.macs(q.spec, q.input));
  const secs = (r: Recipe) => recipeMinutes(r, ips()) * 60;
  const cur = { step: 0, proposal: 0, proposals: plan.groups };
  const stepsLeftS = () => Math.max(0, plan.estSteps - cur.step) * plan.groups * secs(plan.short) + secs(plan.long);
  const stopEarly = s.deadlinePassed(q.deadline);
  let weights = q.weights;
  if (!weights) {
    const r = await trainWeights(q.spec, s.dataset, cfgOf(proxy, plan.base), undefined, false, progress.training('NetAdapt: training the base on the proxy task', {
      epochs: plan.base.epochs, imagesPerEpoch: plan.base.images, afterS: stepsLeftS, cancel: s.ctx.cancel, stopEarly,
    }));
    s.throughput.record(s.macs(q.spec, q.input), r.imagesPerSec);
    weights = s.hold(r.weights);
    s.checkCancel();
  }
  const fineTune: FineTune = async (spec, w, phase) => {
    const rec = phase === 'short' ? plan.short : plan.long;
    const task = phase === 'short' ? `NetAdapt step ${cur.step + 1}: fine-tuning proposal ${cur.proposal + 1} of ${cur.proposals}` : 'NetAdapt: long fine-tune';
    const r = await trainWeights(spec, s.dataset, cfgOf(phase === 'short' ? short : proxy, rec), w, false, progress.training(task, {
      epochs: rec.epochs, imagesPerEpoch: rec.images, cancel: s.ctx.cancel, stopEarly: phase === 'long' ? stopEarly : undefined,
      afterS: () => (phase === 'short' ? Math.max(0, cur.proposals - cur.proposal - 1) * secs(plan.short) + stepsLeftS() - plan.groups * secs(plan.short) : 0),
    }));
    s.throughput.record(s.macs(spec, q.input), r.imagesPerSec);
    return { accuracy: r.accuracy, weights: r.weights };
  };
  const r = await netAdapt({
    spec: q.spec, input: q.input, numClasses: s.K, weights, targetMs: q.targetMs, predictLatencyMs: (x) => s.predict(x, q.input), fineTune,
    schedule: plan.schedule, maxSteps: o.netadapt.maxSteps, cancel: s.ctx.cancel, outOfTime: stopEarly,
    onProposal: (k, done, total) => {
      Object.assign(cur, { step: k, proposal: done, proposals: total });
      progress.report({ task: `NetAdapt step ${k + 1}: proposals`, done, total, unit: 'proposal', etaS: stepsLeftS() });
    },
    onStep: (st) => {
      Object.assign(cur, { step: st.step + 1, proposal: 0 });
      progress.report({
        task: 'NetAdapt steps', done: st.step + 1, total: Math.max(plan.estSteps, st.step + 1), unit: 'step', etaS: stepsLeftS(),
        message: `${st.latencyBeforeMs.toFixed(4)} -> ${st.latencyAfterMs.toFixed(4)} ms predicted (target ${q.targetMs.toFixed(4)} ms)${st.fineTuned ? '' : ', not fine-tuned (time budget)'}`,
      });
      q.onStep?.(st);
    },
  });
  s.hold(r.weights);
  if (r.stoppedBecause === 'cancelled') throw new CancelledError('NetAdapt cancelled');
  const untuned = r.steps.filter((x) => !x.fineTuned).length;
  if (untuned > 0 && s.budget) plan.decisions.push(s.budget.decide({ stage: 'refine', what: 'NetAdapt steps without fine-tune', planned: 0, actual: untuned, reason: `past the ${q.deadline} deadline` }));
  if (r.longFineTuneSkipped && s.budget) plan.decisions.push(s.budget.decide({ stage: 'refine', what: 'NetAdapt long fine-tune', planned: 1, actual: 0, reason: `past the ${q.deadline} deadline` }));
  return { r, plan };
}

function stepLine(st: NetAdaptStep): string {
  const acc = st.fineTuned ? `accuracy ${st.chosen.accuracy.toFixed(3)}` : 'not fine-tuned (time budget)';
  return `NetAdapt step ${st.step}: ${st.latencyBeforeMs.toFixed(4)} -> ${st.latencyAfterMs.toFixed(4)} ms (delta ${st.deltaMs.toFixed(4)}), ${st.proposals.length} proposals, kept blocks [${st.chosen.group.join(',')}] ${st.chosen.fromChannels}->${st.chosen.toChannels} filters, ${acc}`;
}

const budgetDetail = (plan: NetAdaptPlan) => (plan.decisions.length ? { budget: { decisions: plan.decisions } } : {});

/** The base is predicted over T: train it, NetAdapt it down to T. */
export async function netAdaptDown(s: RunSession, base: ModelCheckpoint, baseMs: number): Promise<RefineOutcome> {
  s.enter('refine', `NetAdapt: ${baseMs.toFixed(4)} ms predicted > ${s.Tms} ms`);
  const { r, plan } = await shrink(s, { spec: base.spec, input: base.input, weights: null, targetMs: s.T, deadline: 'refine', onStep: (st) => s.log(stepLine(st)) });
  if (!r.reachedTarget) {
    const msg = `no architecture NetAdapt reached meets ${s.Tms} ms on ${s.o.deviceId}: the closest, ${archId(r.spec)}, is predicted at ${r.latencyMs.toFixed(4)} ms, ${r.missByMs.toFixed(4)} ms (${(100 * r.missByMs / s.T).toFixed(1)}%) over`;
    if (s.o.mode === 'hard') return { failed: s.fail(msg, { spec: r.spec, input: base.input, predictedLatencyMs: r.latencyMs, missByMs: r.missByMs }) };
    s.log(`${msg}; soft mode: delivering the closest`, 'warn');
  }
  const ck = s.checkpoint({
    stage: 'refine', spec: r.spec, input: base.input, weightsArtifactId: s.saveWeights(r.weights),
    detail: { method: 'netadapt', steps: r.steps.length, predictedLatencyMs: r.latencyMs, proxyAccuracy: r.accuracy, missByMs: r.missByMs, stoppedBecause: r.stoppedBecause, ...budgetDetail(plan) },
  });
  s.savePlan();
  return { ck };
}

/** Hard mode, measured over T: NetAdapt the trained model to T x predicted/measured (x 0.98); a new 'refine' checkpoint. */
export async function reshrink(s: RunSession, trained: ModelCheckpoint, m: { predictedMs: number; measuredMs: number | null }, attempt: number): Promise<ModelCheckpoint> {
  const scaledT = s.T * (m.predictedMs / (m.measuredMs ?? m.predictedMs)) * 0.98;
  s.enter('refine', `measured ${m.measuredMs?.toFixed(4)} ms > ${s.Tms} ms: NetAdapt to ${scaledT.toFixed(4)} ms predicted (re-shrink ${attempt + 1} of ${s.o.hardRetries})`);
  const w = s.loadWeights(trained)!;
  const { r, plan } = await shrink(s, { spec: trained.spec, input: trained.input, weights: w, targetMs: scaledT, deadline: 'final-training' });
  const ck = s.checkpoint({
    stage: 'refine', spec: r.spec, input: trained.input, weightsArtifactId: s.saveWeights(r.weights),
    detail: { method: 'netadapt', reshrink: attempt + 1, measuredMs: m.measuredMs, predictedMs: m.predictedMs, scaledTargetMs: scaledT, predictedLatencyMs: r.latencyMs, ...budgetDetail(plan) },
  });
  s.savePlan();
  return ck;
}
