// Model-level parity: networks built by src/space/builder.ts from ArchSpecs
// that cover every operator the search space emits (regular conv, depthwise-
// separable and MBConv blocks, kernels 3/5/7, strides 1/2, SE with its
// broadcast multiply, residual adds, batch norm in training mode, relu /
// relu6 / hswish / swish, global pooling, dense + softmax) with odd channel
// counts. Same weights on both backends; compared: training-mode forward
// output, loss, the gradient of the loss w.r.t. every trainable weight, and
// the weights after two SGD-with-momentum steps. Tolerances in
// parity_cases.ts (TOL, FLOOR). SGD rather than Adam for the step check:
// Adam divides by sqrt(v), which turns float32 noise in near-zero gradients
// into full learning-rate steps of either sign.

import * as tf from '@tensorflow/tfjs';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend.ts';
import { ACT_GRAD, BN_TRAIN, BN_TRAIN_GRAD } from '../../src/engine/fused_ops.ts';
import { buildModel } from '../../src/space/builder.ts';
import type { Activation, ArchSpec, BlockSpec } from '../../src/space/types.ts';
import { assertClose, onBackend } from './parity_cases.ts';

function block(p: Partial<BlockSpec> & Pick<BlockSpec, 'op' | 'channels'>): BlockSpec {
  return { repeats: 1, kernel: 3, stride: 1, expansion: 1, seRatio: 0, skip: true, activation: 'relu', ...p };
}

function arch(stemAct: Activation, blocks: BlockSpec[], headC: number, headAct: Activation): ArchSpec {
  return { version: 1, stem: { channels: 7, kernel: 3, stride: 2, activation: stemAct }, blocks, head: { channels: headC, activation: headAct, dropout: 0 } };
}

const CASES: Array<{ name: string; spec: ArchSpec; channels: number }> = [
  {
    name: 'MBConv k3/k5/k7, SE, skips, relu6/hswish',
    channels: 1,
    spec: arch('relu6', [
      block({ op: 'ir', channels: 7, kernel: 3, expansion: 3, seRatio: 0.25, activation: 'relu6' }),
      block({ op: 'ir', channels: 11, kernel: 5, stride: 2, expansion: 6, activation: 'hswish', repeats: 2 }),
      block({ op: 'ir', channels: 13, kernel: 7, expansion: 3, seRatio: 0.5, activation: 'hswish' }),
    ], 23, 'hswish'),
  },
  {
    name: 'regular conv and depthwise-separable blocks, swish/relu, no head conv',
    channels: 3,
    spec: arch('swish', [
      block({ op: 'conv', channels: 9, kernel: 5, stride: 2, activation: 'swish', seRatio: 0.25 }),
      block({ op: 'ds', channels: 9, kernel: 7, activation: 'relu', repeats: 2 }),
      block({ op: 'conv', channels: 5, kernel: 3, activation: 'relu', skip: false }),
    ], 0, 'relu'),
  },
];

for (const choice of ['fast', 'fast-js'] as const) describe(`models train identically on the ${choice} path and the tfjs cpu backend`, () => {
  let fastBackend = 'wasm';
  before(async () => {
    const r = await initBackend({ backend: choice });
    fastBackend = r.tfBackend;
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const input = { height: 15, width: 13, channels: c.channels };
      const numClasses = 5;
      await tf.setBackend('cpu');
      const ref = buildModel(c.spec, { inputShape: input, numClasses, seed: 7 });
      const weights = ref.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync().slice() }));
      ref.dispose();

      const run = () => {
        const model = buildModel(c.spec, { inputShape: input, numClasses, seed: 7 });
        model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
        const x = tf.randomNormal([6, input.height, input.width, input.channels], 0, 1, 'float32', 21);
        const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 1], 'int32'), numClasses);
        const lossOf = () => tf.losses.softmaxCrossEntropy(y, tf.log(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;
        const out = model.apply(x, { training: true }) as tf.Tensor;
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(lossOf, vars);
        const gradList = vars.map((v) => grads[v.name]);
        // two optimizer steps, then the updated weights (BN moving stats included)
        const opt = tf.train.momentum(0.05, 0.9);
        for (let i = 0; i < 2; i++) opt.minimize(() => tf.losses.softmaxCrossEntropy(y, tf.log(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
        const after = model.getWeights().map((w) => w.clone());
        opt.dispose();
        return { forward: [out, value, ...gradList], after, dispose: () => model.dispose() };
      };
      const collect = async (backend: string) => {
        let disposeModel = () => {};
        let after: Float32Array[] = [];
        const forward = await onBackend(backend, () => {
          const r = run();
          disposeModel = r.dispose;
          after = r.after.map((t) => t.dataSync() as Float32Array);
          return r.forward;
        });
        disposeModel();
        return { forward, after };
      };
      const want = await collect('cpu');
      const got = await collect(fastBackend);
      assertClose(`${c.name}: output, loss, gradients`, got.forward, want.forward);
      assertClose(`${c.name}: weights after 2 SGD steps`, got.after, want.after);
    });
  }

  it('training steps run on the fused batch-norm and activation kernels', async () => {
    await tf.setBackend(fastBackend);
    const model = buildModel(CASES[0].spec, { inputShape: { height: 15, width: 13, channels: 1 }, numClasses: 5, seed: 3 });
    const x = tf.randomNormal([4, 15, 13, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5);
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const prof = await tf.profile(async () => { await model.trainOnBatch(x, y); });
    const names = new Set(prof.kernels.map((k) => k.name));
    for (const k of [BN_TRAIN, BN_TRAIN_GRAD, ACT_GRAD]) assert.ok(names.has(k), `kernel ${k} ran`);
    model.dispose();
    tf.dispose([x, y]);
  });
});
