// npm run bench:search [-- --trials 24 --seeds 3 --strategies rl,random,evolution --device node-tflite-wasm --mode hard|soft --batch 6]
//
// The search strategies head to head on the real proxy task: Fashion-MNIST,
// the node-tflite-wasm device (host-calibrated predictor), target T = the
// wall-clock latency of the small-input MobileNetV2-0.35 preset measured here
// in the TFLite interpreter, hard reward by default (--mode soft: ACC x (LAT/T)^-0.07), equal trial
// budgets, several seeds per strategy. Reports best reward, best validation
// accuracy within T, trials per hour, wall time, and writes the reward curves
// as an SVG (bench/results/search-reward.svg). Replaces the
// "## Search strategies (bench:search)" section of BENCHMARKS.md.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSearch, type SearchResult } from '../src/app/search.ts';
import { dataPaths } from '../src/config/paths.ts';
import { describeCalibration, loadCalibratedPredictor } from '../src/latency/index.ts';
import { measureWallClock } from '../src/latency/calibration-wall.ts';
import { loadDevice } from '../src/latency/device.ts';
import { createRuntime } from '../src/latency/runtimes/index.ts';
import { expandNetwork } from '../src/space/network.ts';
import { resolveArch } from '../src/space/resolve.ts';
import { openDb } from '../src/store/db.ts';
import type { TrialRecord } from '../src/store/trials.ts';
import type { StrategyName } from '../src/search/strategy.ts';
import { arg, commandLine, machineLine, writeBenchmarksSection } from './common.ts';
import { chartSvg, type Series } from './svg.ts';

const SECTION = '## Search strategies (bench:search)';

interface RunRow {
  strategy: StrategyName;
  seed: number;
  result: SearchResult;
  wallS: number;
  bestReward: number;
  bestAccWithinT: number;
  bestRewardByTrial: number[];
  trials: TrialRecord[];
}

const trained = (r: RunRow) => r.result.report.counts.succeeded + r.result.report.counts.failed;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');

async function measureTargetMs(deviceId: string): Promise<{ targetMs: number; spread: number }> {
  const input = { height: 28, width: 28, channels: 1 };
  const spec = resolveArch('mobilenet-v2', { input, widthMultiplier: 0.35 });
  const runtime = await createRuntime(loadDevice(deviceId).runtime);
  const model = await runtime.prepare(expandNetwork(spec, input, 10));
  try {
    const m = await measureWallClock(model, {}, 'mobilenet-v2 0.35 small-input');
    return { targetMs: m.medianMs, spread: m.spread };
  } finally {
    model.dispose();
    await runtime.close();
  }
}

