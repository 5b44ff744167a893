// `npm run bench:eval [-- --width 0.5 --batch 256 --seconds 8 --no-cpu --no-torch --no-write]`
//
// Inference (evaluation) images/s of the small-input MobileNetV2 preset
// (28x28x1, 10 classes, random data, BN on moving statistics): the fast path
// (WASM + native kernels) before and after the inference kernels of
// src/engine/inference_kernels.ts and the folded runner of
// src/engine/inference_model.ts, at all cores and at 1 thread, PyTorch CPU
// eval (model.eval(), torch.no_grad(); bench/torch_train.py) of the same
// network plan at the same thread counts, and a short run of the tfjs
// pure-JS CPU backend. "Before" = the stock WASM FusedBatchNorm/Relu/Relu6
// kernels and model.predict's default batchSize of 32 (what evaluateModel
// did); "after" = the inference kernels, one forward pass per batch, batch
// norm folded into the convolutions (what evaluateModel does now); an
// intermediate row without the folding. The variants alternate in rounds of ~1 s in
// one process so that load from other processes hits both alike. Prints a
// table and replaces the "## Inference speed (bench:eval)" section of
// BENCHMARKS.md.

import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.ts';
import { inferenceKernelsEnabled, setInferenceKernelsEnabled } from '../src/engine/inference_kernels.ts';
import { createInferenceRunner, type InferenceRunner } from '../src/engine/inference_model.ts';
import { machineInfo } from '../src/cli/doctor.ts';
import { buildModel } from '../src/space/builder.ts';
import { expandNetwork } from '../src/space/network.ts';
import { getPreset } from '../src/space/presets.ts';
import { archToString } from '../src/space/archspec.ts';
import { commandLine, machineLine, speedTable, timeTorch, writeBenchmarksSection, type SpeedRow } from './common.ts';

const HEADING = '## Inference speed (bench:eval)';

const { values: args } = parseArgs({
  options: {
    width: { type: 'string', default: '0.5' },
    batch: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '8' },
    'cpu-batch': { type: 'string', default: '32' },
    'no-cpu': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});

const width = Number(args.width);
const batch = Number(args.batch);
const seconds = Number(args.seconds);
const cpuBatch = Number(args['cpu-batch']);
const cores = os.availableParallelism();
const input = { height: 28, width: 28, channels: 1 };
const numClasses = 10;
const spec = getPreset('mobilenet-v2', { widthMultiplier: width, smallInput: true });
spec.head.dropout = 0;
const plan = expandNetwork(spec, input, numClasses);
const rows: SpeedRow[] = [];
const envDefault = inferenceKernelsEnabled();

interface Variant {
  engine: string;
  kernels: boolean;
  /** model.predict batchSize; 0 = the folded runner */
  chunk: number;
  images: number;
  ms: number;
  rounds: number;
}

function predictOnce(model: tf.LayersModel, x: tf.Tensor, chunk: number, runner?: InferenceRunner): void {
  tf.tidy(() => (runner && chunk === 0 ? runner.predict(x) : (model.predict(x, { batchSize: chunk }) as tf.Tensor)).dataSync());
}

/** Alternating rounds of each variant (~1 s each) until `budgetS` is spent. */
async function timeFast(threads: number, budgetS: number): Promise<void> {
  const r = await initBackend({ backend: 'fast', threads });
  const model = buildModel(spec, { inputShape: input, numClasses, seed: 1 });
  const x = tf.randomNormal([batch, input.height, input.width, input.channels], 0, 1, 'float32', 1);
  setInferenceKernelsEnabled(true);
  const t = performance.now();
  const runner = createInferenceRunner(model);
  const foldMs = performance.now() - t;
  const variants: Variant[] = [
    { engine: 'tfjs fast path, after (evaluateModel: inference kernels, BN folded into convs, one pass per batch)', kernels: true, chunk: 0, images: 0, ms: 0, rounds: 0 },
    { engine: 'tfjs fast path, inference kernels, model.predict one pass per batch, no folding', kernels: true, chunk: batch, images: 0, ms: 0, rounds: 0 },
    { engine: 'tfjs fast path, before (stock WASM BN/ReLU kernels, predict chunks of 32)', kernels: false, chunk: 32, images: 0, ms: 0, rounds: 0 },
  ];
  for (const v of variants) {
    setInferenceKernelsEnabled(v.kernels);
    predictOnce(model, x, v.chunk, runner); // warm-up
  }
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < budgetS) {
    for (const v of variants) {
      setInferenceKernelsEnabled(v.kernels);
      const s = performance.now();
      do {
        predictOnce(model, x, v.chunk, runner);
        v.images += batch;
      } while (performance.now() - s < 1000);
      v.ms += performance.now() - s;
      v.rounds++;
    }
  }
  setInferenceKernelsEnabled(envDefault);
  for (const v of variants) {
    const ips = v.images / (v.ms / 1000);
    rows.push({ engine: v.engine, threads: r.threads, imagesPerSec: ips, steps: v.images / batch,
      note: `tfjs backend ${r.tfBackend}, batch ${batch}, ${v.rounds} rounds` + (v.chunk === 0 ? `; ${runner.fusedGroups} conv+BN groups folded in ${foldMs.toFixed(0)} ms` : '') });
    console.log(`${v.engine} (${r.threads} threads): ${ips.toFixed(1)} images/s`);
  }
  runner.dispose();
  model.dispose();
  x.dispose();
}

