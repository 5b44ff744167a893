// Refit the throttled page's quick-mode table from the measurements bench:latency kept
// (bench/results/latency-browser-raw.json) in every way the service can build one (transfer
// method x overhead model), and against the shipped table's relative costs with a relative
// calibration alone, and score each on the held-out networks measured on the same page: which
// way of building a quick table predicts a device best, decided on one set of measurements
// rather than on runs minutes apart. Writes its section of BENCHMARKS.md.
//
//   npm run bench:latency-replay [-- --raw FILE[,FILE...]]

import { existsSync, readFileSync } from 'node:fs';
import { QUICK_TRANSFER_DEVICE } from '../src/app/devices.ts';
import { shippedPaths } from '../src/config/paths.ts';
import type { BundleManifest } from '../src/latency/bundle.ts';
import { resultsToTable, type ProfileResults, type QuickTableInput } from '../src/latency/upload.ts';
import { adaptedTable, overheadLeaveOneOut } from '../src/latency/adapted-table.ts';
import { TRANSFER_METHODS } from '../src/latency/transfer.ts';
import { applyMapping, fitMapping, mappingLeaveOneOut, tableNetworkMs, type MappingPoint } from '../src/latency/calibration.ts';
import { decompose } from '../src/latency/kernels.ts';
import { createPredictor } from '../src/latency/predictor.ts';
import { accuracy, median } from '../src/latency/stats.ts';
import { loadTable, type LatencyTable } from '../src/latency/table.ts';
import { fromWire } from '../src/space/archspec.ts';
import { BROWSER_RAW } from './latency-browser.ts';
import { arg, commandLine, writeBenchmarksSection } from './common.ts';

interface Raw {
  at: string;
  machine: { cpu: string; cpuVendor?: string; cpuFamily?: number; cpuModel?: number };
  rate: number;
  quickManifest: BundleManifest;
  upload: ProfileResults;
  heldOutManifest: BundleManifest;
  heldOut: { models: Record<string, { samplesMs: number[]; referenceMs?: number[] }> }[];
}

interface HeldOut {
  id: string;
  input: string;
  arch: BundleManifest['networks'][number]['arch'];
  shape: [number, number, number];
  /** median of the rounds' network / reference ratios, per measurement pass */
  ratios: number[];
}

/** A manifest's networks with their median network / reference ratio in each measurement pass. */
function measuredNetworks(manifest: BundleManifest, passes: Raw['heldOut']): HeldOut[] {
  return manifest.networks.map((n) => ({
    id: n.id, input: n.input.join('x'), arch: n.arch, shape: n.input as [number, number, number],
    ratios: passes.map((h) => median(h.models[n.id].samplesMs.map((x, i) => x / h.models[n.id].referenceMs![i]))),
  }));
}

/** Predicted ratio to the device's reference, per network. */
type Variant = { name: string; predict: (nets: HeldOut[]) => number[] };

function tableVariant(name: string, table: LatencyTable, numClasses: number): Variant {
  const p = createPredictor(table);
  return { name, predict: (nets) => nets.map((n) => p.predict(fromWire(n.arch), { height: n.shape[0], width: n.shape[1], channels: n.shape[2] }, numClasses).latencyMs / table.measure.referenceMs) };
}

/** A network's time in a table's reference units as the relative calibration sees it (kernels' own times + one baseline; a kernel the table lacks from its regression), and its 1x1 part. */
function tableRatio(table: LatencyTable, arch: HeldOut['arch'], shape: [number, number, number], numClasses: number): { table: number; conv1x1: number } {
  const p = predictorOf(table).predictKernels(decompose(fromWire(arch), { height: shape[0], width: shape[1], channels: shape[2] }, numClasses));
  const t = tableNetworkMs({ kernels: p.kernels, baselineMs: table.measure.baselineMs });
  return { table: t.tableMs / table.measure.referenceMs, conv1x1: t.conv1x1TableMs / table.measure.referenceMs };
}
const predictors = new WeakMap<LatencyTable, ReturnType<typeof createPredictor>>();
function predictorOf(t: LatencyTable) {
  if (!predictors.has(t)) predictors.set(t, createPredictor({ ...t, overhead: null }));
  return predictors.get(t)!;
}

