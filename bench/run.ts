// npm run bench:run [-- --seeds 1,2,3 --widths 0.35,0.5,0.75,1.0 --target-widths 0.35,0.75 --rows family,supernet,proxy,long
//                      (rows: family,supernet,scratch,proxy,long; none: only rewrite the report from the kept parts) --proxy-seeds 1 --budget-minutes 18 --supernet-trials 2000 --long-epochs 15 --reuse --no-write]
//
// The product's headline, measured with error bars: `nas run` (search ->
// refine -> final training -> verified export -> measured latency) against
// the hand-designed MobileNetV2 width family on Fashion-MNIST and the
// node-tflite-wasm device. The two targets are the wall-clock latencies of
// the small-input MobileNetV2 at --target-widths, measured here. Rows, each
// for every seed:
//   family:   every MobileNetV2 width trained with the final recipe;
//   supernet: `nas run --evaluator predictor` on the dataset's trained
//             supernet (search with its accuracy predictor, the best 8
//             re-scored by the supernet, weights inherited and fine-tuned
//             with the final recipe) - the "new target in minutes" path;
//   scratch:  the supernet row's architecture trained from scratch with the
//             same recipe (inherited weights against none, equal epochs);
//   proxy:    `nas run` with the proxy evaluator (evolution search with a
//             --budget-minutes wall budget, NetAdapt or compound scaling);
//   long:     the supernet run's architecture and MobileNetV2-1.0 trained
//             on all 55,000 images for --long-epochs (>= 15), so the
//             absolute accuracy can be set against published figures.
// Same final recipe for every short row (4 epochs on 20,000 images, Adam,
// crop padding 2; the seed varies). Every latency is measured the same way
// (TFLite interpreter, 1 thread, wall clock). Writes a table with mean +- sd
// over seeds, the verdict against every width that meets T, and an SVG.
// Parts are kept in bench/results/run.json (--reuse skips finished ones; --no-write spares BENCHMARKS.md, the parts are kept still).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunResult, runRun } from '../src/app/run.ts';
import type { NasEvent } from '../src/app/events.ts';
import { trainedSupernetFor } from '../src/app/supernet.ts';
import { dataPaths } from '../src/config/paths.ts';
import { loadDataset } from '../src/data/registry.ts';
import { describeCalibration, loadCalibratedPredictor } from '../src/latency/index.ts';
import { describeCpu, describeMachine } from '../src/latency/machine.ts';
import { trainWeights } from '../src/refine/finetune.ts';
import { measureOnDevice } from '../src/refine/measure.ts';
import { disposeWeights } from '../src/refine/prune.ts';
import { archId, fromWire, toWire } from '../src/space/archspec.ts';
import { archCost } from '../src/space/cost.ts';
import { resolveArch } from '../src/space/resolve.ts';
import type { ArchSpec, InputShape } from '../src/space/types.ts';
import { getSearchReport } from '../src/search/report.ts';
import { openDb } from '../src/store/db.ts';
import { copySupernet } from '../src/store/supernets.ts';
import { useTrainingBackend } from '../src/train/backend.ts';
import { defaultTrainConfig, type TrainConfig } from '../src/train/config.ts';
import { arg, commandLine, machineLine, writeBenchmarksSection } from './common.ts';
import { mean, sd, welchT } from './stats.ts';
import { chartSvg } from './svg.ts';