async function timeCpu(): Promise<void> {
  await initBackend({ backend: 'cpu' });
  const model = buildModel(spec, { inputShape: input, numClasses, seed: 1 });
  const x = tf.randomNormal([cpuBatch, input.height, input.width, input.channels], 0, 1, 'float32', 1);
  const t0 = performance.now();
  predictOnce(model, x, cpuBatch);
  const ips = cpuBatch / ((performance.now() - t0) / 1000);
  rows.push({ engine: 'tfjs cpu backend (pure JS)', threads: 1, imagesPerSec: ips, steps: 1, note: `tfjs backend cpu, batch ${cpuBatch}, no warm-up` });
  console.log(`tfjs cpu backend: ${ips.toFixed(1)} images/s`);
  model.dispose();
  x.dispose();
}

const m = machineInfo();
const load = os.loadavg()[0];
console.log(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; load average ${load.toFixed(2)}`);
console.log(`network: ${archToString(spec)} at 28x28x1, batch ${batch}`);

await timeFast(cores, seconds);
if (cores > 1) await timeFast(1, seconds);
if (!args['no-torch']) {
  rows.push(timeTorch({ python: args.python, plan, batch, seconds: seconds / 2, threads: cores, mode: 'eval' }));
  if (cores > 1) rows.push(timeTorch({ python: args.python, plan, batch, seconds: seconds / 2, threads: 1, mode: 'eval' }));
}
if (!args['no-cpu']) await timeCpu();

const loadAfter = os.loadavg()[0];
const section = [
  HEADING,
  '',
  `Command: \`${commandLine('bench:eval')}\` (${new Date().toISOString().slice(0, 16)}Z)`,
  '',
  machineLine(load, loadAfter),
  '',
  `Network: small-input MobileNetV2 preset, width ${width} (\`${archToString(spec)}\`), 28x28x1 input, 10 classes, ` +
    `batch ${batch}, inference mode (BN on moving statistics), random data; PyTorch evaluates the same network plan ` +
    '(bench/torch_train.py in eval mode: model.eval(), torch.no_grad(), channels-last memory format, which was ~1.5x faster than NCHW here).',
  '',
  speedTable(rows, 'batches timed'),
  '',
  'Inference images/s = images / wall time of `model.predict(x, {batchSize})` (or `runner.predict(x)` of the folded runner) + `dataSync()` (the work of `evaluateModel` per batch, ' +
    'without building the input tensor); the folded runner is created once per evaluateModel call (time in the note). ' +
    'The fast-path variants alternate in ~1 s rounds in one process. ' +
    '"Before" is the state before the inference kernels: the stock WASM FusedBatchNorm (a scalar loop, ~65% of predict time), ' +
    'Relu and Relu6 (single-threaded), and predict\'s default batchSize 32, which evaluateModel used; set NAS_FAST_INFERENCE=0 to run the stock kernels without folding. ' +
    `The cpu backend is timed over one batch of ${cpuBatch}. OpenMP: GOMP_SPINCOUNT=${process.env.GOMP_SPINCOUNT ?? 'unset'} for the fast path and PyTorch.`,
  '',
].join('\n');
console.log('\n' + speedTable(rows, 'batches timed'));
if (!args['no-write']) {
  writeBenchmarksSection(HEADING, section);
  console.log(`\nwrote BENCHMARKS.md section "${HEADING}"`);
}
