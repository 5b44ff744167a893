// How far the latency predictor is from measurement on networks NetAdapt
// produces: odd channel counts the device table does not hold, so their
// kernels go through the per-operator regression. For each base network a
// few channel cuts (every group shrunk to a random odd count), predicted vs
// measured on the device's runtime (the measurer in the table's unit,
// src/refine/measure.ts). Prints one line per network and a summary.
//
//   node --import tsx bench/refine-odd-channels.ts [--device node-tflite-wasm] [--per-base 4] [--seed 1]

import { loadPredictor } from '../src/latency/index.ts';
import { channelGroups, varChannels, withGroupChannels } from '../src/refine/channels.ts';
import { measureOnDevice } from '../src/refine/measure.ts';
import { archId, parseArchString } from '../src/space/archspec.ts';
import { createRng } from '../src/space/rng.ts';
import { skeletonFor } from '../src/space/skeleton.ts';
import type { ArchSpec, InputShape } from '../src/space/types.ts';
import { arg } from './common.ts';

const device = arg('device', 'node-tflite-wasm');
const perBase = Number(arg('per-base', '4'));
const rng = createRng(Number(arg('seed', '1')));

const bases: Array<{ text: string; input: InputShape; classes: number }> = [
  { text: 'stem_k3_s1_c16 ir_r1_k3_s1_e1_c16 ir_r2_k3_s2_e6_c24 ir_r2_k5_s2_e6_c40_se0.25 head_c128', input: { height: 28, width: 28, channels: 1 }, classes: 10 },
  { text: 'stem_k3_s1_c24 ir_r1_k3_s1_e1_c16 ir_r2_k3_s2_e3_c32 ir_r3_k3_s2_e6_c48 ds_r1_k5_s1_c64_se0.25 head_c256', input: { height: 32, width: 32, channels: 3 }, classes: 10 },
];

function randomCut(spec: ArchSpec): ArchSpec {
  let s = spec;
  for (const g of channelGroups(spec)) {
    const c = varChannels(s, g[0]!);
    let n = Math.max(1, Math.round(c * (0.4 + 0.55 * rng.next())));
    if (n % 2 === 0) n = Math.max(1, n - 1);
    s = withGroupChannels(s, g, n);
  }
  return s;
}

const predictor = loadPredictor(device);
const rows: Array<{ rel: number; coverage: number }> = [];
for (const b of bases) {
  const base = parseArchString(b.text, skeletonFor(b.input));
  for (let i = 0; i < perBase; i++) {
    const spec = randomCut(base);
    const p = predictor.predict(spec, b.input, b.classes);
    const m = await measureOnDevice(device, spec, b.input, b.classes);
    if (!m.measured) throw new Error(m.reason);
    const rel = (p.latencyMs - m.latencyMs) / m.latencyMs;
    rows.push({ rel, coverage: p.coverage });
    process.stdout.write(`${archId(spec)} ${b.input.height}x${b.input.width}x${b.input.channels} channels ${spec.stem.channels}/${spec.blocks.map((x) => x.channels).join('/')}/${spec.head.channels}: ` +
      `predicted ${p.latencyMs.toFixed(4)} ms (table coverage ${(100 * p.coverage).toFixed(0)}%), measured ${m.latencyMs.toFixed(4)} ms (IQR ${(100 * m.relIqr).toFixed(0)}%), error ${(100 * rel).toFixed(1)}%\n`);
  }
}
const abs = rows.map((r) => Math.abs(r.rel)).sort((a, b) => a - b);
const median = abs[Math.floor(abs.length / 2)]!;
process.stdout.write(`\n${rows.length} odd-channel networks on ${device}: median |error| ${(100 * median).toFixed(1)}%, max ${(100 * abs[abs.length - 1]!).toFixed(1)}%, ` +
  `within 10%: ${rows.filter((r) => Math.abs(r.rel) <= 0.1).length}/${rows.length}, mean signed ${(100 * rows.reduce((s, r) => s + r.rel, 0) / rows.length).toFixed(1)}%\n`);