const SECTION = '## Search to model vs MobileNetV2 (bench:run)';
const RESULTS = join(import.meta.dirname, 'results', 'run.json');
const SVG = 'run-accuracy-latency.svg';
const flag = (name: string) => process.argv.includes(`--${name}`);
const log = (s: string) => process.stderr.write(`[bench:run ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** One trained and measured model. */
interface Part {
  name: string;
  seed: number;
  archId: string;
  spec: unknown;
  input: InputShape;
  testAccuracy: number;
  measuredLatencyMs: number;
  predictedLatencyMs: number;
  params: number;
  macs: number;
  wallS: number;
  at: string;
  loadAvg: [number, number];
  /** the CPU it ran on (vendor, family, model): parts kept across sessions may come from different hosts */
  cpu?: string;
  /** nas run rows */
  targetWidth?: number;
  targetMs?: number;
  status?: RunResult['status'];
  error?: string | null;
  metTarget?: boolean;
  refinement?: string;
  stagesS?: Record<string, number>;
}

interface Results {
  key: string;
  latencies: Record<string, number>;
  parts: Record<string, Part>;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');

async function main(): Promise<void> {
  const deviceId = arg('device', 'node-tflite-wasm');
  const seeds = arg('seeds', '1,2,3').split(',').map(Number);
  const proxySeeds = arg('proxy-seeds', seeds.join(',')).split(',').map(Number);
  const widths = arg('widths', '0.35,0.5,0.75,1.0').split(',').map(Number);
  const targetWidths = arg('target-widths', '0.35,0.75').split(',').map(Number);
  const rows = new Set(arg('rows', 'family,supernet,scratch,proxy,long').split(','));
  const budgetMinutes = Number(arg('budget-minutes', '18'));
  const supernetTrials = Number(arg('supernet-trials', '2000'));
  const longEpochs = Number(arg('long-epochs', '15'));
  const final = (seed: number): Partial<TrainConfig> => ({ epochs: 4, subset: 20000, optimizer: 'adam', cropPadding: 2, seed });
  const proxyRecipe: Partial<TrainConfig> = { epochs: 2, subset: 5000, validationSubset: 2000, optimizer: 'adam' };
  const write = !flag('no-write');
  const key = JSON.stringify({ deviceId, budgetMinutes, supernetTrials, longEpochs, final: final(0), proxyRecipe });
  for (const w of targetWidths) if (!widths.includes(w)) throw new Error(`target width ${w} is not among --widths ${widths.join(',')}`);

  const load0 = loadavg()[0];
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  const prior: Results | null = flag('reuse') && existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) as Results : null;
  const res: Results = prior && prior.key === key ? prior : { key, latencies: {}, parts: {} };
  if (prior && prior.key !== key) log('settings changed since bench/results/run.json: nothing reused');
  // parts are kept whatever --no-write says: it spares BENCHMARKS.md, not hours of training
  const save = () => writeFileSync(RESULTS, JSON.stringify(res, null, 2) + '\n');

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

  // 1. Every width's latency, before any training (three interleaved rounds, median); the targets come from these.
  const todo = widths.filter((w) => res.latencies[w] === undefined);
  const rounds: Record<string, number[]> = {};
  for (let round = 1; round <= 3; round++) for (const w of todo) (rounds[w] ??= []).push(await measure(mnv2(w), input, `MobileNetV2-${w} (round ${round})`));
  for (const w of todo) res.latencies[w] = rounds[w]!.sort((a, b) => a - b)[1]!;
  save();
  const targets = targetWidths.map((w) => ({ width: w, targetMs: res.latencies[w]! }));
  log(`targets: ${targets.map((t) => `${t.targetMs.toFixed(3)} ms (MobileNetV2-${t.width})`).join(', ')}`);

  const timed = async (id: string, make: () => Promise<Omit<Part, 'wallS' | 'at' | 'loadAvg'>>) => {
    if (res.parts[id]) { log(`${id}: reused`); return res.parts[id]!; }
    const t0 = Date.now(), l0 = loadavg()[0];
    const p = await make();
    res.parts[id] = { ...p, wallS: (Date.now() - t0) / 1000, at: new Date().toISOString(), loadAvg: [l0, loadavg()[0]], cpu: describeCpu(describeMachine()) };
    log(`${id}: test ${pct(p.testAccuracy)}, ${p.measuredLatencyMs.toFixed(3)} ms, ${((Date.now() - t0) / 60000).toFixed(1)} min`);
    save();
    return res.parts[id]!;
  };
  const trainPart = (name: string, spec: ArchSpec, config: Partial<TrainConfig>, latencyMs?: number) => async () => {
    const r = await trainWeights(spec, dataset, defaultTrainConfig(config), undefined, true);
    disposeWeights(r.weights);
    const cost = archCost(spec, input, K);
    return {
      name, seed: config.seed!, archId: archId(spec), spec: toWire(spec), input, testAccuracy: r.testAccuracy ?? NaN,
      measuredLatencyMs: latencyMs ?? await measure(spec, input, name), predictedLatencyMs: predictor.predict(spec, input, K).latencyMs,
      params: cost.params, macs: cost.macs,
    };
  };

  // 2. The MobileNetV2 family, final recipe, every seed.
  if (rows.has('family')) for (const seed of seeds) for (const w of widths) await timed(`family:${w}:${seed}`, trainPart(`MobileNetV2-${w}`, mnv2(w), final(seed), res.latencies[w]));

  // 3. `nas run` rows at each target, each in its own scratch store.
  const nasRun = async (evaluator: 'predictor' | 'proxy', t: { width: number; targetMs: number }, seed: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'nas-bench-run-'));
    const db = openDb(join(dir, 'bench.sqlite'));
    const stagesS: Record<string, number> = {};
    let current: string | null = null, since = 0;
    const close = (at: number) => { if (current) stagesS[current] = (stagesS[current] ?? 0) + (at - since) / 1000; };
    try {
      if (evaluator === 'predictor') {
        const store = openDb(dataPaths().store);
        try {
          const sn = trainedSupernetFor(store, { dataset: 'fashion-mnist', input, owner: null });
          if (!sn) throw new Error('no trained supernet for fashion-mnist: run `nas supernet train --dataset fashion-mnist` first');
          copySupernet(store, db, sn.id);
        } finally {
          store.close();
        }
      }
      const r = await runRun({
        dataset: 'fashion-mnist', deviceId, latencyTargetMs: t.targetMs, mode: 'hard', seed,
        search: evaluator === 'predictor'
          ? { evaluator, strategy: 'evolution', maxTrials: supernetTrials, strategyOptions: { population: 32, sampleSize: 8 } }
          : { strategy: 'evolution', maxTrials: 100000, maxWallMs: budgetMinutes * 60_000, strategyOptions: { population: 16, sampleSize: 4 } },
        proxy: proxyRecipe, final: final(seed), netadapt: { maxSteps: 8 }, hardRetries: 2,
      }, {
        deps: { db, predictor, outDir: join(dir, 'models'), datasetOptions: { cacheDir: dataPaths().datasets }, search: { datasetOptions: { cacheDir: dataPaths().datasets } } },
        onEvent: (e: NasEvent) => {
          if (e.type === 'stage-changed') { const at = Date.now(); close(at); current = e.stage; since = at; log(`  stage ${e.stage}${e.detail ? `: ${e.detail}` : ''}`); }
          else if (e.type === 'log') log(`  ${e.message}`);
        },
      });
      close(Date.now());
      const ref = r.card?.run?.refinement;
      const cost = r.spec && r.input ? archCost(r.spec, r.input, K) : null;
      return {
        name: `nas run (${evaluator === 'predictor' ? 'supernet' : 'proxy'}) @ MobileNetV2-${t.width}`, seed, archId: r.spec ? archId(r.spec) : 'n/a',
        spec: r.spec ? toWire(r.spec) : null, input: r.input ?? input, testAccuracy: r.card?.run?.testAccuracy ?? NaN,
        measuredLatencyMs: r.measuredLatencyMs ?? NaN, predictedLatencyMs: r.predictedLatencyMs ?? NaN, params: cost?.params ?? NaN, macs: cost?.macs ?? NaN,
        targetWidth: t.width, targetMs: t.targetMs, status: r.status, error: r.error, metTarget: r.metTarget,
        refinement: ref ? `${ref.method}${ref.method === 'compound-scaling' ? ` (phi ${Number(ref.detail.phi).toFixed(2)})` : ''}` : 'n/a',
        stagesS, ...(r.searchId ? { trials: getSearchReport(db, r.searchId).counts } : {}),
      };
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  if (rows.has('supernet')) for (const seed of seeds) for (const t of targets) await timed(`supernet:${t.width}:${seed}`, () => nasRun('predictor', t, seed));
  // the supernet run's architecture trained from scratch with the same recipe: what inheriting the weights is worth
  if (rows.has('scratch')) {
    for (const seed of seeds) for (const t of targets) {
      const p = res.parts[`supernet:${t.width}:${seed}`];
      if (p?.spec && p.status === 'succeeded') await timed(`scratch:${t.width}:${seed}`, trainPart(`the same architecture from scratch @ MobileNetV2-${t.width}`, fromWire(p.spec), final(seed), p.measuredLatencyMs));
    }
  }
  if (rows.has('proxy')) for (const seed of proxySeeds) for (const t of targets) await timed(`proxy:${t.width}:${seed}`, () => nasRun('proxy', t, seed));

  // 4. Long recipe: the supernet run's architecture (seed 1) and MobileNetV2-1.0, all training images.
  if (rows.has('long')) {
    const long = (seed: number): Partial<TrainConfig> => ({ epochs: longEpochs, optimizer: 'adam', cropPadding: 2, seed, validateEvery: longEpochs });
    for (const t of targets) {
      const winner = res.parts[`supernet:${t.width}:1`];
      if (winner?.spec) await timed(`long:winner:${t.width}`, trainPart(`nas run (supernet) @ MobileNetV2-${t.width}, long recipe`, fromWire(winner.spec), long(1), winner.measuredLatencyMs));
    }
    await timed('long:mnv2-1.0', trainPart('MobileNetV2-1.0, long recipe', mnv2(1), long(1), res.latencies[1]));
  }
  if (!write) { log('--no-write: BENCHMARKS.md untouched'); return; }
  writeReport(res, { widths, targets, seeds, proxySeeds, budgetMinutes, supernetTrials, longEpochs, calibration: describeCalibration(predictor.calibration), load0, load1: loadavg()[0] });
}

interface ReportOptions {
  widths: number[]; targets: { width: number; targetMs: number }[]; seeds: number[]; proxySeeds: number[];
  budgetMinutes: number; supernetTrials: number; longEpochs: number; calibration: string; load0: number; load1: number;
}

function group(res: Results, prefix: string): Part[] {
  return Object.entries(res.parts).filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
}

const ms = (xs: number[]) => (xs.length > 1 ? `${mean(xs).toFixed(3)} ± ${sd(xs).toFixed(3)}` : xs.length ? xs[0]!.toFixed(3) : 'n/a');
const accs = (ps: Part[]) => `${(100 * mean(ps.map((p) => p.testAccuracy))).toFixed(2)}${ps.length > 1 ? ` ± ${(100 * sd(ps.map((p) => p.testAccuracy))).toFixed(2)}` : ''}%`;

function writeReport(res: Results, o: ReportOptions): void {
  const family = o.widths.map((w) => ({ w, ps: group(res, `family:${w}:`) })).filter((f) => f.ps.length > 0);
  const runsOf = (kind: string) => o.targets.map((t) => ({ t, ps: group(res, `${kind}:${t.width}:`) })).filter((x) => x.ps.length > 0);
  const L = [SECTION, ''];
  L.push(`Command: \`${commandLine('bench:run')}\` (${new Date().toISOString().slice(0, 16)}Z).`);
  L.push(machineLine(o.load0, o.load1) + '.');
  const all = Object.values(res.parts);
  const ats = all.map((p) => p.at).sort();
  if (ats.length) L.push(`Parts finished ${ats[0]!.slice(0, 16)}Z to ${ats.at(-1)!.slice(0, 16)}Z (kept in \`bench/results/run.json\`); 1-minute load average at their starts and ends ${Math.min(...all.flatMap((p) => p.loadAvg)).toFixed(2)}-${Math.max(...all.flatMap((p) => p.loadAvg)).toFixed(2)}.`);
  // parts kept across sessions: which CPU each came from (wall times compare only within one CPU)
  const cpus = [...new Set(all.map((p) => p.cpu ?? 'not recorded'))];
  if (all.length && (cpus.length > 1 || cpus[0] !== describeCpu(describeMachine()))) {
    L.push(`Parts by CPU: ${cpus.map((c) => `${c}: ${Object.entries(res.parts).filter(([, p]) => (p.cpu ?? 'not recorded') === c).map(([k]) => k).join(', ')}`).join('; ')}. Wall times compare only within one CPU; accuracies do not depend on it; latencies are the targets' and each part's own measurement.`);
  }
  L.push('');
  L.push(`Fashion-MNIST (28x28x1, 10 classes), device node-tflite-wasm (${o.calibration}). Targets: the wall-clock latencies of the small-input MobileNetV2 at widths ${o.targets.map((t) => t.width).join(' and ')}, measured here before any training: ${o.targets.map((t) => `${t.targetMs.toFixed(3)} ms`).join(' and ')}. Every latency is measured the same way (TFLite WASM interpreter, 1 thread, wall clock).`);
  L.push(`Same final recipe for every short row: 4 epochs on the first 20,000 training images, Adam, cosine schedule, crop padding 2; seeds ${o.seeds.join(', ')}; test accuracy on the 10,000 test images. mean ± sd over seeds.`);
  L.push(`- **nas run (supernet)**: hard mode; evolution search of ${o.supernetTrials} candidates scored by the supernet's accuracy predictor, the best 8 re-scored by the supernet, the architecture kept and its weights inherited from the supernet, fine-tuned with the final recipe, exported (.tflite float32 and int8, TF.js) with verification and measured. The supernet was trained once for the dataset (its time is not in these rows; see bench:fidelity).`);
  // the seeds the kept proxy parts ran with (a report rewritten by --rows none has no proxy seeds of its own)
  const proxySeedsRun = [...new Set(runsOf('proxy').flatMap(({ ps }) => ps.map((p) => p.seed)))].sort((a, b) => a - b);
  if (proxySeedsRun.length) L.push(`- **nas run (proxy)**: hard mode; evolution search with a ${o.budgetMinutes}-minute wall budget on the default proxy task, then NetAdapt or compound scaling (refinement "none": the search's best was kept), final training, export, measurement; seeds ${proxySeedsRun.join(', ')}.`);
  L.push('');
  L.push('| model | seeds | test accuracy | measured latency (ms) | MMACs | wall time per run | note |');
  L.push('|---|---|---|---|---|---|---|');
  for (const f of family) L.push(`| MobileNetV2-${f.w} | ${f.ps.length} | ${accs(f.ps)} | ${res.latencies[f.w]!.toFixed(3)} | ${(f.ps[0]!.macs / 1e6).toFixed(2)} | ${(mean(f.ps.map((p) => p.wallS)) / 60).toFixed(1)} min | ${o.targets.some((t) => t.width === f.w) ? 'defines a target' : ''} |`);
  for (const kind of ['supernet', 'proxy']) {
    for (const { t, ps } of runsOf(kind)) {
      const ok = ps.filter((p) => p.status === 'succeeded');
      const stages = ok.length ? Object.entries(ok[0]!.stagesS ?? {}).map(([k]) => `${k} ${(mean(ok.map((p) => p.stagesS?.[k] ?? 0)) / 60).toFixed(1)} min`).join(', ') : '';
      L.push(`| **nas run (${kind})** @ T = ${t.targetMs.toFixed(3)} ms | ${ps.length} | **${accs(ok)}** | ${ms(ok.map((p) => p.measuredLatencyMs))} | ${ms(ok.map((p) => p.macs / 1e6))} | ${(mean(ps.map((p) => p.wallS)) / 60).toFixed(1)} min | ${ps.length - ok.length ? `${ps.length - ok.length} not delivered (${ps.filter((p) => p.status !== 'succeeded').map((p) => p.error).join('; ')}); ` : ''}${[...new Set(ok.map((p) => p.refinement))].join(', ')}; mean stage times: ${stages} |`);
    }
  }
  const scratch = runsOf('scratch');
  if (scratch.length) {
    L.push('');
    L.push('Fine-tuning from inherited weights against training from scratch, same architecture, same recipe (4 epochs on 20,000 images), same seeds:');
    L.push('');
    L.push('| target | from the supernet\'s weights | from scratch | difference (points), per seed |');
    L.push('|---|---|---|---|');
    for (const { t, ps } of scratch) {
      const inh = ps.map((p) => res.parts[`supernet:${t.width}:${p.seed}`]!);
      L.push(`| T = ${t.targetMs.toFixed(3)} ms | ${accs(inh)} | ${accs(ps)} | ${ps.map((p, i) => `${((inh[i]!.testAccuracy - p.testAccuracy) * 100).toFixed(2)}`).join(', ')} |`);
    }
  }
  const longs = group(res, 'long:');
  if (longs.length) {
    L.push('');
    L.push(`Long recipe (all 55,000 training images, ${o.longEpochs} epochs, Adam, crop padding 2, seed 1; published Fashion-MNIST figures in its benchmark table: MobileNet 95.0%, ResNet18 94.9%):`);
    L.push('');
    L.push('| model | test accuracy | measured latency (ms) | wall time |');
    L.push('|---|---|---|---|');
    for (const p of longs) L.push(`| ${p.name} | ${pct(p.testAccuracy)} | ${p.measuredLatencyMs.toFixed(3)} | ${(p.wallS / 60).toFixed(1)} min |`);
  }
  L.push('');
  L.push('Verdict at each target: the goal is a model more accurate than every MobileNetV2 width that meets T (mean over seeds).');
  L.push('');
  for (const kind of ['supernet', 'proxy']) {
    for (const { t, ps } of runsOf(kind)) {
      const ok = ps.filter((p) => p.status === 'succeeded');
      const within = family.filter((f) => res.latencies[f.w]! <= t.targetMs);
      const m = mean(ok.map((p) => p.testAccuracy));
      // no width trained in this run (--rows without family): nothing to judge against, so no verdict
      if (family.length === 0) {
        L.push(`- **T = ${t.targetMs.toFixed(3)} ms, nas run (${kind})**: ${accs(ok)} over ${ok.length} of ${ps.length} runs delivered within T at ${ms(ok.map((p) => p.measuredLatencyMs))} ms. No MobileNetV2 width was trained in this run (\`--rows\` without \`family\`): **no verdict**.`);
        continue;
      }
      const goal = ok.length === ps.length && ok.every((p) => p.metTarget) && within.every((f) => m > mean(f.ps.map((p) => p.testAccuracy)));
      const each = within.map((f) => {
        const d = (m - mean(f.ps.map((p) => p.testAccuracy))) * 100;
        // several seeds on both sides: whether the gap is more than seed noise (Welch, two-sided)
        const test = ok.length >= 2 && f.ps.length >= 2 ? welchT(ok.map((p) => p.testAccuracy), f.ps.map((p) => p.testAccuracy)) : null;
        return `MobileNetV2-${f.w} ${d >= 0 ? '+' : ''}${d.toFixed(2)} pts${test ? ` (${test.method}, p = ${test.p.toFixed(3)})` : ''}`;
      }).join(', ');
      // one seed on either side is an anecdote: say so beside the verdict
      const fewSeeds = ok.length < 2 || within.some((f) => f.ps.length < 2);
      L.push(`- **T = ${t.targetMs.toFixed(3)} ms, nas run (${kind})**: ${accs(ok)} over ${ok.length} of ${ps.length} runs delivered within T at ${ms(ok.map((p) => p.measuredLatencyMs))} ms. Widths meeting T: ${each || 'none'}. Goal ${goal ? '**met**' : '**not met**'}${fewSeeds ? ' on one seed (no error bars yet: an anecdote until more seeds are in)' : ''}.`);
    }
  }
  writeFileSync(join(import.meta.dirname, 'results', SVG), chartSvg({
    title: 'Fashion-MNIST test accuracy vs measured latency (node-tflite-wasm, this host)',
    xLabel: 'measured latency (ms, TFLite interpreter, 1 thread)', yLabel: 'test accuracy',
    series: [
      { name: 'MobileNetV2 widths (mean of seeds)', style: 'line', points: family.map((f) => ({ x: res.latencies[f.w]!, y: mean(f.ps.map((p) => p.testAccuracy)), label: String(f.w) })) },
      ...['supernet', 'proxy'].map((kind) => ({ name: `nas run (${kind})`, style: 'points' as const, points: runsOf(kind).flatMap(({ ps }) => ps.filter((p) => p.status === 'succeeded').map((p) => ({ x: p.measuredLatencyMs, y: p.testAccuracy }))) })),
    ],
    vLines: o.targets.map((t) => ({ x: t.targetMs, label: `T = MNv2-${t.width}` })),
  }));
  L.push('');
  L.push(`Plot: \`bench/results/${SVG}\`; raw figures: \`bench/results/run.json\`.`);
  L.push('');
  L.push(`![test accuracy vs measured latency](bench/results/${SVG})`);
  L.push('');
  writeBenchmarksSection(SECTION, L.join('\n') + '\n');
  log('wrote BENCHMARKS.md section');
}

await main();
