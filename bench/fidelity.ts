// npm run bench:fidelity [-- --archs 30 --pool 400 --arch-seed 7 --final-seeds 1,2 --final-epochs 4 --final-subset 20000
//                          --seed2-every 3 --max-table-ms 8 --workers 2 --supernet [--supernet-id ID --probes] --no-train --reuse --no-write --no-final
//                          --max-minutes M (no training starts after M minutes)]
//
// How well does each cheap score rank architectures the way final training
// does? Random architectures of the small-input space on Fashion-MNIST,
// spread over the latency range (a pool of random samples sorted by
// predicted latency, taken at evenly spaced quantiles). For each:
//   - proxy: the search's default proxy task today (src/search/options.ts
//     DEFAULT_PROXY through the search's own trialRequest),
//   - proxy-big: a bigger proxy (5,000 images x 2 epochs, validated on 2,000),
//   - supernet, predictor (with --supernet): the subnet's accuracy with
//     weights inherited from the dataset's trained supernet (BN
//     re-estimated), and that supernet's accuracy predictor; --no-train adds
//     them (and writes the report) without running the trainings,
//   - final: bench:run's final recipe (4 epochs on 20,000 images, Adam,
//     crop augmentation), test accuracy on the 10,000 test images; seed 1 for
//     every architecture, and a second seed for every k-th (--seed2-every):
//     their agreement is the noise ceiling of any score.
// Kendall tau and Spearman of each score against the mean final accuracy,
// seconds per evaluation, and a scatter plot. Finished parts are kept in
// bench/results/fidelity.json (--reuse skips them), so the expensive final
// trainings survive a crash and new scores can be added later.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { dataPaths } from '../src/config/paths.ts';
import { loadPredictor } from '../src/latency/index.ts';
import { resolveSearchOptions } from '../src/search/options.ts';
import { trialRequest } from '../src/search/trial_plan.ts';
import { archId, toCanonicalJson } from '../src/space/archspec.ts';
import { archCost } from '../src/space/cost.ts';
import { createRng } from '../src/space/rng.ts';
import { archFromDecisions, sampleArch } from '../src/space/sampler.ts';
import { OPS } from '../src/space/grammar.ts';
import { largestDecisions, smallestDecisions } from '../src/supernet/layout.ts';
import { SKELETON_SMALL } from '../src/space/skeleton.ts';
import type { ArchSpec, InputShape } from '../src/space/types.ts';
import { defaultTrainConfig, type TrainConfig } from '../src/train/config.ts';
import { TrialPool } from '../src/train/pool.ts';
import { loadSupernetPredictor, trainedSupernetFor } from '../src/app/supernet.ts';
import { loadDataset } from '../src/data/registry.ts';
import { readArtifact } from '../src/store/artifacts.ts';
import { openDb } from '../src/store/db.ts';
import { SupernetEvaluator } from '../src/supernet/evaluator.ts';
import { findSupernet, getSupernet } from '../src/store/supernets.ts';
import { useTrainingBackend } from '../src/train/backend.ts';
import type { TrialRequest } from '../src/train/protocol.ts';
import { arg, commandLine, machineLine, writeBenchmarksSection } from './common.ts';
import { describeCpu, describeMachine } from '../src/latency/machine.ts';
import { KENDALL_EXACT_MAX_N, kendallTau, kendallTauP, mean, sd, spearman } from './stats.ts';
import { chartSvg } from './svg.ts';

const SECTION = '## Proxy fidelity: cheap scores vs final accuracy (bench:fidelity)';
const RESULTS = join(import.meta.dirname, 'results', 'fidelity.json');
const SVG = 'fidelity-scatter.svg';
const INPUT: InputShape = { height: 28, width: 28, channels: 1 };
const K = 10;

