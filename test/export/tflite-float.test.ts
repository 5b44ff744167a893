// Float32 export round trip: .tflite in the TFLite interpreter vs tfjs
// model.predict on the same inputs (max abs difference <= 1e-4), for
// hand-built ArchSpecs covering every op kind, every preset (small input
// variant) and random samples of the search space.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { emitTflite, floatEncoder, lowerWithWeights } from '../../src/export/tflite-writer.ts';
import { loadTfliteModel } from '../../src/tflite/interpreter.ts';
import { readTfliteModel } from '../../src/tflite/reader.ts';
import { expandNetwork } from '../../src/space/network.ts';
import { getPreset, presetNames } from '../../src/space/presets.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { createRng } from '../../src/space/rng.ts';
import { archToString } from '../../src/space/archspec.ts';
import type { ArchSpec, InputShape } from '../../src/space/types.ts';
import { arch, buildTestModel, maxAbsDiff, predictTfjs, randomInputs } from './helpers.ts';

tf.setBackend('cpu');
const TOL = 1e-4;

/** Exports with the pooled features as an extra output and compares both with tfjs. */
async function roundTrip(spec: ArchSpec, input: InputShape, numClasses: number, seed: number, samples = 2): Promise<{ probDiff: number; featDiff: number; ops: string[] }> {
  const plan = expandNetwork(spec, input, numClasses);
  const model = buildTestModel(spec, input, numClasses, seed);
  const ir = lowerWithWeights(plan, model);
  const pool = ir.tensors.find((t) => t.name === 'head_pool')!;
  const bytes = emitTflite(ir, { encode: floatEncoder, ioType: 'float32', extraOutputs: [pool.id] });
  const featModel = tf.model({ inputs: model.inputs, outputs: model.getLayer('head_pool').output as tf.SymbolicTensor });
  const xs = randomInputs(input, samples, createRng(seed + 2));
  const probs = predictTfjs(model, input, xs);
  const feats = predictTfjs(featModel, input, xs);
  const m = await loadTfliteModel(bytes);
  let probDiff = 0;
  let featDiff = 0;
  try {
    xs.forEach((x, i) => {
      const [p, f] = m.run([x]);
      probDiff = Math.max(probDiff, maxAbsDiff(p, probs[i]));
      featDiff = Math.max(featDiff, maxAbsDiff(f, feats[i]));
    });
  } finally {
    m.dispose();
    model.dispose();
  }
  return { probDiff, featDiff, ops: readTfliteModel(bytes).operators.map((o) => o.op) };
}

const HAND_BUILT: { name: string; text: string; input: InputShape; ops: string[] }[] = [
  {
    name: 'ir k3 s1 e3 skip relu6, stem s2, head relu6',
    text: 'stem_k3_s2_c8_relu6 ir_r2_k3_s1_e3_c8_relu6 head_c16_d0.1_relu6',
    input: { height: 16, width: 16, channels: 3 },
    ops: ['CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD', 'MEAN', 'FULLY_CONNECTED', 'SOFTMAX'],
  },
  {
    name: 'conv k5 s2 hswish, ds k7 SE swish skip, ir k5 s2 e6 SE hswish, ir e1 relu, head swish',
    text: 'stem_k3_s1_c8 conv_r1_k5_s2_c12_hswish ds_r2_k7_s1_c12_se0.25_swish ir_r2_k5_s2_e6_c16_se0.25_hswish ir_r1_k3_s1_e1_c16_relu head_c32_swish',
    input: { height: 16, width: 16, channels: 3 },
    ops: ['CONV_2D', 'HARD_SWISH', 'DEPTHWISE_CONV_2D', 'LOGISTIC', 'MUL', 'MEAN', 'ADD', 'FULLY_CONNECTED', 'SOFTMAX'],
  },
  {
    name: 'odd input 15x13x1, conv k3 s2 SE relu6 noskip, ds k5 s2 hswish, ir k7 s2 e6 relu, no head conv',
    text: 'stem_k5_s1_c8_hswish conv_r2_k3_s2_c8_se0.25_noskip_relu6 ds_r1_k5_s2_c16_hswish ir_r2_k7_s2_e6_c24 head_c0',
    input: { height: 15, width: 13, channels: 1 },
    ops: ['CONV_2D', 'HARD_SWISH', 'MEAN', 'LOGISTIC', 'MUL', 'DEPTHWISE_CONV_2D', 'ADD', 'FULLY_CONNECTED', 'SOFTMAX'],
  },
];

