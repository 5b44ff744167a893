// Supernet weight sharing: the elastic-kernel transform, the subnet paths
// through the supernet, and extraction: a subnet's extracted weights in the
// stand-alone network built by src/space/builder.ts give the same outputs as
// the supernet's own forward pass of that subnet.

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.ts';
import { buildModel } from '../../src/space/builder.ts';
import { createRng } from '../../src/space/rng.ts';
import { archFromDecisions, sampleArch } from '../../src/space/sampler.ts';
import { TINY_SKELETON } from './fixtures.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { resolveArch } from '../../src/space/resolve.ts';
import { applyNamedWeights } from '../../src/train/trainer.ts';
import { disposeWeights } from '../../src/refine/prune.ts';
import { centre, elasticKernel, transformSpatial } from '../../src/supernet/kernel.ts';
import { largestDecisions, smallestDecisions, subnetConfig, supernetLayout } from '../../src/supernet/layout.ts';
import { extractSubnet } from '../../src/supernet/extract.ts';
import { MasterReader, subnetForward } from '../../src/supernet/subnet.ts';
import { createMasterWeights, disposeMaster } from '../../src/supernet/weights.ts';


const INPUT = { height: 12, width: 12, channels: 1 };

before(async () => {
  await initBackend({});
});

describe('elastic kernel', () => {
  it('starts as the master\'s centre (identity transforms) and is the master at 7x7', () => {
    tf.tidy(() => {
      const m = tf.randomNormal([7, 7, 3, 2], 0, 1, 'float32', 1);
      const t = { t75: tf.eye(25) as tf.Tensor2D, t53: tf.eye(9) as tf.Tensor2D };
      assert.deepEqual(elasticKernel(m, 7, t).arraySync(), m.arraySync());
      const k5 = elasticKernel(m, 5, t);
      assert.deepEqual(k5.shape, [5, 5, 3, 2]);
      assert.deepEqual(k5.arraySync(), tf.slice(m, [1, 1, 0, 0], [5, 5, 3, 2]).arraySync());
      assert.deepEqual(elasticKernel(m, 3, t).arraySync(), tf.slice(m, [2, 2, 0, 0], [3, 3, 3, 2]).arraySync());
    });
  });

  it('5x5 = centre5 x T75 and 3x3 = centre3(5x5) x T53 for each channel pair (explicit sums)', () => {
    tf.tidy(() => {
      const m = tf.randomNormal([7, 7, 2, 3], 0, 1, 'float32', 2);
      const t75 = tf.randomNormal([25, 25], 0, 0.3, 'float32', 3) as tf.Tensor2D;
      const t53 = tf.randomNormal([9, 9], 0, 0.3, 'float32', 4) as tf.Tensor2D;
      const mm = m.arraySync() as number[][][][];
      const a75 = t75.arraySync(), a53 = t53.arraySync();
      const k5 = elasticKernel(m, 5, { t75, t53 }).arraySync() as number[][][][];
      const k3 = elasticKernel(m, 3, { t75, t53 }).arraySync() as number[][][][];
      for (let ci = 0; ci < 2; ci++) for (let co = 0; co < 3; co++) {
        // by hand: v'_j = sum_i v_i T_ij over the row-major flattened positions
        const c5 = Array.from({ length: 25 }, (_, i) => mm[1 + Math.floor(i / 5)]![1 + (i % 5)]![ci]![co]!);
        const want5 = Array.from({ length: 25 }, (_, j) => c5.reduce((s, v, i) => s + v * a75[i]![j]!, 0));
        for (let j = 0; j < 25; j++) assert.ok(Math.abs(k5[Math.floor(j / 5)]![j % 5]![ci]![co]! - want5[j]!) < 1e-4, `k5 ${j}`);
        const c3 = Array.from({ length: 9 }, (_, i) => want5[(1 + Math.floor(i / 3)) * 5 + 1 + (i % 3)]!);
        const want3 = Array.from({ length: 9 }, (_, j) => c3.reduce((s, v, i) => s + v * a53[i]![j]!, 0));
        for (let j = 0; j < 9; j++) assert.ok(Math.abs(k3[Math.floor(j / 3)]![j % 3]![ci]![co]! - want3[j]!) < 1e-4, `k3 ${j}`);
      }
    });
  });

  it('a 3x3 kernel trains only the master\'s centre 5x5 and both transforms', () => {
    tf.tidy(() => {
      const m = tf.variable(tf.randomNormal([7, 7, 2, 1], 0, 1, 'float32', 5));
      const t75 = tf.variable(tf.eye(25)) as tf.Variable<tf.Rank.R2>;
      const t53 = tf.variable(tf.eye(9)) as tf.Variable<tf.Rank.R2>;
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(elasticKernel(m, 3, { t75, t53 }))) as tf.Scalar, [m, t75, t53]);
      const g = grads[m.name]!.arraySync() as number[][][][];
      for (let y = 0; y < 7; y++) for (let x = 0; x < 7; x++) {
        const inner = y >= 2 && y <= 4 && x >= 2 && x <= 4;
        const mag = Math.abs(g[y]![x]![0]![0]!) + Math.abs(g[y]![x]![1]![0]!);
        assert.equal(mag > 0, inner, `gradient at (${y},${x})`);
      }
      assert.ok(tf.sum(tf.abs(grads[t75.name]!)).arraySync() as number > 0);
      assert.ok(tf.sum(tf.abs(grads[t53.name]!)).arraySync() as number > 0);
      for (const v of [m, t75, t53]) v.dispose();
    });
  });

  it('refuses sizes outside 3/5/7 and non-7x7 masters', () => {
    tf.tidy(() => {
      const t = { t75: tf.eye(25) as tf.Tensor2D, t53: tf.eye(9) as tf.Tensor2D };
      assert.throws(() => elasticKernel(tf.zeros([7, 7, 1, 1]), 4, t), /kernel size 4/);
      assert.throws(() => elasticKernel(tf.zeros([5, 5, 1, 1]), 3, t), /7x7 master/);
      assert.throws(() => centre(tf.zeros([7, 7, 1, 1]), 4), /centre/);
      assert.deepEqual(transformSpatial(tf.ones([3, 3, 1, 1]), tf.eye(9) as tf.Tensor2D).shape, [3, 3, 1, 1]);
    });
  });
});

