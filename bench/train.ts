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
import os from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.ts';
import { machineInfo } from '../src/cli/doctor.ts';
import { buildModel } from '../src/space/builder.ts';
import { expandNetwork } from '../src/space/network.ts';
import { getPreset } from '../src/space/presets.ts';
import { archToString } from '../src/space/archspec.ts';
import { commandLine, machineLine, speedTable, timeTorch, writeBenchmarksSection, type SpeedRow } from './common.ts';

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

const rows: SpeedRow[] = [];

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

function torchRow(threads: number): void {
  rows.push(timeTorch({ python: args.python, plan, batch, seconds, threads }));
}

const m = machineInfo();
const load = os.loadavg()[0];
console.log(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; load average ${load.toFixed(2)}`);
console.log(`network: ${archToString(spec)} at 28x28x1, batch ${batch}`);

await timeTfjs('tfjs fast path', 'fast', cores, 2, 3, seconds, batch);
if (cores > 1) await timeTfjs('tfjs fast path', 'fast', 1, 1, 3, seconds, batch);
if (!args['no-torch']) {
  torchRow(cores);
  if (cores > 1) torchRow(1);
}
if (!args['no-cpu']) await timeTfjs('tfjs cpu backend (pure JS)', 'cpu', 1, 0, cpuSteps, 0, cpuBatch);

const loadAfter = os.loadavg()[0];
const section = [
  '## Training speed (bench:train)',
  '',
  `Command: \`${commandLine('bench:train')}\` (${new Date().toISOString().slice(0, 16)}Z)`,
  '',
  machineLine(load, loadAfter),
  '',
  `Network: small-input MobileNetV2 preset, width ${width} (\`${archToString(spec)}\`), 28x28x1 input, 10 classes, ` +
    `batch ${batch}, Adam, random data, dropout off; PyTorch trains the same network plan (bench/torch_train.py: same layers, BN eps 1e-3, TF 'same' padding).`,
  '',
  speedTable(rows),
  '',
  `OpenMP environment for both the fast path and PyTorch: ${process.env.OMP_WAIT_POLICY ? 'OMP_WAIT_POLICY=' + process.env.OMP_WAIT_POLICY : ''}${process.env.GOMP_SPINCOUNT ? ' GOMP_SPINCOUNT=' + process.env.GOMP_SPINCOUNT : ''} ` +
    '(the fast path sets GOMP_SPINCOUNT=10000 unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is given: busy-waiting OpenMP threads collapse when other processes share the cores).',
  '',
  'Training images/s = batch x steps / wall time of the timed steps (after warm-up steps for the fast path and PyTorch). ' +
    `The cpu backend is timed over ${cpuSteps} step(s) of batch ${cpuBatch} (a batch of 64 takes minutes on it).`,
  '',
].join('\n');
console.log('\n' + speedTable(rows));
if (!args['no-write']) {
  writeBenchmarksSection('## Training speed (bench:train)', section);
  console.log('\nwrote BENCHMARKS.md section "## Training speed (bench:train)"');
}