for (const c of HAND_BUILT) {
  test(`float32 tflite matches tfjs: ${c.name}`, async () => {
    const r = await roundTrip(arch(c.text), c.input, 7, 11);
    assert.ok(r.featDiff <= TOL, `pooled features max abs diff ${r.featDiff}`);
    assert.ok(r.probDiff <= TOL, `probabilities max abs diff ${r.probDiff}`);
    for (const op of c.ops) assert.ok(r.ops.includes(op), `${op} present (ops: ${[...new Set(r.ops)].join(', ')})`);
  });
}

for (const name of presetNames()) {
  test(`float32 tflite matches tfjs: preset ${name} (small-input variant, 16x16x3)`, async () => {
    const spec = name === 'efficientnet-b0' ? getPreset(name, { smallInput: true }) : getPreset(name, { smallInput: true, widthMultiplier: 0.5 });
    const r = await roundTrip(spec, { height: 16, width: 16, channels: 3 }, 10, 21, 1);
    assert.ok(r.featDiff <= TOL && r.probDiff <= TOL, `features ${r.featDiff}, probabilities ${r.probDiff}`);
  });
}

test('float32 tflite matches tfjs: 3 random ArchSpecs of the small search space at 28x28x1', async () => {
  const rng = createRng(2026);
  for (let i = 0; i < 3; i++) {
    const spec = sampleArch(SKELETON_SMALL, rng);
    const r = await roundTrip(spec, { height: 28, width: 28, channels: 1 }, 10, 100 + i, 1);
    assert.ok(r.featDiff <= TOL && r.probDiff <= TOL, `${archToString(spec)}: features ${r.featDiff}, probabilities ${r.probDiff}`);
  }
});

test('float32 tflite: layout facts (schema version, OHWI / 1HWO filters, folded bias, metadata)', () => {
  const spec = arch('stem_k3_s2_c8 ds_r1_k5_s1_c12 head_c0');
  const input = { height: 8, width: 8, channels: 3 };
  const model = buildTestModel(spec, input, 4, 5);
  const ir = lowerWithWeights(expandNetwork(spec, input, 4), model);
  const m = readTfliteModel(emitTflite(ir, { encode: floatEncoder, ioType: 'float32' }));
  assert.equal(m.version, 3);
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  assert.deepEqual(byName.get('stem/filter')!.shape, [8, 3, 3, 3]);
  assert.deepEqual(byName.get('b0_l0_dw/filter')!.shape, [1, 5, 5, 8]);
  assert.deepEqual(byName.get('classifier/weights')!.shape, [4, 12]);
  assert.deepEqual(m.tensors[m.inputs[0]].shape, [1, 8, 8, 3]);
  assert.deepEqual(m.tensors[m.outputs[0]].shape, [1, 4]);
  // The folded stem bias is beta - mean * gamma / sqrt(var + 1e-3).
  const [gamma, beta, mean, variance] = model.getLayer('stem_bn').getWeights().map((w) => w.dataSync());
  const bias = new Float32Array(byName.get('stem/bias')!.data!.slice().buffer);
  for (let c = 0; c < 8; c++) {
    assert.ok(Math.abs(bias[c] - (beta[c] - (mean[c] * gamma[c]) / Math.sqrt(variance[c] + 1e-3))) < 1e-6);
  }
  assert.equal(new TextDecoder().decode(m.metadata.min_runtime_version).replace(/\0+$/, ''), '1.5.0');
  assert.ok(m.operators.every((o) => o.version === 1), 'float32 kernels are version 1');
  assert.deepEqual(m.operators.map((o) => o.op), ['CONV_2D', 'DEPTHWISE_CONV_2D', 'CONV_2D', 'MEAN', 'FULLY_CONNECTED', 'SOFTMAX']);
  model.dispose();
});
