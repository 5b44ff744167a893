// `npm run bench:train [-- --width 0.5 --batch 64 --seconds 20 --cpu-steps 1 --no-cpu --no-torch]`
//
// Training images/s of the small-input MobileNetV2 preset (28x28x1, 10
// classes, batch 64, Adam, random data), side by side in one run on one
// machine: the tfjs pure-JS CPU backend (a few batches only), the fast path
// (WASM + native kernels) at all cores and at 1 thread (the worker-pool
// setting), and PyTorch CPU (Debian python3-torch via /usr/bin/python3,
// bench/torch_train.py) training the same network plan at the same thread
// counts. Prints a table and replaces the "## Training speed (bench:train)"
// section of BENCHMARKS.md.

import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.ts';
import { machineInfo } from '../src/cli/doctor.ts';
import { buildModel } from '../src/space/builder.ts';
import { expandNetwork } from '../src/space/network.ts';
import { getPreset } from '../src/space/presets.ts';
import { archToString } from '../src/space/archspec.ts';

const { values: args } = parseArgs({
  options: {
    width: { type: 'string', default: '0.5' },
    batch: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '20' },
    'cpu-steps': { type: 'string', default: '1' },
    'cpu-batch': { type: 'string', default: '8' },
    'no-cpu': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});

const width = Number(args.width);
const batch = Number(args.batch);
const seconds = Number(args.seconds);
const cpuSteps = Number(args['cpu-steps']);
// The pure-JS backend trains at 0.1-1 images/s here: one batch of 64 takes 1-10 minutes, so it gets a smaller batch.
const cpuBatch = Number(args['cpu-batch']);
const cores = os.availableParallelism();
const input = { height: 28, width: 28, channels: 1 };
const numClasses = 10;
const spec = getPreset('mobilenet-v2', { widthMultiplier: width, smallInput: true });
spec.head.dropout = 0; // dropout draws random masks; keep the step deterministic and identical to the torch model
const plan = expandNetwork(spec, input, numClasses);

interface Row {
  engine: string;
  threads: number;
  imagesPerSec: number;
  steps: number;
  note: string;
}
const rows: Row[] = [];

async function timeTfjs(engine: string, backend: 'cpu' | 'fast', threads: number, warmup: number, minSteps: number, budgetS: number, batch: number): Promise<void> {
  const r = await initBackend({ backend, threads });
  const model = buildModel(spec, { inputShape: input, numClasses, seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([batch, input.height, input.width, input.channels], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, numClasses, 'int32', 2) as tf.Tensor1D, numClasses);
  for (let i = 0; i < warmup; i++) await model.trainOnBatch(x, y);
  const t0 = performance.now();
  let steps = 0;
  while (steps < minSteps || (performance.now() - t0) / 1000 < budgetS) {
    await model.trainOnBatch(x, y);
    steps++;
    if (steps >= minSteps && budgetS === 0) break;
  }
  const dt = (performance.now() - t0) / 1000;
  rows.push({ engine, threads: r.threads, imagesPerSec: (steps * batch) / dt, steps, note: `tfjs backend ${r.tfBackend}, batch ${batch}` });
  console.log(`${engine} (${r.threads} threads): ${((steps * batch) / dt).toFixed(1)} images/s over ${steps} steps`);
  model.dispose();
  tf.dispose([x, y]);
}

function timeTorch(threads: number): void {
  if (!existsSync(args.python)) {
    rows.push({ engine: 'PyTorch CPU', threads, imagesPerSec: NaN, steps: 0, note: `${args.python} not found (apt-get install python3-torch)` });
    return;
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'nas-bench-'));
  const cfg = join(dir, 'plan.json');
  writeFileSync(cfg, JSON.stringify({ plan, batch, seconds, threads }));
  try {
    // same OpenMP environment as the fast path (GOMP_SPINCOUNT set by src/engine/native.ts unless the user set one)
    const out = execFileSync(args.python, [join(import.meta.dirname, 'torch_train.py'), cfg], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    const res = JSON.parse(out.trim().split('\n').at(-1)!) as { imagesPerSec: number; steps: number; torch: string; params: number };
    rows.push({ engine: 'PyTorch CPU', threads, imagesPerSec: res.imagesPerSec, steps: res.steps, note: `torch ${res.torch}, ${res.params} trainable params` });
    console.log(`PyTorch (${threads} threads): ${res.imagesPerSec.toFixed(1)} images/s over ${res.steps} steps`);
  } catch (e) {
    rows.push({ engine: 'PyTorch CPU', threads, imagesPerSec: NaN, steps: 0, note: `failed: ${(e as Error).message.split('\n')[0]}` });
  }
}

function fmt(v: number): string {
  return !Number.isFinite(v) ? 'n/a' : v < 1 ? v.toPrecision(2) : v.toFixed(1);
}

function table(): string {
  const torchAt = (t: number) => rows.find((r) => r.engine === 'PyTorch CPU' && r.threads === t)?.imagesPerSec ?? NaN;
  const lines = ['| engine | threads | images/s | vs PyTorch (same threads) | steps timed | note |', '|---|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const ratio = r.imagesPerSec / torchAt(r.threads);
    const ratioText = !Number.isFinite(ratio) ? 'n/a' : ratio < 0.1 ? ratio.toPrecision(2) + 'x' : ratio.toFixed(2) + 'x';
    lines.push(`| ${r.engine} | ${r.threads} | ${fmt(r.imagesPerSec)} | ${ratioText} | ${r.steps} | ${r.note} |`);
  }
  return lines.join('\n');
}

function writeBenchmarks(section: string): void {
  const path = join(import.meta.dirname, '..', 'BENCHMARKS.md');
  const heading = '## Training speed (bench:train)';
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(heading);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + heading.length);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    text = text.trimEnd() + '\n\n' + section;
  }
  writeFileSync(path, text.endsWith('\n') ? text : text + '\n');
}

