// The standard TFLite metadata of exported models, checked by the TFLite Task
// Library's ImageClassifier (tfjs-tflite's WASM build, run in Node): it must
// load the model, read the labels packed in it, apply the input
// normalization from the metadata, and give the scores our own interpreter
// gives for the same preprocessed input.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { classifierMetadata, packAssociatedFiles } from '../../src/export/classifier-metadata.ts';
import { exportModel } from '../../src/export/export-model.ts';
import { saveTfjsModel } from '../../src/export/tfjs-format.ts';
import { emitTflite, floatEncoder, lowerWithWeights } from '../../src/export/tflite-writer.ts';
import { loadTfliteModel } from '../../src/tflite/interpreter.ts';
import { createTaskImageClassifier, type RgbaImage } from '../../src/tflite/task-library.ts';
import { expandNetwork } from '../../src/space/network.ts';
import { createRng } from '../../src/space/rng.ts';
import type { InputShape } from '../../src/space/types.ts';
import { arch, buildTestModel } from './helpers.ts';

tf.setBackend('cpu');
const SPEC = arch('stem_k3_s2_c8_relu ir_r1_k3_s2_e3_c8_se0.25 head_c16_swish');
const RGB: InputShape = { height: 32, width: 32, channels: 3 };
const LABELS = ['cat', 'dog', 'bird', 'frog'];
const tmp = () => mkdtempSync(join(tmpdir(), 'nas-tasklib-'));

function randomImage(input: InputShape, seed: number): RgbaImage {
  const rng = createRng(seed);
  const data = new Uint8ClampedArray(input.width * input.height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i & 3) === 3 ? 255 : Math.floor(rng.next() * 256);
  return { width: input.width, height: input.height, data };
}

/** What the metadata says the runtime must do: RGB pixels -> (p - mean) / std, NHWC. */
function preprocess(img: RgbaImage, mean: number[], std: number[]): Float32Array {
  const n = img.width * img.height;
  const x = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) x[3 * i + c] = (img.data[4 * i + c] - mean[c]) / std[c];
  return x;
}

async function interpreterScores(bytes: Uint8Array, x: Float32Array): Promise<number[]> {
  const m = await loadTfliteModel(bytes);
  try {
    return Array.from(m.run([x])[0]);
  } finally {
    m.dispose();
  }
}

/** Task Library scores by label, and the max difference to our interpreter's scores. */
async function compareWithTaskLibrary(bytes: Uint8Array, img: RgbaImage, x: Float32Array, labels: string[]) {
  const ours = await interpreterScores(bytes, x);
  const classifier = await createTaskImageClassifier(bytes);
  try {
    const classes = classifier.classify(img);
    assert.equal(classes.length, labels.length, 'one result per class');
    assert.deepEqual([...classes.map((c) => c.className)].sort(), [...labels].sort(), 'class names are our labels');
    let maxDiff = 0;
    for (const c of classes) {
      assert.equal(c.className, labels[c.index], `label of index ${c.index}`);
      maxDiff = Math.max(maxDiff, Math.abs(c.score - ours[c.index]));
    }
    for (let i = 1; i < classes.length; i++) assert.ok(classes[i - 1].score >= classes[i].score, 'sorted best first');
    return { classes, ours, maxDiff };
  } finally {
    classifier.dispose();
  }
}

/** A weights directory with non-trivial BN statistics, so that scores depend on the input. */
async function weightsDir(input: InputShape, numClasses: number): Promise<string> {
  const model = buildTestModel(SPEC, input, numClasses, 7);
  const dir = tmp();
  await saveTfjsModel(model, dir);
  model.dispose();
  return dir;
}

test('Task Library ImageClassifier reads labels and normalization of float32 and int8 (float I/O) exports', async () => {
  const weights = await weightsDir(RGB, LABELS.length);
  const img = randomImage(RGB, 11);
  const x = preprocess(img, [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]);
  for (const format of ['tflite', 'tflite-int8'] as const) {
    const r = await exportModel({ arch: SPEC, input: RGB, numClasses: LABELS.length, format, outDir: tmp(), weightsDir: weights, labels: LABELS });
    const bytes = readFileSync(r.files[0]);
    const { ours, maxDiff } = await compareWithTaskLibrary(bytes, img, x, LABELS);
    assert.ok(maxDiff <= 1e-6, `${format}: Task Library scores differ from the interpreter's by ${maxDiff}`);
    // The comparison discriminates: unnormalized pixels give other scores.
    const raw = Float32Array.from(x, (v) => v * 127.5 + 127.5);
    const rawScores = await interpreterScores(bytes, raw);
    assert.ok(Math.max(...rawScores.map((s, i) => Math.abs(s - ours[i]))) > 1e-3, `${format}: model output insensitive to normalization`);
  }
});

