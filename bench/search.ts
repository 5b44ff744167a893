// npm run bench:search [-- --evals 1000 --seeds 5 --strategies rl-ppo,rl-reinforce,random,evolution --evaluator predictor
//                         --mode hard --sweep --final --final-workers 2 --no-write]
//
// The search strategies head to head on the supernet (issue 18): equal
// evaluations per search (cached repeats are free; nothing is skipped with a
// supernet), several seeds per strategy, Fashion-MNIST, device
// node-tflite-wasm (host-calibrated predictor), target T = the predicted
// latency of the small-input MobileNetV2-0.35. Each candidate is scored by
// the dataset's trained supernet (--evaluator supernet: inherited weights,
// about a second each) or by its accuracy predictor (--evaluator predictor,
// the default: microseconds each, which makes >= 1,000 evaluations x 5 seeds
// x 4 strategies and a hyper-parameter sweep affordable on 2 cores). Then
// each search's winner is re-scored by the supernet itself and, with
// --final, trained with bench:run's final recipe (test accuracy). Mean
// +- sd over seeds per strategy, and Welch's t and Mann-Whitney U tests
// against random search. --sweep first runs a grid of learning rate, batch
// and entropy weight for the PPO controller and uses the best setting.
// Raw rows: bench/results/search.json. Replaces the "## Search strategies
// (bench:search)" section of BENCHMARKS.md.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSearch } from '../src/app/search.ts';
import { trainedSupernetFor } from '../src/app/supernet.ts';
import { dataPaths } from '../src/config/paths.ts';
import { loadDataset } from '../src/data/registry.ts';
import { type CalibratedPredictor, describeCalibration, loadCalibratedPredictor } from '../src/latency/index.ts';
import { trialReward } from '../src/search/reward.ts';
import type { EvaluatorName, SearchOptions } from '../src/search/options.ts';
import type { StrategyName } from '../src/search/strategy.ts';
import { toCanonicalJson, fromWire, archId } from '../src/space/archspec.ts';
import { resolveArch } from '../src/space/resolve.ts';
import { readArtifact } from '../src/store/artifacts.ts';
import { copySupernet } from '../src/store/supernets.ts';
import { openDb } from '../src/store/db.ts';
import type { TrialRecord } from '../src/store/trials.ts';
import { SupernetEvaluator } from '../src/supernet/evaluator.ts';
import { useTrainingBackend } from '../src/train/backend.ts';
import { defaultTrainConfig } from '../src/train/config.ts';
import { TrialPool } from '../src/train/pool.ts';
import { arg, commandLine, machineLine, writeBenchmarksSection } from './common.ts';
import { mannWhitney, mean, meanSd, sd, welchT } from './stats.ts';
import { chartSvg, type Series } from './svg.ts';

