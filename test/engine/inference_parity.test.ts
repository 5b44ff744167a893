// Inference-mode parity of the fast path (inference_kernels.ts: batch norm on
// moving statistics, Relu/Relu6; the native/XNNPACK conv and depthwise
// forward kernels) against the tfjs cpu backend: whole networks with SE,
// residual adds, relu/relu6/hswish, kernels 3/5/7, strides 1/2 and odd
// channel counts, random BN statistics, compared on the pooled features and
// the softmax output; the FusedBatchNorm kernel alone with and without
// scale/offset and with a broadcast shape it leaves to the stock kernel; and
// a constant tensor count over repeated predict calls. The folded inference
// runner (inference_model.ts: conv + BN (+ relu/relu6) as one fused op) is
// compared the same way, on the fast paths and on the cpu backend itself.

import * as tf from '@tensorflow/tfjs';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend.ts';
import { inferenceKernelStats } from '../../src/engine/inference_kernels.ts';
import { createInferenceRunner } from '../../src/engine/inference_model.ts';
import { buildModel } from '../../src/space/builder.ts';
import type { ArchSpec, BlockSpec } from '../../src/space/types.ts';
import { assertClose, onBackend } from './parity_cases.ts';

function block(p: Partial<BlockSpec> & Pick<BlockSpec, 'op' | 'channels'>): BlockSpec {
  return { repeats: 1, kernel: 3, stride: 1, expansion: 1, seRatio: 0, skip: true, activation: 'relu', ...p };
}

const CASES: Array<{ name: string; spec: ArchSpec; channels: number }> = [
  {
    name: 'MBConv k3/k5/k7, SE, skips, relu6/hswish/relu',
    channels: 1,
    spec: {
      version: 1, stem: { channels: 7, kernel: 3, stride: 1, activation: 'relu6' },
      blocks: [
        block({ op: 'ir', channels: 7, kernel: 3, expansion: 3, seRatio: 0.25, activation: 'relu6' }),
        block({ op: 'ir', channels: 11, kernel: 5, stride: 2, expansion: 6, activation: 'hswish', repeats: 2 }),
        block({ op: 'ir', channels: 13, kernel: 7, expansion: 3, seRatio: 0.5, activation: 'relu' }),
      ],
      head: { channels: 23, activation: 'hswish', dropout: 0.2 },
    },
  },
  {
    name: 'regular conv and depthwise-separable blocks, stride-2 stem, relu/relu6',
    channels: 3,
    spec: {
      version: 1, stem: { channels: 9, kernel: 5, stride: 2, activation: 'relu' },
      blocks: [
        block({ op: 'conv', channels: 9, kernel: 3, activation: 'relu6', seRatio: 0.25 }),
        block({ op: 'ds', channels: 15, kernel: 7, stride: 2, activation: 'relu', repeats: 2 }),
        block({ op: 'ir', channels: 15, kernel: 3, expansion: 4, activation: 'hswish' }),
      ],
      head: { channels: 0, activation: 'relu', dropout: 0 },
    },
  },
];

/** Deterministic random weights with non-trivial BN statistics (moving variance in [0.5, 2], gamma around 1). */
function randomWeights(model: tf.LayersModel, seed: number): Array<{ shape: number[]; data: Float32Array }> {
  return model.weights.map((w, i) => {
    const shape = w.shape as number[];
    const n = tf.util.sizeFromShape(shape);
    const t = tf.tidy(() => {
      if (w.name.includes('moving_variance')) return tf.randomUniform([n], 0.5, 2, 'float32', seed + i);
      if (w.name.includes('gamma')) return tf.randomUniform([n], 0.5, 1.5, 'float32', seed + i);
      if (w.name.includes('moving_mean') || w.name.includes('beta')) return tf.randomNormal([n], 0, 0.5, 'float32', seed + i);
      return tf.randomNormal([n], 0, Math.sqrt(2 / Math.max(1, n / shape[shape.length - 1])), 'float32', seed + i);
    });
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return { shape, data };
  });
}

