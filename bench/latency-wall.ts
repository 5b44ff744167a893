// Wall-clock truth for bench:latency: the host-calibrated predictor (ratios x
// the reference's wall time measured right before each network) against
// wall-clock medians of plain Invoke() loops (10 warm-up calls, then 2 passes
// of 60 single timed calls; 1 thread; src/latency/calibration-wall.ts) for
// held-out random networks at every input of the device's table. Two truths
// from the same calls: the plain median of every call, and the median of the
// calls not preempted by other processes (the calibration's method). Then the
// hand-designed presets (MobileNetV2 widths, MnasNet-A1/B1, proxy-small) at
// every input, those among the host calibration's networks left out, as a
// group of their own (not in the bar: the space's networks are). Writes its
// own BENCHMARKS.md section, so `npm run bench:latency -- --wall-only` re-runs
// it alone.

import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { applyMapping, describeCalibration, fitMapping, tableNetworkMs, type CalibrationMapping, type HostCalibration, type ReferenceTiming } from '../src/latency/calibration.ts';
import { ensureHostCalibration } from '../src/latency/calibration-run.ts';
import { measureWallClock } from '../src/latency/calibration-wall.ts';
import { loadDevice } from '../src/latency/device.ts';
import { calibrationIds } from '../src/latency/evaluate.ts';
import { calibratePredictor, tableInForce } from '../src/latency/index.ts';
import { measureReference } from '../src/latency/reference.ts';
import { createPredictor } from '../src/latency/predictor.ts';
import { MeasurementError } from '../src/latency/runtime.ts';
import { createRuntime } from '../src/latency/runtimes/index.ts';
import { accuracy, median } from '../src/latency/stats.ts';
import { loadTable, loadTableFile } from '../src/latency/table.ts';
import { archId } from '../src/space/archspec.ts';
import { expandNetwork } from '../src/space/network.ts';
import { parseInputShape, resolveArch } from '../src/space/resolve.ts';
import type { ArchSpec, InputShape } from '../src/space/types.ts';
import { createRng } from '../src/space/rng.ts';
import { sampleArch } from '../src/space/sampler.ts';
import { skeletonFor } from '../src/space/skeleton.ts';
import { machineLine } from './common.ts';
import { describeCpu, describeMachine } from '../src/latency/machine.ts';

export const WALL_SECTION = '## Latency prediction vs wall clock on this host (bench:latency)';
const WALL_SEED = 20261130;
/** The hand-designed networks measured as their own group: [preset, width multiplier]. */
export const WALL_PRESETS: readonly [string, number][] = [
  ['mobilenet-v2', 0.35], ['mobilenet-v2', 0.5], ['mobilenet-v2', 0.75], ['mobilenet-v2', 1], ['mnasnet-a1', 1], ['mnasnet-b1', 1], ['proxy-small', 1],
];

export interface WallOptions {
  device: string;
  networks: number;
  budgetS: number;
  /** measure a new calibration first even when a fresh one exists */
  recalibrate: boolean;
  /** also measure the hand-designed presets (default true) */
  presets?: boolean;
  command: string;
}

