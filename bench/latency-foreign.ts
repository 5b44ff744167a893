// bench:latency's "foreign host" section: the shipped tables were measured on
// one CPU; this host may have another. On this host, from a fresh data
// directory:
//   1. node-tflite-wasm: the shipped table with this host's relative-unit
//      calibration ("before adaptation"); the quick adaptation (a stratified
//      subset measured here, the rest transferred; minutes spent), with each
//      transfer method; the full local profile (resumed from the quick one).
//      Held-out random networks (none among any calibration network) are
//      measured twice, after the quick and after the full profile, each by
//      both truths: reference-interleaved (median ratio to the reference
//      network over rounds, by process CPU time) x the reference's wall time
//      measured right before, and the plain wall-clock median of single
//      Invoke() calls. Every stage is scored against the truth measured
//      closest in time.
//   2. node-tfjs-wasm, a real different device: the tflite-wasm table with a
//      tfjs-wasm calibration, its quick transfer to tfjs-wasm, and the shipped
//      tfjs-wasm table (measured on the table machine) with its calibration.
//   3. Chromium with 4x DevTools CPU throttling as a slower phone-class
//      device: the profiling page's quick mode, then held-out networks on the
//      same page (latency-browser.ts).
// Kendall tau per input size for every row. Rows are kept in
// bench/results/latency-foreign.json.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaptDevice, type AdaptResult } from '../src/app/adapt.ts';
import { MEASURE_SETTINGS } from '../src/latency/bundle.ts';
import { shippedPaths } from '../src/config/paths.ts';
import { adaptedTable } from '../src/latency/adapted-table.ts';
import { applyMapping, describeMapping, tableNetworkMs, type HostCalibration } from '../src/latency/calibration.ts';
import { calibrateHost, calibrationNetworks, fitCalibration } from '../src/latency/calibration-run.ts';
import { measureWallClock } from '../src/latency/calibration-wall.ts';
import { loadDevice, type DeviceProfile } from '../src/latency/device.ts';
import { calibrationIds } from '../src/latency/evaluate.ts';
import { decomposePlan } from '../src/latency/kernels.ts';
import { describeCpu, describeMachine } from '../src/latency/machine.ts';
import { createPredictor } from '../src/latency/predictor.ts';
import { measureReference } from '../src/latency/reference.ts';
import { createMeasurer, MeasurementError, type LatencyRuntime } from '../src/latency/runtime.ts';
import { createRuntime } from '../src/latency/runtimes/index.ts';
import { accuracy, median } from '../src/latency/stats.ts';
import { loadTable, type LatencyTable } from '../src/latency/table.ts';
import type { TransferMethod } from '../src/latency/transfer.ts';
import { archId } from '../src/space/archspec.ts';
import { expandNetwork } from '../src/space/network.ts';
import { parseInputShape } from '../src/space/resolve.ts';
import { createRng } from '../src/space/rng.ts';
import { sampleArch } from '../src/space/sampler.ts';
import { skeletonFor } from '../src/space/skeleton.ts';
import { BROWSER_RAW, HELD_OUT_ROUNDS, throttledBrowserRun, type BrowserResult } from './latency-browser.ts';
import { machineLine } from './common.ts';

const FOREIGN_SECTION = '## Latency on a foreign host: adapt, do not refuse (bench:latency)';
const FOREIGN_PARTIAL_SECTION = '## Latency on a foreign host, partial run (bench:latency with parts left out)';
const isPartial = (o: ForeignOptions) => Boolean(o.skipFull || o.skipTfjs || o.skipBrowser || o.skipTflite);
/** A run that leaves parts out writes its own section (and results file), keeping the complete run's. */
export const foreignHeading = (o: ForeignOptions): string => (isPartial(o) ? FOREIGN_PARTIAL_SECTION : FOREIGN_SECTION);
const SEED = 20261206;

