import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTfliteModel, timeInvoke } from '../../src/tflite/interpreter.ts';
import { BuiltinOperator, BuiltinOptions, TfliteGraph } from '../../src/tflite/graph.ts';
import { AddOptions } from '../../src/tflite/schema/tflite/add-options.ts';
import { Conv2DOptions } from '../../src/tflite/schema/tflite/conv2doptions.ts';
import { Padding } from '../../src/tflite/schema/tflite/padding.ts';
import { ActivationFunctionType } from '../../src/tflite/schema/tflite/activation-function-type.ts';

/** input [1,4,4,2] -> CONV_2D 1x1 (3 filters, bias, RELU) -> ADD const -> output */
function tinyModel(): { bytes: Uint8Array; filter: Float32Array; bias: Float32Array; addend: Float32Array } {
  const g = new TfliteGraph();
  const filter = Float32Array.from({ length: 3 * 2 }, (_, i) => (i % 2 === 0 ? 1 : -0.5) * (i + 1) / 4);
  const bias = Float32Array.from([0.1, -0.2, 0.3]);
  const addend = Float32Array.from({ length: 3 }, (_, i) => i - 1);
  const x = g.addTensor({ name: 'input', shape: [1, 4, 4, 2], dtype: 'float32' });
  const w = g.addConstFloat('w', [3, 1, 1, 2], filter);
  const bb = g.addConstFloat('b', [3], bias);
  const y = g.addTensor({ name: 'conv', shape: [1, 4, 4, 3], dtype: 'float32' });
  const c = g.addConstFloat('c', [3], addend);
  const z = g.addTensor({ name: 'output', shape: [1, 4, 4, 3], dtype: 'float32' });
  g.addOp({
    op: BuiltinOperator.CONV_2D, version: 1, inputs: [x, w, bb], outputs: [y],
    options: (b) => ({ type: BuiltinOptions.Conv2DOptions, offset: Conv2DOptions.createConv2DOptions(b, Padding.SAME, 1, 1, ActivationFunctionType.RELU, 1, 1, 0) }),
  });
  g.addOp({
    op: BuiltinOperator.ADD, version: 1, inputs: [y, c], outputs: [z],
    options: (b) => ({ type: BuiltinOptions.AddOptions, offset: AddOptions.createAddOptions(b, ActivationFunctionType.NONE, false) }),
  });
  g.inputs = [x];
  g.outputs = [z];
  return { bytes: g.serialize({ description: 'interpreter test' }), filter, bias, addend };
}

test('interpreter: runs a CONV_2D+ADD model and matches a reference computation', async () => {
  const { bytes, filter, bias, addend } = tinyModel();
  const m = await loadTfliteModel(bytes);
  try {
    assert.deepEqual(m.inputs.map((t) => [t.name, t.shape, t.dtype]), [['input', [1, 4, 4, 2], 'float32']]);
    assert.deepEqual(m.outputs.map((t) => [t.name, t.shape, t.dtype]), [['output', [1, 4, 4, 3], 'float32']]);
    const input = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i * 0.7) * 2);
    const [out] = m.run([input]);
    assert.equal(out.length, 48);
    for (let p = 0; p < 16; p++) {
      for (let o = 0; o < 3; o++) {
        const conv = input[p * 2] * filter[o * 2] + input[p * 2 + 1] * filter[o * 2 + 1] + bias[o];
        const want = Math.max(0, conv) + addend[o];
        assert.ok(Math.abs(out[p * 3 + o] - want) < 1e-5, `pixel ${p} ch ${o}: ${out[p * 3 + o]} vs ${want}`);
      }
    }
    assert.ok(typeof m.lastInvokeMs === 'number' && m.lastInvokeMs >= 0);
  } finally {
    m.dispose();
  }
});

test('interpreter: timeInvoke returns one positive time per run; wrong input size is rejected', async () => {
  const { bytes } = tinyModel();
  const m = await loadTfliteModel(bytes, { enableProfiling: true });
  try {
    const times = timeInvoke(m, { warmup: 2, runs: 7, inputs: [new Float32Array(32).fill(1)] });
    assert.equal(times.length, 7);
    assert.ok(times.every((t) => Number.isFinite(t) && t >= 0));
    const prof = m.profile();
    assert.ok(prof.length > 0, 'profiling entries recorded');
    assert.throws(() => m.run([new Float32Array(5)]), /needs 32 values, got 5/);
  } finally {
    m.dispose();
  }
});

test('interpreter: a corrupt flatbuffer is rejected with a clear error', async () => {
  const bytes = tinyModel().bytes.slice(0, 64);
  await assert.rejects(loadTfliteModel(bytes), /TFLite interpreter rejected the model/);
});

test('interpreter: coexists with the tfjs WASM backend in one process (interpreter loaded first)', async () => {
  const { bytes } = tinyModel();
  const first = await loadTfliteModel(bytes);
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  try {
    assert.ok(await tf.setBackend('wasm'), 'tfjs wasm backend starts after the interpreter was loaded');
    const sum = tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 2]) as import('@tensorflow/tfjs').Tensor4D, tf.ones([3, 3, 2, 1]) as import('@tensorflow/tfjs').Tensor4D, 1, 'same').sum().dataSync()[0]);
    assert.equal(sum, 2 * (4 * 9 + 4 * 6 + 4 * 6 + 4 * 4) / 1);
    const second = await loadTfliteModel(bytes);
    const x = new Float32Array(32).fill(0.5);
    assert.deepEqual(second.run([x])[0], first.run([x])[0]);
    second.dispose();
  } finally {
    first.dispose();
    await tf.setBackend('cpu');
  }
});