const flag = (name: string) => process.argv.includes(`--${name}`);
const log = (s: string) => process.stderr.write(`[bench:fidelity ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** One measured score of one architecture. */
export interface ScoreRow {
  /** validation accuracy (cheap scores) or test accuracy (final) */
  accuracy: number;
  /** wall seconds of the evaluation (training + evaluation), as it ran */
  seconds: number;
  at: string;
  /** parallel evaluations running beside it */
  concurrency: number;
  /** the CPU it ran on (vendor, family, model; absent in parts measured before it was recorded) */
  cpu?: string;
}

export interface ArchRow {
  archId: string;
  spec: ArchSpec;
  predictedTableMs: number;
  params: number;
  macs: number;
  scores: Record<string, ScoreRow>;
}

export interface FidelityResults {
  /** settings that make the architectures and recipes comparable */
  key: string;
  archs: ArchRow[];
  /** the supernet the 'supernet' scores came from */
  supernet?: Record<string, unknown>;
  /** --probes: the largest and smallest subnets and the largest with one decision changed in every block */
  probes?: { name: string; accuracy: number; seconds: number }[];
}

/** One-decision probes of a supernet: which elastic dimension keeps the largest subnet's accuracy (decision index, choice). */
const PROBES: { name: string; decision: number; choice: number }[] = [
  { name: 'largest, no SE', decision: 3, choice: 0 }, { name: 'largest, activation choice 1', decision: 7, choice: 1 },
  { name: 'largest, 3x3 kernels', decision: 1, choice: 0 }, { name: 'largest, smallest expansion', decision: 2, choice: 0 },
  { name: 'largest, narrowest width', decision: 6, choice: 0 }, { name: 'largest, shallowest depth', decision: 5, choice: 0 },
  { name: 'largest, op ds', decision: 0, choice: 1 }, { name: 'largest, op conv', decision: 0, choice: 0 },
];

/** Random architectures spread over the predicted latency range: `n` evenly spaced quantiles of a sorted random pool. */
function selectArchs(n: number, poolSize: number, seed: number, deviceId: string, maxTableMs: number): ArchRow[] {
  const predictor = loadPredictor(deviceId);
  const rng = createRng(seed);
  const seen = new Set<string>();
  const pool: ArchRow[] = [];
  while (pool.length < poolSize) {
    const spec = sampleArch(SKELETON_SMALL, rng);
    const id = archId(spec);
    if (seen.has(id)) continue;
    seen.add(id);
    const predictedTableMs = predictor.predict(spec, INPUT, K).latencyMs;
    if (predictedTableMs > maxTableMs) continue;
    const cost = archCost(spec, INPUT, K);
    pool.push({ archId: id, spec, predictedTableMs, params: cost.params, macs: cost.macs, scores: {} });
  }
  pool.sort((a, b) => a.predictedTableMs - b.predictedTableMs);
  return Array.from({ length: n }, (_, i) => pool[Math.round((i * (poolSize - 1)) / (n - 1))]!);
}

interface Recipe {
  name: string;
  config: TrainConfig;
  evaluateTest: boolean;
  /** train it for the architecture of this index (default: all) */
  only?: (index: number) => boolean;
}

function recipes(o: { finalSeeds: number[]; finalEpochs: number; finalSubset: number; final: boolean; seed2Every: number }): Recipe[] {
  // today's proxy: exactly what a search trains (its options' defaults, its seed)
  const searchDefaults = resolveSearchOptions({ dataset: 'fashion-mnist', deviceId: 'node-tflite-wasm', latencyTargetMs: 1 });
  const proxy = trialRequest('x', sampleArch(SKELETON_SMALL, createRng(1)), searchDefaults).config;
  const out: Recipe[] = [
    { name: 'proxy', config: proxy, evaluateTest: false },
    { name: 'proxy-big', config: defaultTrainConfig({ ...proxy, subset: 5000, epochs: 2, validationSubset: 2000 }), evaluateTest: false },
  ];
  if (o.final) {
    for (const [k, seed] of o.finalSeeds.entries()) {
      out.push({
        name: `final-s${seed}`, evaluateTest: true, ...(k > 0 ? { only: (i: number) => i % o.seed2Every === 0 } : {}),
        // bench:run's final recipe (its `finalRecipe`)
        config: defaultTrainConfig({ epochs: o.finalEpochs, subset: o.finalSubset, optimizer: 'adam', cropPadding: 2, seed }),
      });
    }
  }
  return out;
}

/** The reference: the first seed's final test accuracy (every architecture has it; the second seed only every k-th). */
export function finalAccuracy(a: ArchRow, reference = 'final-s1'): number {
  return a.scores[reference]?.accuracy ?? NaN;
}

async function main(): Promise<void> {
  const n = Number(arg('archs', '30'));
  const poolSize = Number(arg('pool', '400'));
  const archSeed = Number(arg('arch-seed', '7'));
  const deviceId = arg('device', 'node-tflite-wasm');
  // the latency range the product's targets live in: up to ~1.5x MobileNetV2-1.0 (small input, 5.5 table ms)
  const maxTableMs = Number(arg('max-table-ms', '8'));
  const finalSeeds = arg('final-seeds', '1,2').split(',').map(Number);
  const finalEpochs = Number(arg('final-epochs', '4'));
  const finalSubset = Number(arg('final-subset', '20000'));
  const workers = Number(arg('workers', String(Math.min(2, availableParallelism()))));
  const seed2Every = Number(arg('seed2-every', '3'));
  const write = !flag('no-write');
  const rs = recipes({ finalSeeds, finalEpochs, finalSubset, final: !flag('no-final'), seed2Every });
  const key = JSON.stringify({ n, poolSize, archSeed, deviceId, maxTableMs, input: INPUT });
  const load0 = loadavg()[0];

  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  const prior: FidelityResults | null = flag('reuse') && existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) as FidelityResults : null;
  const res: FidelityResults = prior && prior.key === key ? prior : { key, archs: selectArchs(n, poolSize, archSeed, deviceId, maxTableMs) };
  if (prior && prior.key !== key) log('settings changed since bench/results/fidelity.json: nothing reused');
  // another bench:fidelity process may add scores meanwhile (--no-train --supernet while the trainings run): merge, never overwrite
  // (--no-write leaves BENCHMARKS.md alone; the measured parts are always kept: they cost hours)
  const save = () => {
    const onDisk: FidelityResults | null = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) as FidelityResults : null;
    if (onDisk && onDisk.key === res.key) {
      onDisk.archs.forEach((a, i) => { res.archs[i]!.scores = { ...a.scores, ...res.archs[i]!.scores }; });
      res.supernet ??= onDisk.supernet;
      res.probes ??= onDisk.probes;
    }
    writeFileSync(RESULTS, JSON.stringify(res, null, 2) + '\n');
  };
  save();
  log(`${res.archs.length} architectures, predicted ${res.archs[0]!.predictedTableMs.toFixed(2)}-${res.archs.at(-1)!.predictedTableMs.toFixed(2)} ms (table units)`);

  // 1. Trained scores, in a pool of worker processes (cheap scores first, then the final trainings).
  // architectures in an interleaved order of latency, so that a partial run still spans the range
  const order = res.archs.map((_, i) => i).sort((a, b) => ((a * 7) % res.archs.length) - ((b * 7) % res.archs.length));
  const todo: { arch: ArchRow; recipe: Recipe }[] = [];
  for (const recipe of rs) for (const i of order) if (!res.archs[i]!.scores[recipe.name] && (recipe.only?.(i) ?? true)) todo.push({ arch: res.archs[i]!, recipe });
  if (todo.length && !flag('no-train')) {
    const pool = new TrialPool({ size: workers, threadsPerWorker: Math.max(1, Math.floor(availableParallelism() / workers)) });
    // --max-minutes: no training starts after this long (those running finish; --reuse continues), so a session can stop cleanly
    const maxMinutes = Number(arg('max-minutes', 'Infinity'));
    if (!(maxMinutes >= 0)) throw new Error(`--max-minutes must be a number >= 0, got ${arg('max-minutes', '')}`);
    const deadline = Date.now() + maxMinutes * 60_000;
    let done = 0, next = 0;
    const one = async ({ arch, recipe }: (typeof todo)[number]) => {
      const req: TrialRequest = {
        id: `${arch.archId}-${recipe.name}`, arch: toCanonicalJson(arch.spec), dataset: 'fashion-mnist',
        datasetOptions: { cacheDir: dataPaths().datasets }, config: recipe.config, evaluateTest: recipe.evaluateTest,
      };
      // a final training runs for tens of minutes: one line per epoch
      const o = await pool.run(req, (e) => log(`  ${req.id}: epoch ${e.epoch}/${recipe.config.epochs} in ${(e.elapsedMs / 1000).toFixed(0)} s (${e.imagesPerSec.toFixed(0)} images/s)`));
      if (!o.ok) throw new Error(`${req.id}: ${o.kind}: ${o.error.message}`);
      const accuracy = recipe.evaluateTest ? o.result.testAccuracy ?? NaN : o.result.valAccuracy;
      arch.scores[recipe.name] = { accuracy, seconds: o.wallMs / 1000, at: new Date().toISOString(), concurrency: workers, cpu: describeCpu(describeMachine()) };
      done++;
      log(`[${done}/${todo.length}] ${arch.archId} ${recipe.name}: ${(100 * accuracy).toFixed(2)}% in ${(o.wallMs / 1000).toFixed(0)} s`);
      save();
    };
    try {
      // one loop per worker takes the next training while the deadline allows; after a failure no new one
      // starts, the others finish (each is minutes of work, kept by save()), then the failure is thrown
      let failed: unknown = null;
      await Promise.all(Array.from({ length: workers }, async () => {
        while (failed === null && next < todo.length && Date.now() < deadline) {
          try {
            await one(todo[next++]!);
          } catch (e) {
            failed ??= e;
          }
        }
      }));
      if (failed !== null) throw failed;
      if (next < todo.length) log(`--max-minutes ${maxMinutes}: ${todo.length - next} of ${todo.length} trainings not started (--reuse continues them)`);
    } finally {
      await pool.close();
    }
  }

  // 2. Scores from the dataset's trained supernet: inherited weights, and its accuracy predictor.
  if (flag('supernet')) await addSupernetScores(res, save);

  if (!write) { log('--no-write: BENCHMARKS.md untouched'); return; }
  writeReport(res, { load0, load1: loadavg()[0], workers, rs, seed2Every });
}

/** scores.supernet (the subnet's accuracy with inherited weights, BN re-estimated) and scores.predictor for every architecture. */
async function addSupernetScores(res: FidelityResults, save: () => void): Promise<void> {
  await useTrainingBackend();
  const db = openDb(dataPaths().store);
  try {
    // --supernet-id: a given supernet's latest checkpoint, finished or not (its predictor only if fitted)
    const id = arg('supernet-id', '');
    const sn = id ? getSupernet(db, id) : trainedSupernetFor(db, { dataset: 'fashion-mnist', input: INPUT, owner: null });
    if (!sn) throw new Error('no trained supernet for fashion-mnist: run `nas supernet train --dataset fashion-mnist` first (or name one with --supernet-id)');
    if (!sn.checkpointArtifactId) throw new Error(`supernet ${sn.id} has no checkpoint yet`);
    const ds = await loadDataset('fashion-mnist', { cacheDir: dataPaths().datasets });
    const ev = new SupernetEvaluator(readArtifact(db, sn.checkpointArtifactId!), ds);
    const predictor = loadSupernetPredictor(db, sn);
    try {
      for (const a of res.archs) {
        const r = ev.evaluate(a.spec);
        a.scores.supernet = { accuracy: r.accuracy, seconds: r.seconds, at: new Date().toISOString(), concurrency: 1 };
        if (predictor) {
          const t0 = performance.now();
          const acc = predictor.predict(SKELETON_SMALL, a.spec);
          a.scores.predictor = { accuracy: acc, seconds: (performance.now() - t0) / 1000, at: new Date().toISOString(), concurrency: 1 };
        }
        log(`${a.archId} supernet: ${(100 * r.accuracy).toFixed(2)}% in ${r.seconds.toFixed(2)} s${predictor ? `, predictor ${(100 * a.scores.predictor!.accuracy).toFixed(2)}%` : ''}`);
      }
      if (flag('probes')) {
        const sk = ev.layout.skeleton;
        const L = largestDecisions(ev.layout);
        const specs = [
          { name: 'largest', d: L }, ...OPS.map((op, i) => ({ name: `smallest ${op}`, d: smallestDecisions(ev.layout, i) })),
          ...PROBES.map((p) => ({ name: p.name, d: L.map((b) => b.map((v, k) => (k === p.decision ? p.choice : v))) })),
        ];
        res.probes = specs.map(({ name, d }) => {
          const r = ev.evaluate(archFromDecisions(sk, d));
          log(`probe ${name}: ${(100 * r.accuracy).toFixed(2)}% in ${r.seconds.toFixed(2)} s`);
          return { name, accuracy: r.accuracy, seconds: r.seconds };
        });
      }
      // how it was trained: a warm start counts its source's steps too; progressive shrinking or not
      const opts = sn.options as { initFrom?: string | null; recipe?: { progressive?: boolean; randomSubnets?: number } };
      const src = opts.initFrom ? findSupernet(db, opts.initFrom) : null;
      const how = [
        src ? `started from the weights of ${src.id} (${src.step} steps, ${Number(src.metrics.epochs ?? 0).toFixed(2)} epochs, ${(Number(src.metrics.trainSeconds ?? 0) / 60).toFixed(0)} min)` : '',
        opts.recipe?.progressive ? 'progressive shrinking of the random subnets' : '',
        opts.recipe?.randomSubnets !== undefined ? `${opts.recipe.randomSubnets} random subnets per step` : '',
      ].filter(Boolean).join('; ');
      res.supernet = { id: sn.id, step: sn.step, metrics: sn.metrics, summary: `${sn.id} (${sn.status}), ${sn.step} steps (${Number(sn.metrics.epochs ?? 0).toFixed(2)} epochs, ${(Number(sn.metrics.trainSeconds ?? 0) / 60).toFixed(0)} min of training${how ? `; ${how}` : ''})` };
      save();
    } finally {
      ev.dispose();
      predictor?.dispose();
    }
  } finally {
    db.close();
  }
}

/** How many trainings ran at once, over every trained part: "2", or "1-2" when parts differ. */
function trainedConcurrency(archs: ArchRow[]): string {
  const c = [...new Set(archs.flatMap((a) => Object.entries(a.scores).filter(([k]) => k.startsWith('proxy') || k.startsWith('final-')).map(([, s]) => s.concurrency)))].sort((x, y) => x - y);
  return c.length ? (c.length === 1 ? String(c[0]) : `${c[0]}-${c.at(-1)}`) : '';
}

function writeReport(res: FidelityResults, o: { load0: number; load1: number; workers: number; rs: Recipe[]; seed2Every: number }): void {
  const archs = res.archs;
  const finals = [...new Set(archs.flatMap((a) => Object.keys(a.scores)).filter((k) => k.startsWith('final-')))].sort();
  const reference = finals[0] ?? 'final-s1';
  const complete = archs.filter((a) => a.scores[reference]);
  const final = complete.map((a) => finalAccuracy(a, reference));
  const cheap = ['proxy', 'proxy-big', 'supernet', 'predictor'].filter((s) => complete.some((a) => a.scores[s]));
  const L = [SECTION, ''];
  L.push(`Command: \`${commandLine('bench:fidelity')}\` (${new Date().toISOString().slice(0, 16)}Z).`);
  L.push(machineLine(o.load0, o.load1) + '.');
  const ats = archs.flatMap((a) => Object.values(a.scores).map((s) => s.at)).sort();
  if (ats.length) L.push(`Parts measured ${ats[0]!.slice(0, 16)}Z to ${ats.at(-1)!.slice(0, 16)}Z (kept in \`bench/results/fidelity.json\`); trainings ran ${trainedConcurrency(archs) || String(o.workers)} at a time (as recorded per part), one thread each.`);
  // seconds compare only within one CPU; parts kept across sessions may come from several
  const byCpu = new Map<string, number>();
  for (const sc of archs.flatMap((a) => Object.values(a.scores))) byCpu.set(sc.cpu ?? 'CPU not recorded', (byCpu.get(sc.cpu ?? 'CPU not recorded') ?? 0) + 1);
  if ([...byCpu.keys()].some((c) => c !== describeCpu(describeMachine()))) L.push(`Parts by CPU: ${[...byCpu].map(([c, k]) => `${c} ${k}`).join('; ')} (seconds compare only within one CPU).`);
  L.push('');
  L.push(`${archs.length} random architectures of the small-input space (28x28x1 Fashion-MNIST, 10 classes), taken at evenly spaced quantiles of predicted latency from a pool of random samples predicted at most ${JSON.parse(res.key).maxTableMs} ms (the range of the product's targets; MobileNetV2-1.0 small-input is about 5.5): ` +
    `${archs[0]!.predictedTableMs.toFixed(2)}-${archs.at(-1)!.predictedTableMs.toFixed(2)} ms predicted (node-tflite-wasm table units), ` +
    `${Math.min(...archs.map((a) => a.params)).toLocaleString('en-US')}-${Math.max(...archs.map((a) => a.params)).toLocaleString('en-US')} parameters.`);
  const rdesc = (r: Recipe) => `${r.config.subset ?? 'all'} training images x ${r.config.epochs} epoch(s), ${r.config.optimizer}, validated on ${r.config.validationSubset ?? 'all'} images`;
  for (const r of o.rs) {
    if (r.name === 'proxy') L.push(`- **proxy**: the search's default proxy task today: ${rdesc(r)} (validation accuracy).`);
    if (r.name === 'proxy-big') L.push(`- **proxy-big**: ${rdesc(r)} (validation accuracy).`);
  }
  if (res.supernet) {
    L.push(`- **supernet**: weights inherited from the trained supernet (${String(res.supernet.summary ?? '')}), BN statistics re-estimated on 512 training images, validation accuracy on 2,000 images.`);
    if (archs.some((a) => a.scores.predictor)) L.push(`- **predictor**: that supernet's accuracy predictor (an MLP on the architecture encoding, fitted on its evaluations of random architectures).`);
  }
  const f0 = o.rs.find((r) => r.name.startsWith('final-'));
  if (f0) L.push(`- **final**: bench:run's final recipe, ${f0.config.epochs} epochs on the first ${f0.config.subset} training images, Adam, crop padding ${f0.config.cropPadding}; test accuracy on the 10,000 test images. The reference is ${reference} for every architecture; ${finals.slice(1).join(', ') || 'the second seed (none done yet)'} for every ${o.seed2Every}rd architecture, so that the seed-to-seed agreement (the noise ceiling of any score) is known.`);
  L.push('');
  L.push(`Architectures with the reference final training done: ${complete.length} of ${archs.length}.`);
  L.push('');
  L.push('| score | Kendall tau vs final | p (tau = 0) | Spearman vs final | seconds per evaluation (median) | accuracy range |');
  L.push('|---|---|---|---|---|---|');
  const secs = (k: string) => { const s = complete.map((a) => a.scores[k]?.seconds).filter((x): x is number => x !== undefined).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)]! : NaN; };
  for (const c of cheap) {
    const xs = complete.map((a) => a.scores[c]?.accuracy ?? NaN);
    const ok = xs.every(Number.isFinite);
    L.push(`| ${c} | ${ok ? kendallTau(xs, final).toFixed(3) : 'n/a'} | ${ok ? kendallTauP(xs, final).p.toFixed(3) : 'n/a'} | ${ok ? spearman(xs, final).toFixed(3) : 'n/a'} | ${secs(c).toFixed(2)} | ${(100 * Math.min(...xs)).toFixed(1)}-${(100 * Math.max(...xs)).toFixed(1)}% |`);
  }
  const both = finals.length >= 2 ? complete.filter((x) => x.scores[finals[1]!]) : [];
  if (both.length < 3 && complete.length) L.push('', `p: two-sided, of tau against no association; exact (every ordering) for up to ${KENDALL_EXACT_MAX_N} architectures, the normal approximation above.`);
  if (both.length >= 3) {
    const a = both.map((x) => x.scores[finals[0]!]!.accuracy), b = both.map((x) => x.scores[finals[1]!]!.accuracy);
    const diffs = a.map((x, i) => x - b[i]!);
    L.push(`| ${finals[1]} vs ${finals[0]} (noise ceiling, ${both.length} architectures) | ${kendallTau(b, a).toFixed(3)} | ${kendallTauP(b, a).p.toFixed(3)} | ${spearman(b, a).toFixed(3)} | ${secs(finals[0]!).toFixed(0)} | ${(100 * Math.min(...final)).toFixed(1)}-${(100 * Math.max(...final)).toFixed(1)}% |`);
    L.push('');
    L.push(`On the same ${both.length} architectures: ${cheap.map((c) => { const xs = both.map((x) => x.scores[c]?.accuracy ?? NaN); return xs.every(Number.isFinite) ? `${c} tau ${kendallTau(xs, a).toFixed(3)}` : null; }).filter(Boolean).join(', ')} (against ${finals[0]}).`);
    L.push(`p: two-sided, of tau against no association; exact (every ordering) for up to ${KENDALL_EXACT_MAX_N} architectures, the normal approximation above.`);
    L.push(`Seed-to-seed difference of final test accuracy: mean ${(100 * mean(diffs)).toFixed(2)} pts, sd ${(100 * sd(diffs)).toFixed(2)} pts (so one final training ranks two architectures closer than ~${(100 * sd(diffs) * Math.SQRT2).toFixed(1)} pts apart by chance).`);
  }
  // Agreement among the cheap scores themselves, on every architecture that has both (useful while final trainings are pending)
  const allCheap = ['proxy', 'proxy-big', 'supernet', 'predictor'].filter((s) => archs.some((a) => a.scores[s]));
  const pairs = allCheap.flatMap((x, i) => allCheap.slice(i + 1).map((y) => [x, y] as const));
  if (pairs.length) {
    L.push('');
    L.push('Agreement among the cheap scores (every architecture that has both; proxy-big is the most expensive, so the nearest to final training):');
    L.push('');
    L.push('| scores | architectures | Kendall tau | Spearman | median seconds per evaluation (first / second) |');
    L.push('|---|---|---|---|---|');
    const med = (k: string, as: ArchRow[]) => { const v = as.map((a) => a.scores[k]!.seconds).sort((p, q) => p - q); return v[Math.floor(v.length / 2)]!; };
    for (const [x, y] of pairs) {
      const as = archs.filter((a) => a.scores[x] && a.scores[y]);
      if (as.length < 3) continue;
      const xs = as.map((a) => a.scores[x]!.accuracy), ys = as.map((a) => a.scores[y]!.accuracy);
      L.push(`| ${x} vs ${y} | ${as.length} | ${kendallTau(xs, ys).toFixed(3)} | ${spearman(xs, ys).toFixed(3)} | ${med(x, as).toFixed(2)} / ${med(y, as).toFixed(2)} |`);
    }
  }
  if (res.probes?.length) {
    L.push('');
    L.push('Where the supernet\'s weight sharing holds (`--probes`): the largest subnet (every block ir, expansion 6, 7x7, SE, widest, deepest), the smallest of each operator type, and the largest with one decision changed in every block; validation accuracy with inherited weights, BN re-estimated:');
    L.push('');
    L.push('| subnet | accuracy | seconds |');
    L.push('|---|---|---|');
    for (const p of res.probes) L.push(`| ${p.name} | ${(100 * p.accuracy).toFixed(1)}% | ${p.seconds.toFixed(1)} |`);
  }
  L.push('');
  L.push(`Plot: \`bench/results/${SVG}\` (each cheap score against ${complete.length ? "the mean final test accuracy" : "proxy-big, while the final trainings are pending"}); raw figures: \`bench/results/fidelity.json\`.`);
  L.push('');
  L.push(`![cheap scores vs final accuracy](bench/results/${SVG})`);
  L.push('');
  // x: the mean final test accuracy; while no final training is done, proxy-big (the most expensive cheap score) stands in, and says so
  const xKey = complete.length ? null : 'proxy-big';
  const xOf = (a: ArchRow) => (xKey ? a.scores[xKey]?.accuracy : a.scores[reference] ? finalAccuracy(a) : undefined);
  const plotted = (xKey ? allCheap.filter((c) => c !== xKey) : cheap).map((c) => ({
    name: c, style: 'points' as const,
    points: archs.filter((a) => a.scores[c] && xOf(a) !== undefined).map((a) => ({ x: xOf(a)!, y: a.scores[c]!.accuracy })),
  })).filter((sr) => sr.points.length > 0);
  if (plotted.length) {
    writeFileSync(join(import.meta.dirname, 'results', SVG), chartSvg({
      title: xKey ? `Cheap scores vs ${xKey} (Fashion-MNIST, random architectures; final trainings pending)` : 'Cheap scores vs final test accuracy (Fashion-MNIST, random architectures)',
      xLabel: xKey ? `${xKey} validation accuracy` : 'final test accuracy (mean of seeds)', yLabel: 'cheap score (validation accuracy)',
      series: plotted,
    }));
  }
  writeBenchmarksSection(SECTION, L.join('\n') + '\n');
  log('wrote BENCHMARKS.md section');
}

await main();
