import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../src/space/builder.ts';
import { parseArchString } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { expandNetwork } from '../../src/space/network.ts';

const defaults = { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head };

describe('model builder', () => {
  it('builds every op kind and runs forward with the planned output shapes', () => {
    const spec = parseArchString('stem_k3_s1_c8 ir_r2_k3_s2_e3_c8_se0.25_hswish ds_r1_k5_s1_c12_relu6 conv_r2_k7_s2_c12_se0.25_swish head_c16_d0.2', defaults);
    const input = { height: 12, width: 12, channels: 1 };
    const model = buildModel(spec, { inputShape: input, numClasses: 5, seed: 1 });
    const plan = expandNetwork(spec, input, 5);
    // Every planned op has its layer, named by the convention the exporter relies on.
    for (const op of plan.layers.flatMap((l) => l.ops)) {
      const expected = op.kind === 'conv2d' ? `${op.name}_conv` : op.kind === 'dwconv2d' ? `${op.name}_dwconv` : op.kind === 'se' ? `${op.name}_mul` : op.name;
      assert.ok(model.getLayer(expected), `layer ${expected}`);
    }
    for (const l of plan.layers.slice(0, -1)) {
      const last = l.ops[l.ops.length - 1];
      if (last.kind === 'add') assert.deepEqual(model.getLayer(last.name).outputShape, [null, ...l.outShape]);
    }
    const y = tf.tidy(() => model.predict(tf.randomNormal([3, 12, 12, 1], 0, 1, 'float32', 1)) as tf.Tensor);
    assert.deepEqual(y.shape, [3, 5]);
    const sums = tf.tidy(() => y.sum(1).arraySync() as number[]);
    for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
    y.dispose();
    model.dispose();
  });

  it('same seed gives the same initial weights', () => {
    const spec = parseArchString('ir_r1_k3_s1_e3_c8', defaults);
    const input = { height: 8, width: 8, channels: 1 };
    const a = buildModel(spec, { inputShape: input, numClasses: 3, seed: 4 });
    const b = buildModel(spec, { inputShape: input, numClasses: 3, seed: 4 });
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(wa, wb);
    a.dispose();
    b.dispose();
  });
});