/** [pooled features (pre-dense), softmax output] of model.predict in inference mode, or of the folded runner */
function predictOutputs(spec: ArchSpec, channels: number, weights: Array<{ shape: number[]; data: Float32Array }>, folded = false): tf.Tensor[] {
  const input = { height: 15, width: 13, channels };
  const model = buildModel(spec, { inputShape: input, numClasses: 5, seed: 7 });
  model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
  const gap = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D');
  assert.ok(gap, 'the network has a global pooling layer');
  const probe = tf.model({ inputs: model.inputs, outputs: [gap.output as tf.SymbolicTensor, model.outputs[0]] });
  const x = tf.randomNormal([5, input.height, input.width, channels], 0, 1, 'float32', 21);
  let out: tf.Tensor[];
  if (folded) {
    const features = tf.model({ inputs: model.inputs, outputs: gap.output as tf.SymbolicTensor });
    const runners = [createInferenceRunner(features), createInferenceRunner(model)];
    for (const r of runners) assert.ok(r.fusedGroups > 0, 'the runner fused conv + batch-norm groups');
    out = runners.map((r) => r.predict(x));
    for (const r of runners) r.dispose();
  } else {
    out = probe.predict(x, { batchSize: 5 }) as tf.Tensor[];
  }
  x.dispose();
  model.dispose();
  return out;
}

describe('the folded runner on the tfjs cpu backend matches model.predict', () => {
  it(CASES[1].name, async () => {
    await initBackend({ backend: 'cpu' });
    const c = CASES[1];
    const ref = buildModel(c.spec, { inputShape: { height: 15, width: 13, channels: c.channels }, numClasses: 5, seed: 7 });
    const weights = randomWeights(ref, 5);
    ref.dispose();
    const want = await onBackend('cpu', () => predictOutputs(c.spec, c.channels, weights));
    const got = await onBackend('cpu', () => predictOutputs(c.spec, c.channels, weights, true));
    assertClose('cpu folded runner', got, want);
  });
});