const m = machineInfo();
const load = os.loadavg()[0];
console.log(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; load average ${load.toFixed(2)}`);
console.log(`network: ${archToString(spec)} at 28x28x1, batch ${batch}`);

await timeTfjs('tfjs fast path', 'fast', cores, 2, 3, seconds, batch);
if (cores > 1) await timeTfjs('tfjs fast path', 'fast', 1, 1, 3, seconds, batch);
if (!args['no-torch']) {
  timeTorch(cores);
  if (cores > 1) timeTorch(1);
}
if (!args['no-cpu']) await timeTfjs('tfjs cpu backend (pure JS)', 'cpu', 1, 0, cpuSteps, 0, cpuBatch);

const loadAfter = os.loadavg()[0];
const section = [
  '## Training speed (bench:train)',
  '',
  `Command: \`npm run bench:train${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` (${new Date().toISOString().slice(0, 16)}Z)`,
  '',
  `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; 1-minute load average ${load.toFixed(2)} before, ${loadAfter.toFixed(2)} after` +
    (Math.max(load, loadAfter) > 0.5 ? ' (other processes were running: figures are noisy)' : ''),
  '',
  `Network: small-input MobileNetV2 preset, width ${width} (\`${archToString(spec)}\`), 28x28x1 input, 10 classes, ` +
    `batch ${batch}, Adam, random data, dropout off; PyTorch trains the same network plan (bench/torch_train.py: same layers, BN eps 1e-3, TF 'same' padding).`,
  '',
  table(),
  '',
  `OpenMP environment for both the fast path and PyTorch: ${process.env.OMP_WAIT_POLICY ? 'OMP_WAIT_POLICY=' + process.env.OMP_WAIT_POLICY : ''}${process.env.GOMP_SPINCOUNT ? ' GOMP_SPINCOUNT=' + process.env.GOMP_SPINCOUNT : ''} ` +
    '(the fast path sets GOMP_SPINCOUNT=10000 unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is given: busy-waiting OpenMP threads collapse when other processes share the cores).',
  '',
  'Training images/s = batch x steps / wall time of the timed steps (after warm-up steps for the fast path and PyTorch). ' +
    `The cpu backend is timed over ${cpuSteps} step(s) of batch ${cpuBatch} (a batch of 64 takes minutes on it).`,
  '',
].join('\n');
console.log('\n' + table());
if (!args['no-write']) {
  writeBenchmarks(section);
  console.log('\nwrote BENCHMARKS.md section "## Training speed (bench:train)"');
}