const SECTION = '## Search strategies (bench:search)';
const RESULTS = join(import.meta.dirname, 'results', 'search.json');
const INPUT = { height: 28, width: 28, channels: 1 };
const flag = (name: string) => process.argv.includes(`--${name}`);
const log = (s: string) => process.stderr.write(`[bench:search ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** A strategy as benchmarked: the search strategy and its options. */
interface Contender { label: string; strategy: StrategyName; options: Record<string, unknown> }

interface Row {
  label: string;
  seed: number;
  evaluations: number;
  cached: number;
  bestReward: number;
  bestAccuracy: number;
  bestLatencyMs: number;
  bestArch: string;
  /** best reward so far after each proposal */
  curve: number[];
  /** mean reward of the last 100 proposals (where the strategy ends up sampling) */
  lastMean: number;
  wallS: number;
  /** the winner re-scored by the supernet itself */
  supernetAccuracy?: number;
  supernetReward?: number;
  /** the winner trained with the final recipe */
  finalTestAccuracy?: number;
}

function contenders(rl: Record<string, unknown>): Contender[] {
  return [
    { label: 'rl-ppo', strategy: 'rl', options: { algorithm: 'ppo', ...rl } },
    { label: 'rl-reinforce', strategy: 'rl', options: { algorithm: 'reinforce', ...rl } },
    { label: 'random', strategy: 'random', options: { batchSize: 8 } },
    { label: 'evolution', strategy: 'evolution', options: { population: 32, sampleSize: 8 } },
  ];
}

async function oneSearch(c: Contender, seed: number, o: { evals: number; evaluator: EvaluatorName; targetMs: number; mode: 'hard' | 'soft'; db: ReturnType<typeof openDb>; predictor: CalibratedPredictor }): Promise<{ row: Row; options: SearchOptions; trials: TrialRecord[] }> {
  const t0 = Date.now();
  const r = await runSearch({
    dataset: 'fashion-mnist', deviceId: 'node-tflite-wasm', latencyTargetMs: o.targetMs, mode: o.mode, strategy: c.strategy, evaluator: o.evaluator,
    // equal samples: every strategy draws exactly `evals` proposals (a converged controller's repeats are
    // cached, free, and counted), and at most that many distinct architectures are scored
    maxTrials: o.evals, maxProposals: o.evals, seed, strategyOptions: c.options as SearchOptions['strategyOptions'],
  }, { deps: { db: o.db, predictor: o.predictor, datasetOptions: { cacheDir: dataPaths().datasets } } });
  const trials = r.report.trials;
  let best = -Infinity;
  const curve = trials.map((t) => (best = Math.max(best, t.reward ?? -Infinity)));
  const b = r.report.best!;
  return {
    row: {
      label: c.label, seed, evaluations: r.report.counts.succeeded + r.report.counts.failed, cached: r.report.counts.cached,
      bestReward: b.reward!, bestAccuracy: b.accuracy!, bestLatencyMs: b.latencyMs, bestArch: toCanonicalJson(fromWire(b.spec)), curve, lastMean: mean(trials.slice(-100).map((t) => t.reward ?? 0)), wallS: (Date.now() - t0) / 1000,
    },
    options: r.report.search.options, trials,
  };
}

async function main(): Promise<void> {
  const evals = Number(arg('evals', '1000'));
  const seeds = Number(arg('seeds', '5'));
  const evaluator = arg('evaluator', 'predictor') as EvaluatorName;
  const mode = arg('mode', 'hard') as 'hard' | 'soft';
  const labels = arg('strategies', 'rl-ppo,rl-reinforce,random,evolution').split(',');
  const write = !flag('no-write');
  const load0 = loadavg()[0];
  await useTrainingBackend();
  const predictor = await loadCalibratedPredictor('node-tflite-wasm', { onProgress: log });
  const tp = predictor.predict(resolveArch('mobilenet-v2', { input: INPUT, widthMultiplier: 0.35 }), INPUT, 10);
  const targetMs = tp.latencyMs;
  if (tp.referenceRatio !== undefined) log(`T = ${tp.referenceRatio.toFixed(3)} x the reference network (${tp.referenceMs!.toFixed(4)} ms, timed once for every search)`);
  log(`T = ${targetMs.toFixed(3)} ms (MobileNetV2-0.35 small-input, predicted: ${describeCalibration(predictor.calibration)})`);
  const storeDb = openDb(dataPaths().store);
  const sn = trainedSupernetFor(storeDb, { dataset: 'fashion-mnist', input: INPUT, owner: null });
  if (!sn) throw new Error('no trained supernet for fashion-mnist: run `nas supernet train --dataset fashion-mnist` first');
  log(`supernet ${sn.id}: ${sn.step} steps; predictor ${JSON.stringify(sn.metrics.predictor ?? null)}`);

  // searches run in a scratch store next to the data directory's (the supernet's rows are copied in; its files stay where they are)
  const dir = mkdtempSync(join(tmpdir(), 'nas-bench-search-'));
  const db = openDb(join(dir, 'bench.sqlite'));
  copySupernet(storeDb, db, sn.id);
  // every search shares this predictor: its reference network was timed once, so T and every candidate's
  // predicted latency are in one unit for all of them (a predictor per search would time the reference anew)
  const run = (c: Contender, seed: number) => oneSearch(c, seed, { evals, evaluator, targetMs, mode, db, predictor });

  // 1. Optional sweep of the PPO controller's learning rate, batch and entropy weight.
  let rlOptions: Record<string, unknown> = { batchSize: 8, learningRate: 0.02, entropyWeight: 0.01 };
  const sweep: { options: Record<string, unknown>; best: number[]; lastMean: number[] }[] = [];
  if (flag('sweep')) {
    const lrs = arg('sweep-lr', '0.005,0.02,0.05').split(',').map(Number);
    const batches = arg('sweep-batch', '8,16').split(',').map(Number);
    const entropies = arg('sweep-entropy', '0.003,0.03').split(',').map(Number);
    const sweepSeeds = Number(arg('sweep-seeds', '2'));
    for (const learningRate of lrs) for (const batchSize of batches) for (const entropyWeight of entropies) {
      const options = { batchSize, learningRate, entropyWeight };
      const best: number[] = [], lastMean: number[] = [];
      for (let seed = 101; seed < 101 + sweepSeeds; seed++) {
        const r = await run({ label: 'rl-ppo', strategy: 'rl', options: { algorithm: 'ppo', ...options } }, seed);
        best.push(r.row.bestReward);
        lastMean.push(r.row.lastMean);
      }
      sweep.push({ options, best, lastMean });
      log(`sweep ${JSON.stringify(options)}: best ${meanSd(best)}, mean reward of the last 100 ${meanSd(lastMean)}`);
    }
    rlOptions = sweep.reduce((a, b) => (mean(b.best) > mean(a.best) ? b : a)).options;
    log(`sweep winner: ${JSON.stringify(rlOptions)}`);
  }

  // 2. The strategies, seeds 1..n, equal evaluations.
  const rows: Row[] = [];
  const all = contenders(rlOptions).filter((c) => labels.includes(c.label));
  for (let seed = 1; seed <= seeds; seed++) {
    for (const c of all) {
      const r = await run(c, seed);
      rows.push(r.row);
      log(`${c.label} seed ${seed}: best reward ${r.row.bestReward.toFixed(4)} (acc ${(100 * r.row.bestAccuracy).toFixed(2)}%, ${r.row.bestLatencyMs.toFixed(3)} ms), ${r.row.evaluations} evaluations + ${r.row.cached} cached, ${r.row.wallS.toFixed(0)} s`);
    }
  }

  // 3. Winners re-scored by the supernet itself (the predictor's error is not the search's merit).
  const ds = await loadDataset('fashion-mnist', { cacheDir: dataPaths().datasets });
  const ev = new SupernetEvaluator(readArtifact(storeDb, sn.checkpointArtifactId!), ds);
  const rewardOpts = { mode, w: mode === 'soft' ? -0.07 : -1, latencyTargetMs: targetMs, earlyStop: null } as unknown as SearchOptions;
  try {
    for (const r of rows) {
      r.supernetAccuracy = ev.evaluate(fromWire(r.bestArch)).accuracy;
      r.supernetReward = trialReward(r.supernetAccuracy, r.bestLatencyMs, 0, rewardOpts);
    }
  } finally {
    ev.dispose();
  }

  // 4. Winners trained with the final recipe (bench:run's), test accuracy.
  if (flag('final')) {
    const workers = Number(arg('final-workers', String(Math.min(2, availableParallelism()))));
    const pool = new TrialPool({ size: workers, threadsPerWorker: Math.max(1, Math.floor(availableParallelism() / workers)) });
    const config = defaultTrainConfig({ epochs: 4, subset: 20000, optimizer: 'adam', cropPadding: 2, seed: 1 });
    const byArch = new Map<string, Promise<number>>();
    try {
      await Promise.all(rows.map(async (r) => {
        let p = byArch.get(r.bestArch);
        if (!p) {
          p = pool.run({ id: archId(fromWire(r.bestArch)), arch: r.bestArch, dataset: 'fashion-mnist', datasetOptions: { cacheDir: dataPaths().datasets }, config, evaluateTest: true })
            .then((o) => { if (!o.ok) throw new Error(o.error.message); return o.result.testAccuracy ?? NaN; });
          byArch.set(r.bestArch, p);
        }
        r.finalTestAccuracy = await p;
        log(`${r.label} seed ${r.seed} winner: final test ${(100 * r.finalTestAccuracy).toFixed(2)}%`);
      }));
    } finally {
      await pool.close();
    }
  }
  storeDb.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({ targetMs, evaluator, mode, evals, seeds, rlOptions, sweep, rows }, null, 2) + '\n');
  if (!write) { log('--no-write: BENCHMARKS.md untouched'); return; }
  writeReport({ rows, sweep, rlOptions, targetMs, evaluator, mode, evals, seeds, load0, load1: loadavg()[0], supernet: sn.id, supernetSteps: sn.step, predictorTau: (sn.metrics.predictor as { kendallTau?: number } | undefined)?.kendallTau, calibration: describeCalibration(predictor.calibration) });
}

interface Report {
  rows: Row[]; sweep: { options: Record<string, unknown>; best: number[]; lastMean: number[] }[]; rlOptions: Record<string, unknown>;
  targetMs: number; evaluator: string; mode: string; evals: number; seeds: number; load0: number; load1: number;
  supernet: string; supernetSteps: number; predictorTau: number | undefined; calibration: string;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');

function comparison(name: string, a: number[], b: number[], digits = 4): string {
  if (a.length < 2 || b.length < 2 || !a.every(Number.isFinite) || !b.every(Number.isFinite)) return `${name}: n/a`;
  const t = welchT(a, b), u = mannWhitney(a, b);
  const d = mean(a) - mean(b);
  return `${name}: ${d >= 0 ? '+' : ''}${d.toFixed(digits)} (Welch t = ${t.statistic.toFixed(2)}, p = ${t.p.toFixed(3)}; ${u.method}, p = ${u.p.toFixed(3)})`;
}

function writeReport(r: Report): void {
  const labels = [...new Set(r.rows.map((x) => x.label))];
  const of = (l: string, f: (x: Row) => number | undefined) => r.rows.filter((x) => x.label === l).map(f).filter((v): v is number => v !== undefined);
  const series: Series[] = labels.map((l) => {
    const rs = r.rows.filter((x) => x.label === l);
    const n = Math.max(...rs.map((x) => x.curve.length));
    const step = Math.max(1, Math.floor(n / 200));
    return { name: l, points: Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step).map((i) => ({ x: i + 1, y: mean(rs.map((x) => x.curve[Math.min(i, x.curve.length - 1)]!)) })) };
  });
  writeFileSync(join(import.meta.dirname, 'results', 'search-reward.svg'), chartSvg({
    title: `Best reward so far (mean of ${r.seeds} seeds), evaluator ${r.evaluator}, T = ${r.targetMs.toFixed(3)} ms`,
    xLabel: 'proposals', yLabel: `best reward (${r.mode} mode)`, series,
  }));
  const L = [SECTION, ''];
  L.push(`Command: \`${commandLine('bench:search')}\` (${new Date().toISOString().slice(0, 16)}Z).`);
  L.push(machineLine(r.load0, r.load1) + '.');
  L.push('');
  L.push(`Fashion-MNIST, device node-tflite-wasm (${r.calibration}), ${r.mode} reward with T = ${r.targetMs.toFixed(3)} ms (the predicted latency of the small-input MobileNetV2-0.35). ` +
    `Each candidate is scored by ${r.evaluator === 'predictor' ? `the accuracy predictor of supernet ${r.supernet} (${r.supernetSteps} steps; held-out Kendall tau against the supernet ${r.predictorTau?.toFixed(3) ?? 'n/a'})` : `supernet ${r.supernet} (inherited weights, BN re-estimated)`}: ` +
    `${r.evals} proposals per search (equal samples: a repeated architecture is scored from the cache and counts as a proposal; the distinct architectures scored are in the table; nothing skipped), ${r.seeds} seeds per strategy. The winner of each search is then scored by the supernet itself${r.rows.some((x) => x.finalTestAccuracy !== undefined) ? ' and trained with bench:run\'s final recipe (4 epochs on 20,000 images, Adam; test accuracy on 10,000 images)' : ''}.`);
  L.push(`Strategies: rl-ppo and rl-reinforce (the LSTM controller, ${JSON.stringify(r.rlOptions)}${r.sweep.length ? ', the sweep\'s best setting' : ''}; PPO: 4 clipped steps per batch, clip 0.2), random (uniform), evolution (aging, population 32, tournament 8).`);
  L.push('');
  L.push('| strategy | mean ± sd best reward (search\'s evaluator) | mean ± sd reward of the last 100 proposals | mean ± sd winner\'s supernet accuracy | mean ± sd winner\'s reward on the supernet | mean ± sd winner\'s final test accuracy | distinct architectures scored + cached repeats per search | wall time per search |');
  L.push('|---|---|---|---|---|---|---|---|');
  for (const l of labels) {
    L.push(`| ${l} | ${meanSd(of(l, (x) => x.bestReward))} | ${meanSd(of(l, (x) => x.lastMean))} | ${meanSd(of(l, (x) => x.supernetAccuracy))} | ${meanSd(of(l, (x) => x.supernetReward))} | ${of(l, (x) => x.finalTestAccuracy).length ? meanSd(of(l, (x) => x.finalTestAccuracy)) : 'not run'} | ${mean(of(l, (x) => x.evaluations)).toFixed(0)} + ${mean(of(l, (x) => x.cached)).toFixed(0)} | ${(mean(of(l, (x) => x.wallS)) / 60).toFixed(1)} min |`);
  }
  L.push('');
  L.push('Against random search (difference of means; two-sided tests over seeds):');
  L.push('');
  for (const l of labels.filter((x) => x !== 'random')) {
    L.push(`- ${l} vs random: ${comparison('best reward', of(l, (x) => x.bestReward), of('random', (x) => x.bestReward))}; ${comparison('winner\'s reward on the supernet', of(l, (x) => x.supernetReward), of('random', (x) => x.supernetReward))}; ${comparison('mean reward of the last 100 proposals', of(l, (x) => x.lastMean), of('random', (x) => x.lastMean))}${of(l, (x) => x.finalTestAccuracy).length ? `; ${comparison('final test accuracy', of(l, (x) => x.finalTestAccuracy), of('random', (x) => x.finalTestAccuracy))}` : ''}.`);
  }
  if (r.sweep.length) {
    L.push('');
    L.push(`PPO sweep (${r.evals} evaluations per search, seeds 101-${100 + r.sweep[0]!.best.length}; chosen by mean best reward):`);
    L.push('');
    L.push('| batch | learning rate | entropy weight | mean ± sd best reward | mean reward of the last 100 proposals |');
    L.push('|---|---|---|---|---|');
    for (const s of r.sweep) L.push(`| ${s.options.batchSize} | ${s.options.learningRate} | ${s.options.entropyWeight} | ${meanSd(s.best)} | ${meanSd(s.lastMean)} |`);
  }
  L.push('');
  L.push('Per search:');
  L.push('');
  L.push('| strategy | seed | best reward | accuracy (evaluator) | latency (ms) | supernet accuracy | final test accuracy |');
  L.push('|---|---|---|---|---|---|---|');
  for (const x of r.rows) L.push(`| ${x.label} | ${x.seed} | ${x.bestReward.toFixed(4)} | ${pct(x.bestAccuracy)} | ${x.bestLatencyMs.toFixed(3)} | ${pct(x.supernetAccuracy ?? NaN)} | ${pct(x.finalTestAccuracy ?? NaN)} |`);
  L.push('');
  L.push('Best-reward curves: `bench/results/search-reward.svg`; raw rows: `bench/results/search.json`.');
  L.push('');
  L.push('![best reward so far](bench/results/search-reward.svg)');
  L.push('');
  writeBenchmarksSection(SECTION, L.join('\n') + '\n');
  log('wrote BENCHMARKS.md section');
}

await main();