export interface ForeignOptions {
  /** held-out networks per input of node-tflite-wasm (default 20: 60 in all) */
  perInput: number;
  /** held-out networks per input of node-tfjs-wasm (default 20) */
  tfjsPerInput: number;
  /** held-out networks on the throttled page (default 40) */
  browserHeldOut: number;
  /** CPU throttling rate of the Chromium device (default 4) */
  rate: number;
  /** leave out parts (time) */
  skipFull?: boolean;
  skipTfjs?: boolean;
  skipBrowser?: boolean;
  /** leave out node-tflite-wasm (e.g. to rerun only the throttled page) */
  skipTflite?: boolean;
  command: string;
}

interface Truth {
  input: string;
  id: string;
  kernels: string[];
  /** reference-interleaved: median ratio to the reference */
  ratio: number;
  /** the reference's wall time right before (ms) */
  referenceMs: number;
  /** plain wall-clock median of single calls (NaN: refused) */
  plainMs: number;
  /** the same single calls' median by process CPU time (plain / cpu > 1: the calls waited for the CPU) */
  plainCpuMs: number;
  load: number;
}

interface Row {
  device: string;
  stage: string;
  table: string;
  minutes: number | null;
  /** per network: [input, predicted ratio, truth] */
  points: { input: string; predictedRatio: number; truth: Truth | { ratio: number; referenceMs: number; plainMs: number } }[];
  note?: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** "fits", or how it does not: the worst network and the classes off by more than 10% (the worst named). */
function fitNote(c: HostCalibration): string {
  if (c.fits) return 'fits';
  const off = c.classes.filter((k) => k.share >= 0.01 && Math.abs(k.error) > 0.1).sort((a, b) => Math.abs(b.error) - Math.abs(a.error));
  return `does not fit: worst network ${pct(c.fit.maxAbsRelErr)} off; ${off.length} classes off by > 10%${off.length > 0 ? ` (worst ${off[0].cls} ${off[0].error > 0 ? '+' : ''}${pct(off[0].error)})` : ''}`;
}
const log = (m: string) => process.stderr.write(`[foreign] ${m}\n`);

/** Random networks of each input not among the excluded ids, measured by both truths. */
async function measureTruths(runtime: LatencyRuntime, table: LatencyTable, perInput: number, exclude: Set<string>, label: string): Promise<Truth[]> {
  const measurer = await createMeasurer(runtime, { referenceMs: 1, networkRepeats: 21 });
  const out: Truth[] = [];
  try {
    for (const [i, t] of table.inputs.entries()) {
      const input = parseInputShape(t.input);
      const rng = createRng(SEED + i);
      for (let draws = 0, n = 0; n < perInput && draws < perInput * 20; draws++) {
        const spec = sampleArch(skeletonFor(input), rng);
        const id = archId(spec);
        if (exclude.has(id)) continue;
        n++;
        const plan = expandNetwork(spec, input, t.numClasses);
        const reference = await measureReference(runtime);
        const ratio = (await measurer.measure(plan, 21)).medianMs;
        const model = await runtime.prepare(plan);
        let plainMs = Number.NaN;
        let plainCpuMs = Number.NaN;
        try {
          plainMs = (await measureWallClock(model, { warmup: 5, calls: 40, passes: 1, dropPreempted: false, maxAttempts: 1, tolerance: Number.MAX_VALUE })).plainMedianMs;
          const cpu: number[] = [];
          for (let k = 0; k < 15; k++) cpu.push(await model.timeBatch(1, 'cpu'));
          plainCpuMs = median(cpu);
        } catch (e) {
          if (!(e instanceof MeasurementError)) throw e;
        } finally {
          model.dispose();
        }
        out.push({ input: t.input, id, kernels: decomposePlan(plan).map((d) => d.key), ratio, referenceMs: reference.ms, plainMs, plainCpuMs, load: loadavg()[0] });
      }
      log(`${label}: ${t.input} measured (load ${loadavg()[0].toFixed(2)})`);
    }
  } finally {
    measurer.close();
  }
  return out;
}

/** The table + calibration's prediction of each truth network, in reference units of this host. */
function predictRatios(table: LatencyTable, cal: HostCalibration, truths: Truth[]): Row['points'] {
  const p = createPredictor(table);
  return truths.map((t) => {
    const n = tableNetworkMs(p.predictKernels(t.kernels.map((key) => decomposeKey(key))));
    return { input: t.input, predictedRatio: applyMapping(cal.mapping, n.tableMs / table.measure.referenceMs, n.conv1x1TableMs / table.measure.referenceMs), truth: t };
  });
}

const decomposeKey = (key: string) => ({ key, kernel: parseKey(key), node: '' });
import { parseKernelKey as parseKey } from '../src/latency/kernels.ts';

interface Scores { n: number; within10: number; within10Plain: number; nPlain: number; medianRatio: number; tau: number; tauByInput: Record<string, number> }

function score(points: Row['points']): Scores {
  const pred = points.map((p) => p.predictedRatio * p.truth.referenceMs);
  const inter = points.map((p) => p.truth.ratio * p.truth.referenceMs);
  const a = accuracy(pred, inter);
  const withPlain = points.map((p, i) => [pred[i], p.truth.plainMs]).filter(([, t]) => Number.isFinite(t));
  const ap = withPlain.length > 0 ? accuracy(withPlain.map(([p]) => p), withPlain.map(([, t]) => t)) : undefined;
  const tauByInput: Record<string, number> = {};
  for (const inp of new Set(points.map((p) => p.input))) {
    const idx = points.map((p, i) => (p.input === inp ? i : -1)).filter((i) => i >= 0);
    tauByInput[inp] = idx.length > 2 ? accuracy(idx.map((i) => pred[i]), idx.map((i) => inter[i])).kendallTau : Number.NaN;
  }
  return { n: a.n, within10: a.within10, within10Plain: ap?.within10 ?? Number.NaN, nPlain: withPlain.length, medianRatio: median(points.map((p, i) => inter[i] / pred[i])), tau: a.kendallTau, tauByInput };
}

/** The transferred table rebuilt from an adaptation's measurements with one transfer method, and its calibration. */
function withMethod(device: DeviceProfile, source: LatencyTable, r: AdaptResult, method: TransferMethod): { table: LatencyTable; cal: HostCalibration } {
  const m = r.measurements;
  const table = adaptedTable({
    source, device: r.table.device, machine: r.table.machine, measure: m.measure, measured: m.kernels, measuredS: 0, method,
    networks: m.host.networks.map((n) => ({ kernels: n.kernels, measuredMs: n.measuredRatio * m.measure.referenceMs })),
  });
  return { table, cal: fitCalibration(device, table, m.host) };
}

function excludedIds(table: LatencyTable): Set<string> {
  const targets = table.inputs.map((t) => ({ skeleton: skeletonFor(parseInputShape(t.input)), input: parseInputShape(t.input) }));
  const ids = calibrationIds(targets, table.calibration?.networks ?? 0, table.calibration?.seed ?? 1);
  for (const c of calibrationNetworks(table)) ids.add(c.name);
  return ids;
}

async function tfliteRows(o: ForeignOptions, rows: Row[]): Promise<void> {
  const device = loadDevice('node-tflite-wasm');
  const shipped = loadTable(device.id, shippedPaths.latencyTables);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-foreign-'));
  const runtime = await createRuntime(device.runtime);
  const exclude = excludedIds(shipped);
  log('calibrating the shipped table to this host (relative units)');
  const t0 = Date.now();
  const before = await calibrateHost({ device, table: shipped, runtime });
  const calMin = (Date.now() - t0) / 60_000;
  log(`shipped table: fits ${before.fits}${before.misfit ? ` (${before.misfit})` : ''}`);
  const tq = Date.now();
  const quick = await adaptDevice({ device, source: { table: shipped, shipped: true }, runtime, dataDir, quickOnly: true, onEvent: (e) => { if (e.type === 'adapt-table' || e.type === 'adapt-started') log(JSON.stringify(e).slice(0, 300)); } });
  const quickMin = (Date.now() - tq) / 60_000;
  for (const c of calibrationNetworks(quick.table)) exclude.add(c.name);
  const truth1 = await measureTruths(runtime, shipped, o.perInput, exclude, 'held-out after the quick profile');
  rows.push({ device: device.id, stage: 'before adaptation: shipped table + relative calibration', table: 'shipped', minutes: calMin, points: predictRatios(shipped, before, truth1), note: fitNote(before) });
  // the shipped table calibrated once more, right after the held-out networks: does the "before" row depend on the minute it was calibrated?
  const beforeAgain = await calibrateHost({ device, table: shipped, runtime });
  rows.push({ device: device.id, stage: '  shipped table, calibrated again right after the held-out measurement', table: 'shipped', minutes: null, points: predictRatios(shipped, beforeAgain, truth1), note: `${fitNote(beforeAgain)}; ${describeMapping(beforeAgain.mapping)} (first: ${describeMapping(before.mapping)})` });
  const prov = quick.table.provenance!;
  rows.push({
    device: device.id, stage: `after the quick subset (${prov.measuredKernels} of ${prov.totalKernels} kernels, ${prov.transfer?.method} transfer, chosen by cross-validation)`, table: 'transferred',
    minutes: calMin + quickMin, points: predictRatios(quick.table, quick.calibration, truth1),
    note: `expected ${pct(prov.expectedAccuracy?.within10 ?? Number.NaN)}; CV weighted error ${prov.transfer?.crossValidation.map((c) => `${c.method} ${pct(c.weightedErr)}`).join(', ')}`,
  });
  for (const method of ['per-class', 'features'] as const) {
    const w = withMethod(device, shipped, quick, method);
    rows.push({ device: device.id, stage: `  quick subset, ${method} transfer`, table: 'transferred', minutes: null, points: predictRatios(w.table, w.cal, truth1) });
  }
  // the quick table against the second measurement of the same networks, and how far the two measurements agree
  const againRows = (truth2: Truth[], minutesApart: number, extra: Row[] = []) => {
    rows.push({ device: device.id, stage: '  quick subset, against the second measurement', table: 'transferred', minutes: null, points: predictRatios(quick.table, quick.calibration, truth2) }, ...extra);
    const repeat = accuracy(truth2.map((t) => t.ratio), truth1.map((t) => t.ratio));
    rows.push({ device: device.id, stage: `  (the same networks measured twice, ${minutesApart.toFixed(0)} min apart: ${pct(repeat.within10)} of ratios within ±10%)`, table: '-', minutes: null, points: [] });
  };
  if (o.skipFull) {
    // no full profile: measure the same held-out networks again right away, so the truth's own repeatability is known
    const tr = Date.now();
    const again = await measureTruths(runtime, shipped, o.perInput, exclude, 'held-out, second measurement');
    againRows(again, (Date.now() - tr) / 60_000);
    return void (await runtime.close());
  }
  const tf = Date.now();
  const full = await adaptDevice({ device, source: { table: shipped, shipped: true }, runtime, dataDir, onEvent: (e) => { if (e.type === 'adapt-progress' && e.done % 500 === 0) log(`full: ${e.done}/${e.total}`); } });
  const fullMin = (Date.now() - tf) / 60_000;
  const truth2 = await measureTruths(runtime, shipped, o.perInput, exclude, 'held-out after the full profile');
  rows.push({ device: device.id, stage: 'after the full profile (resumed from the quick one)', table: 'full', minutes: calMin + quickMin + fullMin, points: predictRatios(full.table, full.calibration, truth2) });
  againRows(truth2, (tf - tq) / 60_000 + fullMin, [{ device: device.id, stage: '  shipped table, against the second measurement', table: 'shipped', minutes: null, points: predictRatios(shipped, before, truth2) }]);
  await runtime.close();
}

async function tfjsRows(o: ForeignOptions, rows: Row[]): Promise<void> {
  const device = loadDevice('node-tfjs-wasm');
  const tflite = loadTable('node-tflite-wasm', shippedPaths.latencyTables);
  const shippedTfjs = loadTable(device.id, shippedPaths.latencyTables);
  const source = { ...tflite, inputs: tflite.inputs.filter((i) => shippedTfjs.inputs.some((x) => x.input === i.input)) };
  const runtime = await createRuntime(device.runtime);
  const t0 = Date.now();
  const asIs = await calibrateHost({ device, table: source, runtime });
  const calMin = (Date.now() - t0) / 60_000;
  const tq = Date.now();
  const quick = await adaptDevice({ device, source: { table: source, shipped: true }, runtime, dataDir: mkdtempSync(join(tmpdir(), 'bench-foreign-tfjs-')), quickOnly: true });
  const quickMin = (Date.now() - tq) / 60_000;
  const own = await calibrateHost({ device, table: shippedTfjs, runtime });
  const exclude = new Set([...excludedIds(source), ...excludedIds(shippedTfjs)]);
  const truth = await measureTruths(runtime, shippedTfjs, o.tfjsPerInput, exclude, 'tfjs-wasm held-out');
  const prov = quick.table.provenance!;
  rows.push({ device: device.id, stage: 'the tflite-wasm table + relative calibration on tfjs-wasm', table: 'shipped (another runtime)', minutes: calMin, points: predictRatios(source, asIs, truth), note: fitNote(asIs) });
  rows.push({ device: device.id, stage: `quick transfer from the tflite-wasm table (${prov.measuredKernels} of ${prov.totalKernels} kernels, ${prov.transfer?.method})`, table: 'transferred', minutes: calMin + quickMin, points: predictRatios(quick.table, quick.calibration, truth), note: `expected ${pct(prov.expectedAccuracy?.within10 ?? Number.NaN)}` });
  rows.push({ device: device.id, stage: "its own shipped table (the table machine's) + relative calibration", table: 'shipped', minutes: null, points: predictRatios(shippedTfjs, own, truth), note: fitNote(own) });
  await runtime.close();
}

function browserRows(r: BrowserResult, rows: Row[]): void {
  const p = r.table.provenance!;
  rows.push({
    device: `Chromium ${r.rate}x throttled (tflite-browser)`, stage: `quick mode of the profiling page (${p.measuredKernels} of ${p.totalKernels} kernels + ${r.table.calibration?.networks ?? 0} networks)`,
    table: 'transferred (upload)', minutes: r.quickMinutes,
    points: r.networks.map((n) => ({ input: n.input, predictedRatio: n.predictedRatio, truth: { ratio: n.ratio, referenceMs: n.referenceMs, plainMs: n.plainMs } })),
    note: `expected ${pct(p.expectedAccuracy?.within10 ?? Number.NaN)}; page: ${r.pageSummary || 'n/a'}; ${r.userAgent.replace(/\s*\(.*?\)\s*/g, ' ').slice(0, 60)}`,
  });
  // how steady the page's speed was: each network's batch time against its ratio x the reference's median (1 = the usual speed)
  const speed = r.networks.map((n) => n.plainMs / (n.ratio * n.referenceMs)).sort((a, b) => a - b);
  const q = (f: number) => speed[Math.min(speed.length - 1, Math.floor(f * speed.length))].toFixed(2);
  rows.push({ device: `Chromium ${r.rate}x throttled (tflite-browser)`, stage: `  (held-out measurement: ${r.heldOutRounds}; network time / (ratio x the reference's median) 5-50-95%: ${q(0.05)} ${q(0.5)} ${q(0.95)})`, table: '-', minutes: null, points: [] });
  rows.push({ device: `Chromium ${r.rate}x throttled (tflite-browser)`, stage: `  (the same networks measured twice on the page, ${r.repeat.minutes.toFixed(0)} min apart: ${pct(r.repeat.within10)} of ratios within ±10%)`, table: '-', minutes: null, points: [] });
  for (const sc of r.schemes) {
    rows.push({ device: `Chromium ${r.rate}x throttled (tflite-browser)`, stage: `  (${sc.name}, ${MEASURE_SETTINGS.quick.repeats} rounds, two passes: ${pct(sc.within10)} of ratios within ±10%; ${sc.secondsPerPass.toFixed(0)} s per pass)`, table: '-', minutes: null, points: [] });
  }
}

export async function foreignHostSection(o: ForeignOptions): Promise<string> {
  const load0 = loadavg()[0];
  const tStart = Date.now();
  const rows: Row[] = [];
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(loadavg()[0]), 10_000);
  // each part on its own: a part that fails is reported as such, the others still run
  const part = async (name: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (e) {
      log(`${name} failed: ${(e as Error).stack ?? e}`);
      rows.push({ device: name, stage: `FAILED: ${(e as Error).message.split('\n')[0]}`, table: '-', minutes: null, points: [] });
    }
  };
  try {
    if (!o.skipTflite) await part('node-tflite-wasm', () => tfliteRows(o, rows));
    if (!o.skipTfjs) await part('node-tfjs-wasm', () => tfjsRows(o, rows));
    if (!o.skipBrowser) {
      await part(`Chromium ${o.rate}x throttled`, async () => {
        const r = await throttledBrowserRun({ rate: o.rate, heldOut: o.browserHeldOut, seed: SEED + 77, log });
        mkdirSync('bench/results', { recursive: true });
        writeFileSync(BROWSER_RAW, JSON.stringify({ at: new Date().toISOString(), machine: describeMachine(), rate: r.rate, ...r.raw }) + '\n');
        log(`the page's measurements as they came: ${BROWSER_RAW} (npm run bench:latency-replay refits tables from them)`);
        browserRows(r, rows);
      });
    }
  } finally {
    clearInterval(sampler);
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(isPartial(o) ? 'bench/results/latency-foreign-partial.json' : 'bench/results/latency-foreign.json', JSON.stringify({ at: new Date().toISOString(), machine: describeMachine(), rows }, null, 1) + '\n');
  const shipped = loadTable('node-tflite-wasm', shippedPaths.latencyTables);
  const here = describeMachine();
  const load1 = loadavg()[0];
  const lines = [foreignHeading(o), ''];
  if (isPartial(o)) lines.push(`Left out: ${[o.skipTflite && 'node-tflite-wasm', o.skipFull && !o.skipTflite && 'the full profile', o.skipTfjs && 'node-tfjs-wasm', o.skipBrowser && 'the throttled Chromium device'].filter(Boolean).join(', ')}; the complete run is the section above.`, '');
  lines.push(`Command: \`${o.command}\` (${new Date().toISOString().slice(0, 16)}Z; ${((Date.now() - tStart) / 60_000).toFixed(0)} min).`);
  lines.push(`${machineLine(load0, load1)}; load average during the run ${loads.length > 0 ? `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)})` : 'n/a'}.`);
  lines.push('');
  lines.push(`- The shipped tables' CPU: ${describeCpu(shipped.machine)}, ${shipped.machine.cores} cores (node-tflite-wasm table measured ${shipped.createdAt.slice(0, 16)}Z).`);
  lines.push(`- This host's CPU: ${describeCpu(here)}, ${here.cores} cores, ${here.os}, Node ${here.node}.`);
  lines.push('');
  lines.push('Held-out random networks of the space (none among the tables\' or any calibration\'s networks). Two truths per network: **interleaved** = its median ratio to the');
  lines.push("reference network over 21 rounds (a batch of the network, then one of the reference, by process CPU time) x the reference's wall time measured right");
  lines.push(`before it; **plain** = the median of 40 single Invoke() calls by wall clock, every call counted (on the page: the median of its rounds' batch times, one batch of >= ${MEASURE_SETTINGS.quick.batchMs} ms per round; held-out networks get ${HELD_OUT_ROUNDS} rounds,`);
  lines.push(`and on the page both truths set aside the rounds whose reference batch ran > ${100 * MEASURE_SETTINGS.quick.referenceGate}% off its usual speed, as the page's profiling does).`);
  lines.push('A prediction in ms is the predicted ratio (table + this host\'s relative calibration) x the same reference time. "minutes" = time spent measuring on the device');
  lines.push('up to that stage (calibration included). The Chromium device is a phone-class stand-in: this host\'s CPU with DevTools CPU throttling');
  lines.push(`(Emulation.setCPUThrottlingRate ${o.rate}x through playwright-core), its table uploaded by the page's quick mode; its held-out networks are measured on the same throttled page.`);
  lines.push('');
  lines.push('| device | stage | table | minutes | networks | within ±10% (interleaved) | within ±10% (plain wall clock) | median measured/predicted | Kendall tau | note |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  const scored = rows.map((r) => ({ r, s: r.points.length > 0 ? score(r.points) : undefined }));
  for (const { r, s } of scored) {
    if (!s) {
      lines.push(`| ${r.device} | ${r.stage} | | | | | | | | |`);
      continue;
    }
    lines.push(`| ${r.device} | ${r.stage} | ${r.table} | ${r.minutes === null ? '' : r.minutes.toFixed(1)} | ${s.n} | ${pct(s.within10)} | ${Number.isFinite(s.within10Plain) ? `${pct(s.within10Plain)} (n=${s.nPlain})` : 'n/a'} | ${s.medianRatio.toFixed(3)} | ${s.tau.toFixed(3)} | ${r.note ?? ''} |`);
  }
  lines.push('');
  const withCpu = rows.flatMap((r) => r.points.map((p) => p.truth)).filter((t): t is Truth => 'plainCpuMs' in t && Number.isFinite(t.plainCpuMs) && Number.isFinite(t.plainMs));
  if (withCpu.length > 0) {
    const uniq = [...new Map(withCpu.map((t) => [`${t.id}@${t.referenceMs}`, t])).values()];
    const q = (xs: number[]) => `median ${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
    lines.push(`Where the two truths part (node runtimes, ${uniq.length} measurements): plain wall clock / the same single calls' CPU time ${q(uniq.map((t) => t.plainMs / t.plainCpuMs))}` +
      ` (above 1: the calls waited for the CPU); plain / interleaved ${q(uniq.map((t) => t.plainMs / (t.ratio * t.referenceMs)))}.`);
    lines.push('');
  }
  lines.push('Kendall tau per input size (interleaved truth; the figure that matters for a search at one input size):');
  lines.push('');
  const inputs = [...new Set(rows.flatMap((r) => r.points.map((p) => p.input)))];
  lines.push(`| device | stage | ${inputs.join(' | ')} |`);
  lines.push(`|---|---|${inputs.map(() => '---').join('|')}|`);
  for (const { r, s } of scored) {
    if (!s) continue;
    lines.push(`| ${r.device} | ${r.stage.trim()} | ${inputs.map((i) => (Number.isFinite(s.tauByInput[i] ?? Number.NaN) ? s.tauByInput[i].toFixed(3) : '')).join(' | ')} |`);
  }
  lines.push('');
  const quick = scored.find((x) => x.r.table === 'transferred' && x.r.device === 'node-tflite-wasm');
  const full = scored.find((x) => x.r.table === 'full');
  const br = scored.find((x) => x.r.device.startsWith('Chromium'));
  lines.push(`Goals: after the quick adaptation (<= 10 min) >= 95% within ±10%: ${quick?.s ? `${pct(quick.s.within10)} in ${quick.r.minutes?.toFixed(1)} min (${quick.s.within10 >= 0.95 && (quick.r.minutes ?? 99) <= 10 ? 'met' : 'NOT met'})` : 'n/a'}; ` +
    `after the full profile >= 99%: ${full?.s ? `${pct(full.s.within10)} (${full.s.within10 >= 0.99 ? 'met' : 'NOT met'})` : 'n/a'}; ` +
    `throttled page's quick mode >= 95% in <= 10 min: ${br?.s ? `${pct(br.s.within10)} in ${br.r.minutes?.toFixed(1)} min (${br.s.within10 >= 0.95 && (br.r.minutes ?? 99) <= 10 ? 'met' : 'NOT met'})` : 'n/a'} (interleaved truth).` +
    (Math.max(load0, load1, ...loads) > 2 ? ' Other jobs were using the CPU (see the load average): figures are noisy; rerun on a quiet machine.' : ''));
  lines.push('');
  return lines.join('\n') + '\n';
}