async function main(): Promise<void> {
  const trials = Number(arg('trials', '24'));
  const seeds = Number(arg('seeds', '3'));
  const deviceId = arg('device', 'node-tflite-wasm');
  const strategies = arg('strategies', 'rl,random,evolution').split(',') as StrategyName[];
  const batchSize = Number(arg('batch', '6'));
  const mode = arg('mode', 'hard') as 'soft' | 'hard';
  const w = mode === 'soft' ? -0.07 : -1;
  const load0 = loadavg()[0];
  const log = (s: string) => process.stderr.write(`[bench:search] ${s}\n`);

  const predictor = await loadCalibratedPredictor(deviceId, { onProgress: log });
  log(`calibration: ${describeCalibration(predictor.calibration)}`);
  const { targetMs, spread } = await measureTargetMs(deviceId);
  log(`target T = ${targetMs.toFixed(3)} ms (MobileNetV2-0.35 small-input, wall clock)`);

  const dir = mkdtempSync(join(tmpdir(), 'nas-bench-search-'));
  const db = openDb(join(dir, 'bench.sqlite'));
  const rows: RunRow[] = [];
  try {
    for (const seed of Array.from({ length: seeds }, (_, i) => i + 1)) {
      for (const strategy of strategies) {
        const t0 = Date.now();
        log(`${strategy} seed ${seed}: ${trials} trials`);
        const result = await runSearch({
          dataset: 'fashion-mnist', deviceId, latencyTargetMs: targetMs, mode, strategy, maxTrials: trials, seed,
          strategyOptions: { batchSize, population: 8, sampleSize: 3 },
        }, {
          deps: { db, datasetOptions: { cacheDir: dataPaths().datasets } },
          onEvent: (e) => {
            if (e.type === 'trial-finished') log(`  trial ${e.trialsDone}: ${e.status} acc ${e.accuracy === null ? '-' : e.accuracy.toFixed(4)} lat ${e.latencyMs.toFixed(3)} ms reward ${e.reward === null ? '-' : e.reward.toFixed(4)}`);
          },
        });
        const wallS = (Date.now() - t0) / 1000;
        const ts = result.report.trials;
        let best = -Infinity;
        const bestRewardByTrial = ts.map((t) => (best = Math.max(best, t.reward ?? -Infinity)));
        const within = ts.filter((t) => t.accuracy !== null && t.latencyMs <= targetMs && (t.status === 'succeeded' || t.status === 'cached'));
        rows.push({
          strategy, seed, result, wallS, trials: ts, bestRewardByTrial,
          bestReward: Math.max(...ts.map((t) => t.reward ?? -Infinity)),
          bestAccWithinT: within.length ? Math.max(...within.map((t) => t.accuracy!)) : NaN,
        });
        log(`${strategy} seed ${seed}: ${result.status}, best reward ${rows.at(-1)!.bestReward.toFixed(4)}, ${wallS.toFixed(0)} s`);
      }
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const load1 = loadavg()[0];

  // the reward curves: best reward so far per trial, and the mean reward of each batch of trials, averaged over seeds
  // over all proposals of each run (trained, cached and skipped): best reward so far, and the mean reward of each batch
  // of proposals; averaged over seeds where a run reached that index (a finished run's best stays flat)
  const bestSeries: Series[] = strategies.map((s) => {
    const rs = rows.filter((r) => r.strategy === s);
    const n = Math.max(...rs.map((r) => r.bestRewardByTrial.length));
    return { name: s, points: Array.from({ length: n }, (_, i) => ({ x: i + 1, y: mean(rs.map((r) => r.bestRewardByTrial[Math.min(i, r.bestRewardByTrial.length - 1)]).filter(Number.isFinite)) })).filter((p) => Number.isFinite(p.y)) };
  });
  const batchMeans = (r: RunRow) => Array.from({ length: Math.ceil(r.trials.length / batchSize) }, (_, b) =>
    mean(r.trials.slice(b * batchSize, (b + 1) * batchSize).map((t) => t.reward ?? 0)));
  const batchSeries: Series[] = strategies.map((s) => {
    const per = rows.filter((r) => r.strategy === s).map(batchMeans);
    const n = Math.max(...per.map((m) => m.length));
    return {
      name: `${s} (batch mean)`,
      points: Array.from({ length: n }, (_, b) => ({ x: b + 1, y: mean(per.filter((m) => b < m.length).map((m) => m[b]!)) })).filter((p) => Number.isFinite(p.y)),
    };
  });
  const lastBatchMean = (s: StrategyName) => mean(rows.filter((r) => r.strategy === s).map((r) => batchMeans(r).at(-1) ?? NaN));
  const outDir = join(import.meta.dirname, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'search-reward.svg'), chartSvg({
    title: `Best reward so far (mean of ${seeds} seeds), T = ${targetMs.toFixed(2)} ms`, xLabel: 'proposals (trained, cached and skipped)', yLabel: `best reward (${mode} mode, w = ${w})`, series: bestSeries,
  }));
  writeFileSync(join(outDir, 'search-batch-reward.svg'), chartSvg({
    title: `Mean reward per batch of ${batchSize} proposals, skips = 0 (mean of ${seeds} seeds)`, xLabel: 'batch', yLabel: 'mean reward', series: batchSeries,
  }));

  const lines = [SECTION, ''];
  lines.push(`Command: \`${commandLine('bench:search')}\` (${new Date().toISOString().slice(0, 16)}Z).`);
  lines.push(machineLine(load0, load1) + '.');
  lines.push('');
  lines.push(`Fashion-MNIST proxy task (2,000 training images, 1 epoch, SGD, validation accuracy on 1,000 held-out validation images; the search's default recipe),`);
  lines.push(`device ${deviceId} (predictor: ${describeCalibration(predictor.calibration)}), ${mode} reward ${mode === 'soft' ? 'ACC x (LAT/T)^-0.07' : 'ACC within T, ACC x (LAT/T)^-1 over it, architectures predicted over 1.5 T scored 0 without training ("skipped")'} with T = ${targetMs.toFixed(3)} ms,`);
  lines.push(`the wall-clock latency of the small-input MobileNetV2-0.35 measured here (TFLite interpreter, 1 thread, median of 120 Invoke() calls, pass spread ${(100 * spread).toFixed(1)}%).`);
  lines.push(`${trials} trained trials per search (cached repeats and hard-mode skips cost nothing), ${seeds} seeds per strategy; rl: REINFORCE on an LSTM controller, batch ${batchSize};`);
  lines.push(`evolution: aging evolution, population 8, tournament 3; random: uniform. Trials train 2 at a time (one per core).`);
  lines.push('');
  lines.push('| strategy | seed | status | best reward | best val. accuracy within T | trials trained / cached / skipped / failed | trained trials per hour | wall time |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const c = r.result.report.counts;
    lines.push(`| ${r.strategy} | ${r.seed} | ${r.result.status} | ${r.bestReward.toFixed(4)} | ${pct(r.bestAccWithinT)} | ${c.succeeded} / ${c.cached} / ${c.skipped} / ${c.failed} | ${(trained(r) / (r.wallS / 3600)).toFixed(0)} | ${(r.wallS / 60).toFixed(1)} min |`);
  }
  lines.push('');
  lines.push('| strategy | mean best reward | mean best val. accuracy within T | mean reward of the last batch of proposals (skips and failures = 0) | mean trained trials per hour |');
  lines.push('|---|---|---|---|---|');
  const summary = strategies.map((s) => {
    const rs = rows.filter((r) => r.strategy === s);
    const lastBatch = lastBatchMean(s);
    return { s, best: mean(rs.map((r) => r.bestReward)), acc: mean(rs.map((r) => r.bestAccWithinT).filter(Number.isFinite)), lastBatch, tph: mean(rs.map((r) => trained(r) / (r.wallS / 3600))) };
  });
  for (const x of summary) lines.push(`| ${x.s} | ${x.best.toFixed(4)} | ${pct(x.acc)} | ${x.lastBatch.toFixed(4)} | ${x.tph.toFixed(0)} |`);
  lines.push('');
  const rnd = summary.find((x) => x.s === 'random');
  if (rnd) {
    for (const x of summary.filter((y) => y.s !== 'random')) {
      const d = x.acc - rnd.acc;
      lines.push(`- ${x.s} vs random: best reward ${x.best >= rnd.best ? 'at least as good' : 'worse'} (${(x.best - rnd.best >= 0 ? '+' : '') + (x.best - rnd.best).toFixed(4)}), best accuracy within T ${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)} points.`);
    }
  }
  lines.push('');
  lines.push('Reward curves: `bench/results/search-reward.svg` (best so far) and `bench/results/search-batch-reward.svg` (mean per batch).');
  lines.push('');
  lines.push('![best reward so far](bench/results/search-reward.svg)');
  lines.push('');
  writeBenchmarksSection(SECTION, lines.join('\n') + '\n');
  log('wrote BENCHMARKS.md section');
}

await main();