/** A table's network sums mapped to the device by the relative calibration's fit on the quick suite's networks (one fit, or one per input). */
function mappingVariant(name: string, table: LatencyTable, quick: HeldOut[], numClasses: number, perInput: boolean): Variant & { loo: Scored['loo'] } {
  const pts = (ns: HeldOut[]): MappingPoint[] => ns.map((n) => ({ ...tableRatio(table, n.arch, n.shape, numClasses), host: n.ratios[0] }));
  // leave-one-out over the quick networks, within each input's group when fitted per input
  const groups = perInput ? [...new Set(quick.map((n) => n.input))].map((i) => quick.filter((n) => n.input === i)) : [quick];
  const parts = groups.map((g) => ({ n: g.length, l: mappingLeaveOneOut(pts(g)) }));
  const loo = parts.every((p) => p.l !== null)
    ? { within10: parts.reduce((s, p) => s + p.n * p.l!.within10, 0) / quick.length, meanAbsErr: parts.reduce((s, p) => s + p.n * p.l!.meanAbsErr, 0) / quick.length }
    : undefined;
  const fit = (inp?: string) => fitMapping(pts(quick.filter((n) => inp === undefined || n.input === inp)));
  const maps = new Map<string | undefined, ReturnType<typeof fitMapping>>();
  const mapOf = (inp: string) => {
    const k = perInput && quick.some((n) => n.input === inp) ? inp : undefined;
    if (!maps.has(k)) maps.set(k, fit(k));
    return maps.get(k)!;
  };
  return { name, loo, predict: (nets) => nets.map((n) => { const t = tableRatio(table, n.arch, n.shape, numClasses); return applyMapping(mapOf(n.input), t.table, t.conv1x1); }) };
}

interface Scored {
  name: string;
  /** leave-one-out over the quick suite's networks (what the service chooses by), where it applies */
  loo?: { within10: number; meanAbsErr: number };
  /** held-out networks within ±10%, against each of the two measurement passes */
  within10: number[];
  /** per input: median of measured / predicted (pass 1) */
  lean: string[];
}