test('per-channel mean/std from the metadata are applied by the Task Library', async () => {
  const model = buildTestModel(SPEC, RGB, 3, 3);
  const ir = lowerWithWeights(expandNetwork(SPEC, RGB, 3), model);
  model.dispose();
  const labels = ['red', 'green', 'blue'];
  const normalization = { mean: [100, 128, 150], std: [40, 64, 90] };
  const md = classifierMetadata({ input: RGB, numClasses: 3, labels, normalization });
  const bytes = packAssociatedFiles(emitTflite(ir, { encode: floatEncoder, ioType: 'float32', metadata: md.entries }), md.files);
  const img = randomImage(RGB, 5);
  const x = preprocess(img, normalization.mean, normalization.std);
  const { ours, maxDiff } = await compareWithTaskLibrary(bytes, img, x, labels);
  assert.ok(maxDiff <= 1e-6, `scores differ by ${maxDiff}`);
  const other = await interpreterScores(bytes, preprocess(img, [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]));
  assert.ok(Math.max(...other.map((s, i) => Math.abs(s - ours[i]))) > 1e-3, 'the per-channel values matter');
});

test('Task Library limits: int8 graph input and 1-channel input are rejected (recorded)', async () => {
  const weights = await weightsDir(RGB, LABELS.length);
  const r = await exportModel({ arch: SPEC, input: RGB, numClasses: LABELS.length, format: 'tflite-int8', int8Io: true, outDir: tmp(), weightsDir: weights, labels: LABELS });
  await assert.rejects(createTaskImageClassifier(readFileSync(r.files[0])), /kTfLiteUint8\/kTfLiteFloat32, got INT8/);
  const gray: InputShape = { height: 28, width: 28, channels: 1 };
  const g = await exportModel({ arch: SPEC, input: gray, numClasses: 2, format: 'tflite', outDir: tmp(), labels: ['zero', 'one'] });
  await assert.rejects(createTaskImageClassifier(readFileSync(g.files[0])), /Only RGB color space is supported/);
});

test('uint8 I/O int8 export: raw 0..255 pixels in (normalization folded), read by the Task Library as the interpreter does', async () => {
  const weights = await weightsDir(RGB, LABELS.length);
  const img = randomImage(RGB, 12);
  const x = preprocess(img, [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]);
  const r = await exportModel({ arch: SPEC, input: RGB, numClasses: LABELS.length, format: 'tflite-int8', int8Io: 'uint8', outDir: tmp(), weightsDir: weights, labels: LABELS });
  const bytes = readFileSync(r.files[0]);
  const q = r.card.quantization!;
  assert.equal(q.ioType, 'uint8');
  assert.deepEqual(q.input, { scale: Math.fround(1 / 127.5), zeroPoint: 127 });
  const m = await loadTfliteModel(bytes);
  let ours: number[];
  try {
    assert.equal(m.inputs[0].dtype, 'uint8');
    assert.equal(m.outputs[0].dtype, 'uint8');
    // Raw RGB pixels straight in, no normalization.
    const pixels = Uint8Array.from({ length: RGB.height * RGB.width * 3 }, (_, i) => img.data[4 * Math.floor(i / 3) + (i % 3)]);
    const out = m.run([pixels])[0] as Uint8Array;
    ours = Array.from(out, (v) => (v - q.output!.zeroPoint) * q.output!.scale);
  } finally {
    m.dispose();
  }
  const classifier = await createTaskImageClassifier(bytes);
  try {
    const classes = classifier.classify(img);
    for (const c of classes) assert.ok(Math.abs(c.score - ours[c.index]) <= 1e-6, `Task Library score of ${c.className} ${c.score} vs ${ours[c.index]}`);
  } finally {
    classifier.dispose();
  }
  // And the quantized model computes what the float model computes on the normalized image.
  const f = await exportModel({ arch: SPEC, input: RGB, numClasses: LABELS.length, format: 'tflite', outDir: tmp(), weightsDir: weights, labels: LABELS });
  const ref = await interpreterScores(readFileSync(f.files[0]), x);
  const diff = Math.max(...ref.map((p, i) => Math.abs(p - ours[i])));
  assert.ok(diff <= 0.05, `uint8 export vs float export: max |dp| ${diff}`);
});