interface Row {
  input: string;
  id: string;
  tableMs: number;
  /** the network's table time as the host calibration maps it, and its 1x1-convolution part (tableNetworkMs) */
  tableNetMs: number;
  conv1x1TableMs: number;
  /** host-calibrated prediction of the previous calibration method (format 2: one scale, fitted on the reference and random networks only) */
  oneScaleMs: number;
  predictedMs: number;
  /** plain harness: median of every timed call */
  measuredMs: number;
  /** median of the calls that were not preempted by other processes */
  runMs: number;
  preempted: number;
  spread: number;
  load: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function stats(rows: Row[], pred: (r: Row) => number, truth: (r: Row) => number = (r) => r.measuredMs) {
  const a = accuracy(rows.map(pred), rows.map(truth));
  const ratios = rows.map((r) => truth(r) / pred(r));
  return { n: a.n, within10: a.within10, within5: a.within5, tau: a.kendallTau, medianRatio: median(ratios), ratios };
}

export async function wallClockSection(o: WallOptions): Promise<string> {
  const load0 = loadavg()[0];
  const device = loadDevice(o.device);
  const table = loadTable(o.device);
  const runtime = await createRuntime(device.runtime);
  const log = (m: string) => process.stderr.write(`[wall] ${m}\n`);
  const status = await ensureHostCalibration({ device, table, runtime, force: o.recalibrate, onProgress: log });
  log(`calibration: ${describeCalibration(status)}`);
  const cal: HostCalibration | undefined = status.calibration;
  const base = createPredictor(table);
  const inForce = tableInForce(table, loadTableFile(o.device).shipped);
  const predictorAt = (reference?: ReferenceTiming) => calibratePredictor(base, device, status, { tableReferenceMs: table.measure.referenceMs, table: inForce, reference });
  const targets = table.inputs.map((t) => ({ input: parseInputShape(t.input), text: t.input, numClasses: t.numClasses }));
  const exclude = calibrationIds(targets.map((t) => ({ skeleton: skeletonFor(t.input), input: t.input })), table.calibration?.networks ?? 0, table.calibration?.seed ?? 1);
  for (const p of cal?.points ?? []) exclude.add(p.name);
  // The previous method for comparison, on the same measured calibration points: one scale, no preset networks.
  const randomPoints = (cal?.points ?? []).filter((p) => !p.name.includes('@'));
  const oneScale: CalibrationMapping | undefined = randomPoints.length >= 3 ? fitMapping(randomPoints.map((p) => ({ table: p.tableRatio, host: p.measuredRatio }))) : undefined;
  const rows: Row[] = [];
  const t0 = Date.now();
  const measureRow = async (spec: ArchSpec, t: { input: InputShape; text: string; numClasses: number }, id: string, deadline: number): Promise<Row> => {
    // ratios to ms with the reference network's wall time measured right now
    const ref = cal ? await measureReference(runtime) : undefined;
    const p = predictorAt(ref).predict(spec, t.input, t.numClasses);
    const raw = base.predict(spec, t.input, t.numClasses);
    const tn = tableNetworkMs(raw);
    const oneScaleMs = oneScale && ref ? applyMapping(oneScale, tn.tableMs / table.measure.referenceMs) * ref.ms : Number.NaN;
    const model = await runtime.prepare(expandNetwork(spec, t.input, t.numClasses));
    try {
      // plain harness: every call counts, no agreement check (what the independent check ran)
      const plain = await measureWallClock(model, { dropPreempted: false, tolerance: Number.MAX_VALUE, maxAttempts: 1 }, `${t.text} ${id}`);
      let run: Awaited<ReturnType<typeof measureWallClock>> | undefined;
      try {
        run = await measureWallClock(model, { warmup: 0, deadline }, `${t.text} ${id}`);
      } catch (e) {
        if (!(e instanceof MeasurementError)) throw e;
        log(`ran-through measurement refused: ${e.message}`);
      }
      return {
        input: t.text, id, tableMs: p.tableLatencyMs ?? p.latencyMs, tableNetMs: tn.tableMs, conv1x1TableMs: tn.conv1x1TableMs, oneScaleMs, predictedMs: p.latencyMs, measuredMs: plain.medianMs,
        runMs: run?.medianMs ?? Number.NaN, preempted: run?.preemptedCalls ?? Number.NaN, spread: run?.spread ?? Number.NaN, load: loadavg()[0],
      };
    } finally {
      model.dispose();
    }
  };
  for (const [ti, t] of targets.entries()) {
    const share = Math.ceil(o.networks / targets.length);
    const rng = createRng(WALL_SEED + ti);
    const deadline = performance.now() + ((o.budgetS * 1000 - (Date.now() - t0)) / (targets.length - ti));
    let done = 0;
    for (let draws = 0; done < share && draws < share * 20 && performance.now() < deadline; draws++) {
      const spec = sampleArch(skeletonFor(t.input), rng);
      const id = archId(spec);
      if (exclude.has(id)) continue;
      exclude.add(id);
      rows.push(await measureRow(spec, t, id, deadline));
      done++;
      if (done % 5 === 0) log(`${t.text}: ${done}/${share} (load ${loadavg()[0].toFixed(2)})`);
    }
  }
  const presetRows: Row[] = [];
  if (o.presets ?? true) {
    const calibrated = new Set((cal?.points ?? []).map((p) => `${p.input} ${p.name}`));
    for (const t of targets) {
      for (const [name, w] of WALL_PRESETS) {
        const id = name === 'mobilenet-v2' ? `${name}@${w}` : name;
        if (calibrated.has(`${t.text} ${id}`)) continue;
        presetRows.push(await measureRow(resolveArch(name, { input: t.input, widthMultiplier: w }), t, id, Number.POSITIVE_INFINITY));
      }
      log(`${t.text}: presets measured (load ${loadavg()[0].toFixed(2)})`);
    }
  }
  await runtime.close();
  // every measured row, for fitting other mappings offline (bench/results/latency-wall.json)
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latency-wall.json', JSON.stringify({ at: new Date().toISOString(), calibration: cal ?? null, random: rows, presets: presetRows }, null, 1) + '\n');
  const wallS = (Date.now() - t0) / 1000;
  const load1 = loadavg()[0];
  if (rows.length === 0) throw new Error('wall-clock bench: no network could be measured');
  const lines = [WALL_SECTION, ''];
  lines.push(`Command: \`${o.command}\` (${new Date().toISOString().slice(0, 16)}Z).`);
  lines.push(machineLine(load0, load1) + `; CPU ${describeCpu(describeMachine())}, table measured on ${describeCpu(table.machine)}; load average during the measurements ${Math.min(...rows.map((r) => r.load)).toFixed(2)}-${Math.max(...rows.map((r) => r.load)).toFixed(2)} (median ${median(rows.map((r) => r.load)).toFixed(2)}).`);
  lines.push('');
  lines.push(`What an independent harness sees: ${device.id} (${table.device.runtimeVersion}), held-out random networks of the space (none among the table's or the host calibration's`);
  lines.push('networks), each exported as float .tflite (random weights) and timed by WALL CLOCK with single Invoke() calls, 1 thread. Two truths:');
  lines.push('**plain** = 10 warm-up calls, then the median of 120 timed calls, every call counted (what a plain harness reports); **ran through** = then 2 passes');
  lines.push('of 60 calls that were not preempted by other processes (wall time <= 1.1 x process CPU time + 10 us; the method of the');
  lines.push("pipeline's measured figure; the same as plain on a quiet machine); pass medians more than 5% apart are re-measured with passes twice as long");
  lines.push('(3 attempts), then that truth is refused for the network. "host-calibrated" = the predictor as `loadPredictor` serves it on this host (calibration');
  lines.push("format 4: ratios to the reference network, converted to ms with the reference's wall time measured right before each network); \"table units\" = the");
  lines.push('same predictor without the calibration (the reference-network unit of the profiling machine); "previous method" = one scale for every kernel,');
  lines.push('refitted on the same measured ratio points of the reference and random networks only (no MobileNetV2 presets).');
  lines.push('');
  lines.push(`Calibration in force: ${describeCalibration(status)}` + (cal ? `; measured in ${cal.wallS.toFixed(1)} s on ${cal.points.length} networks (${cal.points.map((p) => `${p.input} ${p.tableRatio.toFixed(2)}->${p.measuredRatio.toFixed(2)}`).join(', ')} in reference units).` : '.'));
  lines.push('');
  lines.push('| predictor | truth | networks | within ±10% | within ±5% | median measured/predicted | ratio range | Kendall tau |');
  lines.push('|---|---|---|---|---|---|---|---|');
  const ranThrough = rows.filter((r) => Number.isFinite(r.runMs));
  const variants: [string, string, ReturnType<typeof stats>][] = [['host-calibrated', 'plain wall clock', stats(rows, (r) => r.predictedMs)]];
  if (ranThrough.length >= 2) variants.push(['host-calibrated', 'ran through', stats(ranThrough, (r) => r.predictedMs, (r) => r.runMs)]);
  if (oneScale) variants.push(['previous method: one scale, no presets', 'plain wall clock', stats(rows, (r) => r.oneScaleMs)]);
  variants.push(['table units (no calibration)', 'plain wall clock', stats(rows, (r) => r.tableMs)]);
  for (const [name, truth, s] of variants) {
    lines.push(`| ${name} | ${truth} | ${s.n} | ${pct(s.within10)} | ${pct(s.within5)} | ${s.medianRatio.toFixed(3)} | ${Math.min(...s.ratios).toFixed(2)}-${Math.max(...s.ratios).toFixed(2)} | ${s.tau.toFixed(3)} |`);
  }
  lines.push('');
  lines.push('| input | networks | plain measured ms (min-max) | host-calibrated within ±10% (plain / ran through) | median ratio (plain / ran through) | Kendall tau (plain) | table units within ±10% (plain) | median ratio |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const inp of [...new Set(rows.map((r) => r.input))]) {
    const sub = rows.filter((r) => r.input === inp);
    const c = stats(sub, (r) => r.predictedMs);
    const subRun = sub.filter((r) => Number.isFinite(r.runMs));
    const cr = subRun.length > 1 ? stats(subRun, (r) => r.predictedMs, (r) => r.runMs) : { within10: Number.NaN, medianRatio: Number.NaN };
    const t = stats(sub, (r) => r.tableMs);
    const ms = sub.map((r) => r.measuredMs);
    lines.push(`| ${inp} | ${sub.length} | ${Math.min(...ms).toFixed(2)}-${Math.max(...ms).toFixed(2)} | ${pct(c.within10)} / ${pct(cr.within10)} | ${c.medianRatio.toFixed(3)} / ${cr.medianRatio.toFixed(3)} | ${c.tau.toFixed(3)} | ${pct(t.within10)} | ${t.medianRatio.toFixed(3)} |`);
  }
  lines.push('');
  const preemptedNets = ranThrough.filter((r) => r.preempted > 0).length;
  lines.push(`Ran-through truth for ${ranThrough.length} of ${rows.length} networks (the others refused: too few calls ran without preemption, or out of time); calls preempted by other processes in ${preemptedNets} of them (${ranThrough.reduce((a, r) => a + r.preempted, 0)} calls in all).`);
  if (presetRows.length > 0) {
    const ps = stats(presetRows, (r) => r.predictedMs);
    const pt = stats(presetRows, (r) => r.tableMs);
    const po = oneScale ? stats(presetRows, (r) => r.oneScaleMs) : undefined;
    lines.push(`Hand-designed presets (not in the bar; those among the calibration's networks left out): ${presetRows.length} networks, host-calibrated ${pct(ps.within10)} within ±10% ` +
      `(${pct(ps.within5)} within ±5%), median measured/predicted ${ps.medianRatio.toFixed(3)}, range ${Math.min(...ps.ratios).toFixed(2)}-${Math.max(...ps.ratios).toFixed(2)}` +
      (po ? `; previous method (one scale, no presets) ${pct(po.within10)} within ±10%, median ${po.medianRatio.toFixed(3)}, range ${Math.min(...po.ratios).toFixed(2)}-${Math.max(...po.ratios).toFixed(2)}` : '') +
      `; table units ${pct(pt.within10)} within ±10%.`);
    lines.push('');
    lines.push('| input | network | predicted ms | plain measured ms | measured/predicted (plain / ran through) | previous method: measured/predicted |');
    lines.push('|---|---|---|---|---|---|');
    for (const r of presetRows) {
      lines.push(`| ${r.input} | ${r.id} | ${r.predictedMs.toFixed(3)} | ${r.measuredMs.toFixed(3)} | ${(r.measuredMs / r.predictedMs).toFixed(3)} / ${(r.runMs / r.predictedMs).toFixed(3)} | ${(r.measuredMs / r.oneScaleMs).toFixed(3)} |`);
    }
    lines.push('');
  }
  const cs = variants[0][2];
  const bar = cs.within10 >= 0.95;
  lines.push(`Bar (>= 95% within ±10%, host-calibrated vs plain wall clock): ${bar ? 'met' : 'NOT met'} on this run; bench wall time ${wallS.toFixed(0)} s.` +
    (Math.max(load0, load1) > 1 ? ' Other jobs were using the CPU (see the load average): wall-clock figures are noisy; rerun on a quiet machine.' : ''));
  lines.push('');
  return lines.join('\n') + '\n';
}
