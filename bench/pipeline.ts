// npm run bench:pipeline [-- --budget-minutes 20 --final-epochs 4 --final-subset 20000 --widths 0.35,0.5,0.75,1.0
//                           --target-widths 0.35,0.75 --device node-tflite-wasm --reuse --no-write]
//
// The product's headline, measured: `nas run` (search -> NetAdapt or compound
// scaling -> final training -> verified export -> measured latency) against
// the hand-designed MobileNetV2 width family on Fashion-MNIST and the
// node-tflite-wasm device. The two targets are the wall-clock latencies of
// the small-input MobileNetV2 at the --target-widths, measured here. Every
// MobileNetV2 width is trained with the same final recipe `nas run` uses for
// its model, and every latency is measured the same way (TFLite interpreter,
// 1 thread, wall clock, src/refine/measure.ts). Writes a table and an SVG of
// test accuracy against measured latency with both targets marked
// (bench/results/pipeline-accuracy-latency.svg), and replaces the
// "## Search to model vs MobileNetV2 (bench:pipeline)" section of BENCHMARKS.md.
//
// Finished parts are kept in bench/results/pipeline.json; --reuse skips the
// ones whose settings match (a crashed second run does not redo the first).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunResult, runRun } from '../src/app/run.ts';
import type { NasEvent } from '../src/app/events.ts';
import { dataPaths } from '../src/config/paths.ts';
import { loadDataset } from '../src/data/registry.ts';
import { describeCalibration, loadCalibratedPredictor } from '../src/latency/index.ts';
import { trainWeights } from '../src/refine/finetune.ts';
import { measureOnDevice } from '../src/refine/measure.ts';
import { disposeWeights } from '../src/refine/prune.ts';
import { archId } from '../src/space/archspec.ts';
import { archCost } from '../src/space/cost.ts';
import { resolveArch } from '../src/space/resolve.ts';
import type { StrategyName } from '../src/search/strategy.ts';
import type { ArchSpec, InputShape } from '../src/space/types.ts';
import { getSearchReport } from '../src/search/report.ts';
import { openDb } from '../src/store/db.ts';
import { useTrainingBackend } from '../src/train/backend.ts';
import { defaultTrainConfig, type TrainConfig } from '../src/train/config.ts';
import { arg, commandLine, machineLine, writeBenchmarksSection } from './common.ts';
import { chartSvg } from './svg.ts';

const SECTION = '## Search to model vs MobileNetV2 (bench:pipeline)';
const RESULTS = join(import.meta.dirname, 'results', 'pipeline.json');
const SVG = 'pipeline-accuracy-latency.svg';