describe('subnet paths', () => {
  it('every block of an architecture maps to one operator\'s weights, sliced to its widths', () => {
    const layout = supernetLayout(SKELETON_SMALL);
    assert.deepEqual(layout.widths[0], [12, 16, 20]);
    assert.deepEqual(layout.depths[1], [1, 2, 3]);
    const largest = subnetConfig(layout, archFromDecisions(SKELETON_SMALL, largestDecisions(layout)));
    assert.ok(largest.layers.every((l) => l.op === 'ir' && l.kernel === 7 && l.seC > 0 && l.midC === 6 * l.inC));
    assert.equal(largest.layers.length, layout.slots.flat().length);
    const smallest = subnetConfig(layout, archFromDecisions(SKELETON_SMALL, smallestDecisions(layout)));
    assert.ok(smallest.layers.every((l) => l.op === 'ds' && l.kernel === 3 && l.seC === 0 && l.outC === layout.widths[l.block]![0]));
  });

  it('refuses an architecture outside the skeleton\'s space, naming what differs', () => {
    const layout = supernetLayout(SKELETON_SMALL);
    const mnv2 = resolveArch('mobilenet-v2', { input: { height: 28, width: 28, channels: 1 } });
    assert.throws(() => subnetConfig(layout, mnv2), /block \d|stem|head/);
  });
});

describe('subnet extraction', () => {
  it('the stand-alone network with extracted weights computes what the supernet computes, for random subnets', () => {
    const layout = supernetLayout(TINY_SKELETON);
    const w = createMasterWeights(layout, INPUT, 5, 11);
    // train-like perturbation: transforms away from the identity, BN away from (1, 0)
    tf.tidy(() => {
      for (const [name, v] of w) {
        if (/_t(75|53)$/.test(name)) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', name.length)));
        if (/_(gamma|beta)$/.test(name)) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', name.length + 1)));
      }
    });
    const rng = createRng(3);
    const ops = new Set<string>();
    const x = tf.randomNormal([4, 12, 12, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    try {
      const specs = [
        archFromDecisions(TINY_SKELETON, largestDecisions(layout)),
        archFromDecisions(TINY_SKELETON, smallestDecisions(layout)),
        ...Array.from({ length: 10 }, () => sampleArch(TINY_SKELETON, rng)),
      ];
      for (const spec of specs) {
        const cfg = subnetConfig(layout, spec);
        for (const l of cfg.layers) ops.add(`${l.op}${l.seC ? '+se' : ''}${l.residual ? '+skip' : ''}/k${l.kernel}`);
        const named = extractSubnet(w, layout, spec);
        const model = buildModel(spec, { inputShape: INPUT, numClasses: 5, seed: 1 });
        try {
          const weighted = model.layers.filter((l) => l.getWeights().length > 0).map((l) => l.name).sort();
          assert.deepEqual([...named.keys()].sort(), weighted, 'extraction covers exactly the layers with weights');
          applyNamedWeights(model, named);
          tf.tidy(() => {
            const want = subnetForward(new MasterReader(w), layout, cfg, x).arraySync();
            const got = (model.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][];
            for (let i = 0; i < got.length; i++) for (let j = 0; j < 5; j++) {
              assert.ok(Math.abs(got[i]![j]! - want[i]![j]!) < 2e-4, `${spec.blocks.map((b) => b.op).join(',')}: [${i}][${j}] ${got[i]![j]} vs ${want[i]![j]}`);
            }
          });
        } finally {
          model.dispose();
          disposeWeights(named);
        }
      }
      for (const op of ['conv', 'ds', 'ir', 'ir1']) assert.ok([...ops].some((o) => o.startsWith(op)), `samples cover ${op}`);
      assert.ok([...ops].some((o) => o.includes('+se')) && [...ops].some((o) => o.includes('+skip')));
    } finally {
      x.dispose();
      disposeMaster(w);
    }
  });
});
