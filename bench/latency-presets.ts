// node --import tsx bench/latency-presets.ts [--device node-tflite-wasm] [--random 16] [--out bench/results/latency-presets.json]
//
// Diagnostic for issue 8's open figure: where the host-calibrated predictor
// misses. Measures (wall clock, calibration-wall.ts, a fresh runtime per
// network) the built-in presets (MobileNetV2 at four widths, MnasNet-A1/B1,
// proxy-small) and random architectures of the search space at 28x28x1 and
// 32x32x3, and records per network: the table-unit kernel sum, split by
// operator class (1x1 conv, kxk conv, depthwise, the rest), kernel count,
// output elements, params, MACs, the host-calibrated prediction and the
// measurement. Prints measured/predicted for presets and random networks
// separately; the JSON is the input for fitting a better host mapping.
// Run it on a quiet machine: the 1-minute load average is recorded.

import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { measureWallClock } from '../src/latency/calibration-wall.ts';
import { loadDevice } from '../src/latency/device.ts';
import { isConv1x1Key, tableNetworkMs } from '../src/latency/calibration.ts';
import { loadCalibratedPredictor } from '../src/latency/index.ts';
import { decomposePlan } from '../src/latency/kernels.ts';
import { createPredictor } from '../src/latency/predictor.ts';
import { createRuntime } from '../src/latency/runtimes/index.ts';
import { median } from '../src/latency/stats.ts';
import { loadTable } from '../src/latency/table.ts';
import { archId } from '../src/space/archspec.ts';
import { archCost } from '../src/space/cost.ts';
import { expandNetwork } from '../src/space/network.ts';
import { parseInputShape, resolveArch } from '../src/space/resolve.ts';
import { createRng } from '../src/space/rng.ts';
import { sampleArch } from '../src/space/sampler.ts';
import { skeletonFor } from '../src/space/skeleton.ts';
import type { ArchSpec } from '../src/space/types.ts';
import { arg } from './common.ts';

const deviceId = arg('device', 'node-tflite-wasm');
const nRandom = Number(arg('random', '16'));
const out = arg('out', 'bench/results/latency-presets.json');
const K = 10;
const table = loadTable(deviceId);
const tableUnits = createPredictor(table);
const calibrated = await loadCalibratedPredictor(deviceId, { onProgress: (m) => process.stderr.write(`${m}\n`) });
const runtimeId = loadDevice(deviceId).runtime;

const nets: { name: string; kind: 'preset' | 'random'; input: string; spec: ArchSpec }[] = [];
for (const inp of ['28x28x1', '32x32x3']) {
  const input = parseInputShape(inp);
  for (const w of [0.35, 0.5, 0.75, 1.0]) nets.push({ name: `mobilenet-v2@${w}`, kind: 'preset', input: inp, spec: resolveArch('mobilenet-v2', { input, widthMultiplier: w }) });
  for (const p of ['mnasnet-a1', 'mnasnet-b1', 'proxy-small']) nets.push({ name: p, kind: 'preset', input: inp, spec: resolveArch(p, { input }) });
  const rng = createRng(424_242 + input.channels);
  for (let k = 0; k < nRandom; k++) {
    const s = sampleArch(skeletonFor(input), rng);
    nets.push({ name: archId(s), kind: 'random', input: inp, spec: s });
  }
}

const classOf = (key: string) => (isConv1x1Key(key) ? 'conv1x1' : key.startsWith('conv_') ? 'convKxK' : key.startsWith('dwconv_') ? 'depthwise' : 'other');
const rows: unknown[] = [];
const ratios: Record<'preset' | 'random', number[]> = { preset: [], random: [] };
const load0 = loadavg()[0];
for (const n of nets) {
  const input = parseInputShape(n.input);
  const plan = expandNetwork(n.spec, input, K);
  const p = tableUnits.predictKernels(decomposePlan(plan));
  const byClassTableMs: Record<string, number> = {};
  for (const k of p.kernels) byClassTableMs[classOf(k.key)] = (byClassTableMs[classOf(k.key)] ?? 0) + k.latencyMs;
  const predictedMs = calibrated.predict(n.spec, input, K).latencyMs;
  const cost = archCost(n.spec, input, K);
  const runtime = await createRuntime(runtimeId);
  const model = await runtime.prepare(plan);
  try {
    const m = await measureWallClock(model, {}, n.name);
    ratios[n.kind].push(m.medianMs / predictedMs);
    rows.push({ ...n, spec: undefined, kernelSumTableMs: p.kernelSumMs, ...tableNetworkMs(p), byClassTableMs, kernels: p.kernels.length, outMelems: p.outMelems, params: cost.params, macs: cost.macs, predictedMs, measuredMs: m.medianMs, spread: m.spread, loadAvg: loadavg()[0] });
    console.log(`${n.kind.padEnd(6)} ${n.input.padEnd(8)} ${n.name.padEnd(18)} predicted ${predictedMs.toFixed(3)} ms, measured ${m.medianMs.toFixed(3)} ms, ratio ${(m.medianMs / predictedMs).toFixed(3)}`);
  } catch (e) {
    console.log(`${n.kind.padEnd(6)} ${n.input.padEnd(8)} ${n.name.padEnd(18)} not measured: ${(e as Error).message}`);
  } finally {
    model.dispose();
    await runtime.close();
  }
}
const within = (xs: number[]) => xs.filter((r) => Math.abs(r - 1) <= 0.1).length / Math.max(1, xs.length);
for (const kind of ['preset', 'random'] as const) {
  console.log(`${kind}: ${ratios[kind].length} measured, median measured/predicted ${median(ratios[kind]).toFixed(3)}, ${(100 * within(ratios[kind])).toFixed(0)}% within ±10%`);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ deviceId, calibration: calibrated.calibration.calibration?.mapping ?? null, loadAvg: [load0, loadavg()[0]], at: new Date().toISOString(), networks: rows }, null, 1) + '\n');
console.log(`wrote ${out}`);
