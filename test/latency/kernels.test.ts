import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decompose, decomposePlan, kernelKey, kernelPlan, parseKernelKey, type Kernel } from '../../src/latency/kernels.ts';
import { allOps, expandNetwork } from '../../src/space/network.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_224, SKELETON_SMALL } from '../../src/space/skeleton.ts';
import type { ArchSpec } from '../../src/space/types.ts';

const input = { height: 28, width: 28, channels: 1 };

const irSe: ArchSpec = {
  version: 1,
  stem: { channels: 16, kernel: 3, stride: 1, activation: 'relu' },
  blocks: [
    { op: 'ir', repeats: 2, kernel: 5, stride: 2, expansion: 6, channels: 24, seRatio: 0.25, skip: true, activation: 'hswish' },
    { op: 'ds', repeats: 1, kernel: 3, stride: 1, expansion: 1, channels: 24, seRatio: 0, skip: true, activation: 'relu6' },
  ],
  head: { channels: 64, activation: 'relu', dropout: 0 },
};

describe('kernel decomposition', () => {
  it('one kernel per plan op, in execution order, with the plan node names', () => {
    const plan = expandNetwork(irSe, input, 10);
    const ks = decomposePlan(plan);
    assert.deepEqual(ks.map((k) => k.node), allOps(plan).map((o) => o.name));
  });

  it('ir k5 s2 e6 c16->c24 se0.25 hswish: expand, dwconv, SE, project (linear), then a residual add in layer 2', () => {
    const ks = decompose(irSe, input, 10).map((k) => k.key);
    assert.deepEqual(ks.slice(0, 5), [
      'conv_k3_s1_i1_o16_h28x28_e1_relu',
      'conv_k1_s1_i16_o96_h28x28_e6_hswish',
      'dwconv_k5_s2_i96_o96_h28x28_e1_hswish',
      'se_k1_s1_i96_o4_h14x14_e1_hswish',
      'conv_k1_s1_i96_o24_h14x14_e1_linear',
    ]);
    // second layer: stride 1, 24 -> 24, with SE reduced from the layer input (24 * 0.25 = 6) and an add
    assert.ok(ks.includes('se_k1_s1_i144_o6_h14x14_e1_hswish'));
    assert.ok(ks.includes('add_k1_s1_i24_o24_h14x14_e1_linear'));
    assert.equal(ks.at(-2), 'gap_k14_s1_i64_o64_h14x14_e1_linear');
    assert.equal(ks.at(-1), 'dense_k1_s1_i64_o10_h1x1_e1_linear');
  });

  it('keys round-trip through parseKernelKey for random networks of both skeletons', () => {
    const rng = createRng(3);
    for (let i = 0; i < 20; i++) {
      const sk = i % 2 ? SKELETON_SMALL : SKELETON_224;
      const inp = i % 2 ? input : { height: 224, width: 224, channels: 3 };
      for (const d of decompose(sampleArch(sk, rng), inp, 1000)) {
        assert.equal(kernelKey(parseKernelKey(d.key)), d.key);
        assert.deepEqual(parseKernelKey(d.key), d.kernel);
      }
    }
  });

  it('rejects malformed and non-canonical keys', () => {
    assert.throws(() => parseKernelKey('conv_k3'), /malformed kernel key/);
    assert.throws(() => parseKernelKey('pool_k3_s1_i1_o1_h2x2_e1_relu'), /malformed/);
    assert.throws(() => parseKernelKey('conv_k3_s1_i1_o16_h28x28_e1.0_relu'), /not canonical/);
  });

  it('kernelPlan holds exactly the kernel it was made from', () => {
    const rng = createRng(11);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      for (const d of decompose(sampleArch(SKELETON_SMALL, rng), input, 10)) {
        if (seen.has(d.key)) continue;
        seen.add(d.key);
        const plan = kernelPlan(d.kernel, 10);
        assert.deepEqual(decomposePlan(plan).map((k) => k.key), [d.key], d.key);
      }
    }
    assert.ok(seen.size > 30);
  });

  it('dwconv kernel keeps channels; dense kernel is 1x1 spatially', () => {
    const k: Kernel = { op: 'dense', kernel: 1, stride: 1, inC: 320, outC: 10, inH: 1, inW: 1, expansion: 1, activation: 'linear' };
    const plan = kernelPlan(k);
    assert.deepEqual([plan.input.height, plan.input.width, plan.input.channels], [1, 1, 320]);
    assert.equal(plan.numClasses, 10);
  });
});