const flag = (name: string) => process.argv.includes(`--${name}`);
const log = (s: string) => process.stderr.write(`[bench:pipeline ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

interface ModelRow {
  name: string;
  archId: string;
  testAccuracy: number;
  validationAccuracy: number;
  measuredLatencyMs: number;
  predictedLatencyMs: number;
  params: number;
  macs: number;
  wallS: number;
  input: InputShape;
  /** when it finished, and the 1-minute load average at its start and end (absent in files of older versions) */
  at?: string;
  loadAvg?: [number, number];
}

interface FamilyRow extends ModelRow { width: number }

interface RunRow extends ModelRow {
  targetWidth: number;
  targetMs: number;
  status: RunResult['status'];
  error: string | null;
  metTarget: boolean;
  refinement: string;
  searchTrials: { trained: number; cached: number; skipped: number; failed: number };
  baseArchId: string;
  stagesS: Record<string, number>;
  verified: string[];
}

interface Results {
  /** settings that make results comparable; a part is reused only when they match */
  key: string;
  latencies: Record<string, number>;
  family: Record<string, FamilyRow>;
  runs: Record<string, RunRow>;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const mins = (s: number) => `${(s / 60).toFixed(1)} min`;

async function main(): Promise<void> {
  const deviceId = arg('device', 'node-tflite-wasm');
  const budgetMinutes = Number(arg('budget-minutes', '20'));
  const widths = arg('widths', '0.35,0.5,0.75,1.0').split(',').map(Number);
  const targetWidths = arg('target-widths', '0.35,0.75').split(',').map(Number);
  const strategy = arg('strategy', 'evolution');
  const finalRecipe: Partial<TrainConfig> = {
    epochs: Number(arg('final-epochs', '4')), subset: Number(arg('final-subset', '20000')), optimizer: 'adam', cropPadding: 2, seed: 1,
  };
  const proxyRecipe: Partial<TrainConfig> = { epochs: 2, subset: Number(arg('proxy-subset', '5000')), validationSubset: 2000, optimizer: 'adam' };
  const write = !flag('no-write');
  const key = JSON.stringify({ deviceId, budgetMinutes, finalRecipe, proxyRecipe, strategy });
  for (const w of targetWidths) if (!widths.includes(w)) throw new Error(`target width ${w} is not among --widths ${widths.join(',')}`);

  const load0 = loadavg()[0];
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  const prior: Results | null = flag('reuse') && existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) as Results : null;
  const res: Results = prior && prior.key === key ? prior : { key, latencies: {}, family: {}, runs: {} };
  if (prior && prior.key !== key) log('settings changed since bench/results/pipeline.json: nothing reused');
  const save = () => { if (write) writeFileSync(RESULTS, JSON.stringify(res, null, 2) + '\n'); };

  await useTrainingBackend();
  const predictor = await loadCalibratedPredictor(deviceId, { onProgress: log });
  log(`calibration: ${describeCalibration(predictor.calibration)}`);
  const dataset = await loadDataset('fashion-mnist', { cacheDir: dataPaths().datasets });
  const input: InputShape = { height: dataset.manifest.height, width: dataset.manifest.width, channels: dataset.manifest.channels };
  const K = dataset.manifest.classes.length;
  const mnv2 = (w: number): ArchSpec => resolveArch('mobilenet-v2', { input, widthMultiplier: w });
  const measure = async (spec: ArchSpec, inp: InputShape, what: string): Promise<number> => {
    const m = await measureOnDevice(deviceId, spec, inp, K, { unit: 'host-ms' });
    if (!m.measured) throw new Error(`${what}: not measured: ${m.reason}`);
    log(`${what}: measured ${m.latencyMs.toFixed(3)} ms (IQR ${(100 * m.relIqr).toFixed(1)}%)`);
    return m.latencyMs;
  };

  let reused = false;
  // 1. Latency of every width, measured before any training (the machine is quietest now); the targets come from these.
  // three interleaved rounds, median per width (one measurement can be off by several % on a shared machine)
  const todo = widths.filter((w) => res.latencies[w] === undefined);
  const rounds: Record<string, number[]> = {};
  for (let round = 1; round <= 3; round++) {
    for (const w of todo) (rounds[w] ??= []).push(await measure(mnv2(w), input, `MobileNetV2-${w} small-input (round ${round})`));
  }
  for (const w of todo) res.latencies[w] = rounds[w]!.sort((a, b) => a - b)[1]!;
  save();
  const targets = targetWidths.map((w) => ({ width: w, targetMs: res.latencies[w]! }));
  log(`targets: ${targets.map((t) => `${t.targetMs.toFixed(3)} ms (MobileNetV2-${t.width})`).join(', ')}`);

  // 2. The MobileNetV2 family, trained from scratch with the final recipe.
  for (const w of widths) {
    if (res.family[w]) { log(`MobileNetV2-${w}: reused`); reused = true; continue; }
    const spec = mnv2(w);
    const t0 = Date.now();
    const l0 = loadavg()[0];
    log(`MobileNetV2-${w}: training (${JSON.stringify(finalRecipe)})`);
    const r = await trainWeights(spec, dataset, defaultTrainConfig(finalRecipe), undefined, true);
    disposeWeights(r.weights);
    const cost = archCost(spec, input, K);
    res.family[w] = {
      name: `MobileNetV2-${w}`, width: w, archId: archId(spec), testAccuracy: r.testAccuracy ?? NaN, validationAccuracy: r.accuracy,
      measuredLatencyMs: res.latencies[w]!, predictedLatencyMs: predictor.predict(spec, input, K).latencyMs,
      params: cost.params, macs: cost.macs, wallS: (Date.now() - t0) / 1000, input, at: new Date().toISOString(), loadAvg: [l0, loadavg()[0]],
    };
    log(`MobileNetV2-${w}: test ${pct(res.family[w]!.testAccuracy)}, ${mins(res.family[w]!.wallS)}`);
    save();
  }

  // 3. `nas run` at each target, hard mode, each in its own store.
  for (const t of targets) {
    if (res.runs[t.width]) { log(`nas run at ${t.targetMs.toFixed(3)} ms: reused`); reused = true; continue; }
    const dir = mkdtempSync(join(tmpdir(), 'nas-bench-pipeline-'));
    const db = openDb(join(dir, 'bench.sqlite'));
    const stagesS: Record<string, number> = {};
    let current: string | null = null;
    let currentSince = 0;
    const closeStage = (at: number) => { if (current) stagesS[current] = (stagesS[current] ?? 0) + (at - currentSince) / 1000; };
    const t0 = Date.now();
    const l0 = loadavg()[0];
    try {
      log(`nas run: target ${t.targetMs.toFixed(3)} ms (MobileNetV2-${t.width}), hard mode, search budget ${budgetMinutes} min`);
      const r = await runRun({
        // the search's own wall budget (a run's budgetMinutes is the whole job's: bench:budget measures that)
        dataset: 'fashion-mnist', deviceId, latencyTargetMs: t.targetMs, mode: 'hard', seed: 1,
        search: { strategy: strategy as StrategyName, maxTrials: 100000, maxWallMs: budgetMinutes * 60_000, strategyOptions: { population: 16, sampleSize: 4 } },
        proxy: proxyRecipe, final: finalRecipe, netadapt: { maxSteps: 8 }, hardRetries: 2,
      }, {
        deps: { db, predictor, outDir: join(dir, 'models'), datasetOptions: { cacheDir: dataPaths().datasets } },
        onEvent: (e: NasEvent) => {
          if (e.type === 'stage-changed') {
            const at = Date.now();
            closeStage(at);
            current = e.stage;
            currentSince = at;
            log(`  stage ${e.stage}${e.detail ? `: ${e.detail}` : ''}`);
          } else if (e.type === 'log') {
            log(`  ${e.message}`);
          } else if (e.type === 'trial-finished') {
            if (e.trialsDone % 10 === 0) log(`  trial ${e.trialsDone}: ${e.status} acc ${e.accuracy === null ? '-' : e.accuracy.toFixed(4)} lat ${e.latencyMs.toFixed(3)} ms`);
          }
        },
      });
      const wallS = (Date.now() - t0) / 1000;
      closeStage(Date.now());
      const c = r.searchId ? getSearchReport(db, r.searchId).counts : null;
      const counts = { trained: (c?.succeeded ?? 0) + (c?.failed ?? 0), cached: c?.cached ?? 0, skipped: c?.skipped ?? 0, failed: c?.failed ?? 0 };
      const card = r.card;
      const cost = r.spec && r.input ? archCost(r.spec, r.input, K) : null;
      const refinement = card?.run?.refinement;
      res.runs[t.width] = {
        name: `nas run @ MobileNetV2-${t.width} latency`, targetWidth: t.width, targetMs: t.targetMs, status: r.status, error: r.error,
        archId: r.spec ? archId(r.spec) : 'n/a', testAccuracy: card?.run?.testAccuracy ?? NaN, validationAccuracy: card?.run?.validationAccuracy ?? NaN,
        measuredLatencyMs: r.measuredLatencyMs ?? NaN, predictedLatencyMs: r.predictedLatencyMs ?? NaN,
        params: cost?.params ?? NaN, macs: cost?.macs ?? NaN, wallS, input: r.input ?? input, metTarget: r.metTarget,
        refinement: refinement ? `${refinement.method}${refinement.method === 'compound-scaling' ? ` (phi ${Number(refinement.detail.phi).toFixed(2)})` : refinement.method === 'netadapt' ? ` (${String(refinement.detail.steps ?? refinement.detail.reshrink ?? '?')} steps)` : ''}` : 'n/a',
        searchTrials: counts, baseArchId: card?.run?.baseArchId ?? 'n/a', stagesS,
        at: new Date().toISOString(), loadAvg: [l0, loadavg()[0]],
        verified: card ? r.files.map((f) => f.format).filter((f, i, a) => a.indexOf(f) === i) : [],
      };
      log(`nas run at ${t.targetMs.toFixed(3)} ms: ${r.status}${r.error ? ` (${r.error})` : ''}, test ${pct(res.runs[t.width]!.testAccuracy)}, measured ${ms(res.runs[t.width]!.measuredLatencyMs)} ms, ${mins(wallS)}`);
      save();
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const load1 = loadavg()[0];
  if (!write) { log('--no-write: BENCHMARKS.md untouched'); return; }
  writeReport(res, { deviceId, budgetMinutes, finalRecipe, proxyRecipe, strategy, widths, targets, calibration: describeCalibration(predictor.calibration), load0, load1, reused });
}

function writeReport(res: Results, o: {
  deviceId: string; budgetMinutes: number; finalRecipe: Partial<TrainConfig>; proxyRecipe: Partial<TrainConfig>; strategy: string;
  widths: number[]; targets: { width: number; targetMs: number }[]; calibration: string; load0: number; load1: number; reused: boolean;
}): void {
  const family = o.widths.map((w) => res.family[w]!).filter(Boolean);
  const runs = o.targets.map((t) => res.runs[t.width]!).filter(Boolean);
  writeFileSync(join(import.meta.dirname, 'results', SVG), chartSvg({
    title: 'Fashion-MNIST test accuracy vs measured latency (node-tflite-wasm, this host)',
    xLabel: 'measured latency (ms, TFLite interpreter, 1 thread)', yLabel: 'test accuracy',
    series: [
      { name: 'MobileNetV2 widths', style: 'line', points: family.map((f) => ({ x: f.measuredLatencyMs, y: f.testAccuracy, label: String(f.width) })) },
      { name: 'nas run (hard mode)', style: 'points', points: runs.filter((r) => Number.isFinite(r.measuredLatencyMs) && Number.isFinite(r.testAccuracy)).map((r) => ({ x: r.measuredLatencyMs, y: r.testAccuracy, label: `T${r.targetWidth}` })) },
    ],
    vLines: o.targets.map((t) => ({ x: t.targetMs, label: `T = MNv2-${t.width}` })),
  }));

  const L = [SECTION, ''];
  L.push(`Command: \`${commandLine('bench:pipeline')}\` (${new Date().toISOString().slice(0, 16)}Z).`);
  L.push(machineLine(o.load0, o.load1) + '.');
  const parts = [...family, ...runs];
  const ats = parts.map((p) => p.at).filter((a): a is string => !!a).sort();
  const loads = parts.flatMap((p) => p.loadAvg ?? []);
  if (o.reused) L.push(`Figures reused from \`bench/results/pipeline.json\` where a part was already done with the same settings${ats.length ? ` (parts finished ${ats[0]!.slice(0, 16)}Z to ${ats.at(-1)!.slice(0, 16)}Z)` : ''}.`);
  if (loads.length) L.push(`1-minute load average at the start and end of each part: ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} (training uses both cores, so about 2 is a busy but unshared machine).`);
  L.push('');
  L.push(`Fashion-MNIST (28x28x1, 10 classes), device ${o.deviceId} (predictor: ${o.calibration}). Targets: the wall-clock latencies of the small-input MobileNetV2 at widths ${o.targets.map((t) => t.width).join(' and ')}, measured here before any training: ${o.targets.map((t) => `${t.targetMs.toFixed(3)} ms`).join(' and ')}.`);
  L.push(`Every latency below is measured the same way (TFLite WASM interpreter, 1 thread, wall-clock median of at least 120 Invoke() calls; the MobileNetV2 widths: median of 3 interleaved measurements).`);
  L.push(`Same final recipe for every model: ${o.finalRecipe.epochs} epochs on the first ${o.finalRecipe.subset} training images, Adam, cosine schedule, crop augmentation (padding ${o.finalRecipe.cropPadding}), seed ${o.finalRecipe.seed}; test accuracy on the 10,000 test images.`);
  L.push(`\`nas run\`: hard mode, ${o.strategy} search with a ${o.budgetMinutes}-minute wall budget on the default proxy task, then NetAdapt or compound scaling (proxy: ${o.proxyRecipe.epochs} epochs on ${o.proxyRecipe.subset} images, validated on ${o.proxyRecipe.validationSubset}), final training, export (.tflite float32 and int8, TF.js) with verification, and measurement. Wall time is the whole run.`);
  L.push('');
  L.push('| model | input | test acc. | measured latency (ms) | predicted (ms) | params | MMACs | wall time | note |');
  L.push('|---|---|---|---|---|---|---|---|---|');
  for (const f of family) {
    L.push(`| ${f.name} | ${f.input.height}x${f.input.width} | ${pct(f.testAccuracy)} | ${ms(f.measuredLatencyMs)} | ${ms(f.predictedLatencyMs)} | ${f.params.toLocaleString('en-US')} | ${(f.macs / 1e6).toFixed(2)} | ${mins(f.wallS)} | ${o.targets.some((t) => t.width === f.width) ? 'defines a target' : ''} |`);
  }
  for (const r of runs) {
    const st = r.searchTrials;
    const stages = Object.entries(r.stagesS).filter(([k, v]) => k !== 'done' && v >= 0.05 * 60).map(([k, v]) => `${k} ${mins(v)}`).join(', ');
    L.push(`| **${r.name}** (T = ${r.targetMs.toFixed(3)} ms) | ${r.input.height}x${r.input.width} | **${pct(r.testAccuracy)}** | ${ms(r.measuredLatencyMs)} | ${ms(r.predictedLatencyMs)} | ${Number.isFinite(r.params) ? r.params.toLocaleString('en-US') : 'n/a'} | ${Number.isFinite(r.macs) ? (r.macs / 1e6).toFixed(2) : 'n/a'} | ${mins(r.wallS)} | ${r.status}${r.error ? `: ${r.error}` : ''}; ${r.refinement === 'none' ? 'kept as searched (predicted within 10% under T)' : r.refinement}; search ${st.trained} trained / ${st.cached} cached / ${st.skipped} skipped / ${st.failed} failed; ${stages}; exports ${r.verified.join(', ') || 'none'} |`);
  }
  L.push('');
  L.push('Verdict at each target. The goal: a model more accurate than every MobileNetV2 width at equal or lower measured latency, i.e. every width that meets T.');
  L.push('Beside it, the delivered model against each width (accuracy difference in points, and how many times faster it runs):');
  L.push('');
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;
  for (const r of runs) {
    const within = family.filter((f) => f.measuredLatencyMs <= r.targetMs);
    const goal = r.status === 'succeeded' && r.metTarget && within.length > 0 && within.every((f) => r.testAccuracy > f.testAccuracy);
    const each = family.map((f) => `${f.name} ${signed(r.testAccuracy - f.testAccuracy)} pts at ${(f.measuredLatencyMs / r.measuredLatencyMs).toFixed(2)}x its speed`).join('; ');
    L.push(`- **T = ${r.targetMs.toFixed(3)} ms** (MobileNetV2-${r.targetWidth}): nas run ${r.status}, ${pct(r.testAccuracy)} test accuracy at ${ms(r.measuredLatencyMs)} ms measured (${r.metTarget ? 'within' : 'OVER'} T). ` +
      `Widths meeting T: ${within.map((f) => `${f.name} (${pct(f.testAccuracy)}, ${ms(f.measuredLatencyMs)} ms)`).join(', ') || 'none'}. ` +
      `Goal ${goal ? '**met**' : '**not met**'}${within.length === 0 ? ' (no width meets T)' : ''}. Against each width: ${each}.`);
  }
  L.push('');
  L.push(`Plot: \`bench/results/${SVG}\`; raw figures: \`bench/results/pipeline.json\`.`);
  L.push('');
  L.push(`![test accuracy vs measured latency](bench/results/${SVG})`);
  L.push('');
  writeBenchmarksSection(SECTION, L.join('\n') + '\n');
  log('wrote BENCHMARKS.md section');
}

await main();