for (const choice of ['fast', 'fast-js'] as const) describe(`inference on the ${choice} path matches the tfjs cpu backend`, () => {
  let fastBackend = 'wasm';
  before(async () => {
    fastBackend = (await initBackend({ backend: choice })).tfBackend;
  });

  for (const c of CASES) {
    it(c.name, async () => {
      await tf.setBackend('cpu');
      const ref = buildModel(c.spec, { inputShape: { height: 15, width: 13, channels: c.channels }, numClasses: 5, seed: 7 });
      const weights = randomWeights(ref, 11);
      ref.dispose();
      const want = await onBackend('cpu', () => predictOutputs(c.spec, c.channels, weights));
      const bnBefore = inferenceKernelStats.batchNormNative + inferenceKernelStats.batchNormJs;
      const got = await onBackend(fastBackend, () => predictOutputs(c.spec, c.channels, weights));
      assert.ok(inferenceKernelStats.batchNormNative + inferenceKernelStats.batchNormJs > bnBefore, 'batch norm ran on the inference kernel');
      assertClose(`${c.name}: pooled features, softmax`, got, want);
      const gotFolded = await onBackend(fastBackend, () => predictOutputs(c.spec, c.channels, weights, true));
      assertClose(`${c.name}: folded runner: pooled features, softmax`, gotFolded, want);
    });
  }

  it('the folded runner replaces batch norm and keeps tensor counts constant; dispose frees the folded weights', async () => {
    await tf.setBackend(fastBackend);
    const model = buildModel(CASES[0].spec, { inputShape: { height: 15, width: 13, channels: 1 }, numClasses: 5, seed: 3 });
    const x = tf.randomNormal([4, 15, 13, 1]);
    const base = tf.memory().numTensors;
    const runner = createInferenceRunner(model);
    const prof = await tf.profile(() => { tf.tidy(() => runner.predict(x).dataSync()); });
    const names = new Set(prof.kernels.map((k) => k.name));
    assert.ok(!names.has('FusedBatchNorm'), 'no batch-norm kernel ran');
    assert.ok(names.has('FusedConv2D') && names.has('FusedDepthwiseConv2D'), `fused convs ran: ${[...names].join(', ')}`);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const y = runner.predict(x);
      y.dispose();
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual(counts, [counts[0], counts[0], counts[0]], `numTensors per call: ${counts.join(', ')}`);
    runner.dispose();
    assert.equal(tf.memory().numTensors, base);
    model.dispose();
    x.dispose();
  });

  it('FusedBatchNorm: per-channel with/without scale and offset, and a broadcast shape left to the stock kernel', async () => {
    const f = () => tf.tidy(() => {
      const x = tf.randomNormal([3, 5, 4, 7], 0, 2, 'float32', 1);
      const mean = tf.randomNormal([7], 0, 1, 'float32', 2);
      const variance = tf.randomUniform([7], 0.1, 3, 'float32', 3);
      const scale = tf.randomNormal([7], 1, 0.5, 'float32', 4);
      const offset = tf.randomNormal([7], 0, 1, 'float32', 5);
      const fullMean = tf.randomNormal([3, 5, 4, 7], 0, 1, 'float32', 6);
      const fullVar = tf.randomUniform([3, 5, 4, 7], 0.1, 3, 'float32', 7);
      return [
        tf.batchNorm(x, mean, variance, offset, scale, 1e-3),
        tf.batchNorm(x, mean, variance, undefined, undefined, 1e-3),
        tf.batchNorm(x, mean, variance, offset, undefined, 1e-5),
        tf.batchNorm(x, fullMean, fullVar, undefined, undefined, 1e-3),
        tf.batchNorm(x, mean.reshape([1, 1, 1, 7]), variance.reshape([1, 1, 1, 7]), offset.reshape([1, 1, 1, 7]), scale.reshape([1, 1, 1, 7]), 1e-3),
        tf.relu(x), tf.relu6(tf.mul(x, 4)),
      ];
    });
    assertClose('batchNorm/relu/relu6', await onBackend(fastBackend, f), await onBackend('cpu', f));
  });

  it('fused conv/depthwise ops with bias and relu/relu6 epilogues (odd channel counts, k3/k5, strides 1/2)', async () => {
    const f = () => tf.tidy(() => {
      const out: tf.Tensor[] = [];
      for (const [c, k, s, act] of [[37, 3, 1, 'relu6'], [21, 5, 2, 'relu'], [16, 3, 2, 'linear'], [3, 7, 1, 'relu6']] as const) {
        const x = tf.randomNormal([2, 9, 11, c], 0, 2, 'float32', c) as tf.Tensor4D;
        const dw = tf.randomNormal([k, k, c, 1], 0, 0.5, 'float32', k) as tf.Tensor4D;
        const pw = tf.randomNormal([1, 1, c, 19], 0, 0.5, 'float32', s) as tf.Tensor4D;
        const bias = tf.randomNormal([c], 0, 1, 'float32', 3) as tf.Tensor1D;
        const bias19 = tf.randomNormal([19], 0, 1, 'float32', 4) as tf.Tensor1D;
        out.push(tf.fused.depthwiseConv2d({ x, filter: dw, strides: s, pad: 'same', bias, activation: act }));
        out.push(tf.fused.depthwiseConv2d({ x, filter: dw, strides: s, pad: 'valid', activation: act }));
        out.push(tf.fused.conv2d({ x, filter: pw, strides: 1, pad: 'same', bias: bias19, activation: act }));
        out.push(tf.fused.conv2d({ x, filter: pw, strides: 1, pad: 'same', activation: act }));
      }
      return out;
    });
    assertClose('fused convs', await onBackend(fastBackend, f), await onBackend('cpu', f));
  });

  it('repeated predict calls keep the tensor and WASM buffer counts constant', async () => {
    await tf.setBackend(fastBackend);
    const model = buildModel(CASES[0].spec, { inputShape: { height: 15, width: 13, channels: 1 }, numClasses: 5, seed: 3 });
    const x = tf.randomNormal([4, 15, 13, 1]);
    const counts: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      tf.tidy(() => (model.predict(x, { batchSize: 4 }) as tf.Tensor).dataSync());
      const y = model.predict(x) as tf.Tensor; // default batchSize path too
      y.dispose();
      counts.push(tf.memory().numTensors);
      ids.push(tf.engine().backend.numDataIds());
    }
    assert.deepEqual(counts.slice(1), [counts[0], counts[0], counts[0]], `numTensors per call: ${counts.join(', ')}`);
    assert.deepEqual(ids.slice(1), [ids[0], ids[0], ids[0]], `backend data ids per call: ${ids.join(', ')}`);
    model.dispose();
    x.dispose();
  });
});
