import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { archCost } from '../../src/space/cost.ts';
import { buildModel } from '../../src/space/builder.ts';
import { getPreset, presetNames } from '../../src/space/presets.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_224, SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { expandNetwork } from '../../src/space/network.ts';

const IMAGENET = { height: 224, width: 224, channels: 3 };
const SMALL = { height: 28, width: 28, channels: 1 };

describe('cost model', () => {
  for (const name of presetNames()) {
    it(`params equal the built model's countParams(): ${name}`, () => {
      const input = name === 'proxy-small' ? SMALL : IMAGENET;
      const spec = getPreset(name, { smallInput: name === 'proxy-small' });
      const model = buildModel(spec, { inputShape: input, numClasses: 1000, seed: 1 });
      try {
        assert.equal(archCost(spec, input, 1000).params, model.countParams());
      } finally {
        model.dispose();
      }
    });
  }

  it("params equal countParams() for random samples of both skeletons", () => {
    const rng = createRng(5);
    for (let i = 0; i < 12; i++) {
      const sk = i % 2 ? SKELETON_SMALL : SKELETON_224;
      const input = sk === SKELETON_SMALL ? SMALL : { height: 64, width: 64, channels: 3 };
      const spec = sampleArch(sk, rng);
      const model = buildModel(spec, { inputShape: input, numClasses: 10, seed: 1 });
      try {
        assert.equal(archCost(spec, input, 10).params, model.countParams(), `sample ${i}`);
      } finally {
        model.dispose();
      }
    }
  });

  // Published figures: MobileNetV2 paper (Sandler et al. 2018) Table/Fig. 5, Keras and
  // torchvision model zoos; MnasNet paper Table 1 and the TF MnasNet README;
  // EfficientNet paper Table 1 and torchvision.
  const published: Array<[string, number, number | null, number]> = [
    // name, trainable params exact, macs published (millions), tolerance on MACs (fraction)
    ['mobilenet-v2', 3_504_872, 300, 0.01],
    ['mnasnet-b1', 4_383_312, 315, 0.01],
    ['efficientnet-b0', 5_288_548, 390, 0.02],
  ];
  for (const [name, params, macsM, tol] of published) {
    it(`matches the published figures: ${name}`, () => {
      const c = archCost(getPreset(name), IMAGENET, 1000);
      assert.equal(c.trainableParams, params);
      assert.ok(Math.abs(c.macs / 1e6 - macsM!) / macsM! <= tol, `MACs ${c.macs}`);
    });
  }

  it('matches the published figures: mnasnet-a1 (3.9M params, 312M MACs)', () => {
    const c = archCost(getPreset('mnasnet-a1'), IMAGENET, 1000);
    assert.equal(Math.round(c.trainableParams / 1e5) / 10, 3.9);
    assert.equal(Math.round(c.macs / 1e6), 312);
  });

  it('matches MobileNetV2 width multipliers (TF-slim table: 0.35 59M/1.66M, 0.5 97M/1.95M, 1.4 582M/6.06M)', () => {
    for (const [w, macsM, paramsM] of [[0.35, 59, 1.66], [0.5, 97, 1.95], [1.4, 582, 6.06]] as const) {
      const c = archCost(getPreset('mobilenet-v2', { widthMultiplier: w }), IMAGENET, 1000);
      assert.equal(Math.round(c.macs / 1e6), macsM, `w=${w}`);
      assert.ok(Math.abs(c.trainableParams / 1e6 / paramsM - 1) < 0.015, `w=${w} params ${c.trainableParams}`);
    }
  });

  it('per-block figures add up to the totals', () => {
    const c = archCost(getPreset('efficientnet-b0'), IMAGENET, 1000);
    assert.equal(c.blocks.reduce((a, b) => a + b.macs, 0), c.macs);
    assert.equal(c.blocks.reduce((a, b) => a + b.params, 0), c.params);
    assert.equal(c.blocks.length, 9);
  });

  it('rejects an input too small for the strides and a bad class count', () => {
    assert.throws(() => expandNetwork(getPreset('mobilenet-v2'), { height: 16, width: 16, channels: 3 }, 10), /too small for a network of total stride 32/);
    assert.throws(() => expandNetwork(getPreset('mobilenet-v2'), IMAGENET, 1), /class count must be an integer >= 2/);
  });
});