function score(v: Variant, nets: HeldOut[], loo?: Scored['loo']): Scored {
  const pred = v.predict(nets);
  const within10 = [0, 1].map((k) => accuracy(pred, nets.map((n) => n.ratios[k])).within10);
  const inputs = [...new Set(nets.map((n) => n.input))].sort();
  const lean = inputs.map((inp) => `${inp}: ${median(nets.flatMap((n, i) => (n.input === inp ? [n.ratios[0] / pred[i]] : []))).toFixed(3)}`);
  return { name: v.name, ...(loo ? { loo } : {}), within10, lean };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** One run's table: every build refitted on its upload and scored on its held-out networks. */
function replayRun(file: string, raw: Raw): string[] {
  const source = loadTable(QUICK_TRANSFER_DEVICE, shippedPaths.latencyTables);
  const nets = measuredNetworks(raw.heldOutManifest, raw.heldOut);
  const nc = raw.quickManifest.numClasses;
  // the quick suite's networks as measured on the page, in the page's reference units
  const quickPlain = measuredNetworks(raw.quickManifest, [raw.upload]);
  // ... and as the upload's table build sees them (kernel keys, ms), captured from the builds below
  let quickNets: QuickTableInput['networks'] = [];
  const grid = TRANSFER_METHODS.flatMap((method) => [false, true].map((perInputOverhead) => {
    const table = resultsToTable(raw.quickManifest, raw.upload, { transferFrom: source, build: (inp) => {
      quickNets = inp.networks;
      return adaptedTable({ ...inp, method, perInputOverhead });
    } });
    const loo = overheadLeaveOneOut(table, quickNets)!;
    const cvErr = table.provenance!.transfer!.crossValidation.find((c) => c.method === method)!.weightedErr;
    return { method, perInputOverhead, table, loo, cvErr };
  }));
  // the rule the service used before: the larger leave-one-out share, ties to one slope, then to the lower kernel error
  const former = grid.reduce((a, b) => (b.loo.within10 > a.loo.within10 || (b.loo.within10 === a.loo.within10 && !b.perInputOverhead && a.perInputOverhead) ||
    (b.loo.within10 === a.loo.within10 && b.perInputOverhead === a.perInputOverhead && b.cvErr < a.cvErr) ? b : a));
  const service = resultsToTable(raw.quickManifest, raw.upload, { transferFrom: source });
  const name = (g: (typeof grid)[number]) => `${g.method} transfer, overhead ${g.perInputOverhead ? 'slope per input' : 'one slope'}`;
  const same = (t: LatencyTable) => grid.find((g) => g.method === t.provenance!.transfer!.method && g.perInputOverhead === (t.overhead?.slopeByInput !== undefined))!;
  const scored: Scored[] = [
    score(tableVariant(`**the service's table** (its rule: the larger leave-one-out share, then the lower leave-one-out mean error): ${name(same(service))}`, service, nc), nets, same(service).loo),
    score(tableVariant(`the former rule (the larger leave-one-out share, ties to one slope): ${name(former)}`, former.table, nc), nets, former.loo),
    ...grid.map((g) => score(tableVariant(name(g), g.table, nc), nets, g.loo)),
    ...[false, true].map((perInput) => {
      const v = mappingVariant(perInput ? 'the same with one calibration per input' : "the shipped table's relative costs + a relative calibration fitted on the quick networks (no kernel measured)", source, quickPlain, nc, perInput);
      return score(v, nets, v.loo);
    }),
  ];
  const m = raw.machine;
  const lines: string[] = [];
  lines.push(`### ${file}: the run of ${raw.at.slice(0, 16)}Z (${m.cpu}${m.cpuVendor ? `, ${m.cpuVendor} family ${m.cpuFamily} model ${m.cpuModel}` : ''}; Chromium ${raw.rate}x throttled; ` +
    `quick suite ${Object.keys(raw.upload.models).length} models, ${quickNets.length} of them networks (${[...new Set(quickNets.map((n) => n.input))].map((i) => `${quickNets.filter((n) => n.input === i).length} at ${i}`).join(', ')}); ${nets.length} held-out networks)`);
  lines.push('');
  lines.push('| table build | leave-one-out on the quick networks: within ±10%, mean error | held-out within ±10% (pass 1 / pass 2) | median measured / predicted, per input |');
  lines.push('|---|---|---|---|');
  for (const s of scored) lines.push(`| ${s.name} | ${s.loo ? `${pct(s.loo.within10)}, ${pct(s.loo.meanAbsErr)}` : 'n/a'} | ${s.within10.map(pct).join(' / ')} | ${s.lean.join(', ')} |`);
  lines.push('');
  return lines;
}

export function replaySection(runs: { file: string; raw: Raw }[], command: string): string {
  const lines = [SECTION, ''];
  lines.push(`Command: \`${command}\` (${new Date().toISOString().slice(0, 16)}Z). It reads the measurements that runs of \`npm run bench:latency -- --foreign-only\` kept (${BROWSER_RAW} is the last one's; earlier ones are kept beside it under their date). ` +
    "For each run: every way the service can build the quick table (transfer method x overhead model), and the shipped table's relative costs with a relative calibration alone, fitted on that run's upload and scored on its held-out networks, measured twice on the same page: " +
    'which build predicts a device best, decided on one set of measurements rather than on runs minutes apart. The leave-one-out figures are what the service sees when it chooses (each quick network predicted by the model fitted on the others); the held-out ones are what a user gets.');
  lines.push('');
  for (const r of runs) lines.push(...replayRun(r.file, r.raw));
  return lines.join('\n');
}

const SECTION = "## Quick tables refitted from the throttled page's measurements (bench:latency-replay)";

async function main() {
  const files = arg('raw', BROWSER_RAW).split(',');
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`${missing.join(', ')} does not exist: run npm run bench:latency -- --foreign-only --no-tflite --no-tfjs first`);
  const section = replaySection(files.map((file) => ({ file, raw: JSON.parse(readFileSync(file, 'utf8')) as Raw })), commandLine('bench:latency-replay'));
  process.stdout.write(section);
  writeBenchmarksSection(SECTION, section);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
