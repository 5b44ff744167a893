import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildSynthetic } from '../../src/data/synthetic.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { channelGroups, planSpaces, residualSignature, withGroupChannels } from '../../src/refine/channels.ts';
import { trainerFineTune } from '../../src/refine/finetune.ts';
import { netAdapt, type FineTune } from '../../src/refine/netadapt.ts';
import { disposeWeights, inheritWeights, modelWeights } from '../../src/refine/prune.ts';
import { fromWire, parseArchString, toWire } from '../../src/space/archspec.ts';
import { buildModel } from '../../src/space/builder.ts';
import { archCost } from '../../src/space/cost.ts';
import { expandNetwork } from '../../src/space/network.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import type { ArchSpec } from '../../src/space/types.ts';
import { useTrainingBackend } from '../../src/train/backend.ts';
import { defaultTrainConfig } from '../../src/train/config.ts';
import { applyNamedWeights } from '../../src/train/trainer.ts';

const defaults = { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head };
// stem c8 -> block 0 (s1, c8, skip) is tied to the stem; block 1 has two layers (intra-block skip);
// block 2 (s1, c16 after c16) is tied to block 1; block 3 is free; SE everywhere it matters.
const arch = parseArchString(
  'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 ir_r2_k3_s2_e3_c16_se0.25 ir_r1_k5_s1_e3_c16 ds_r1_k3_s2_c24_se0.25 head_c32', defaults);
const input = { height: 12, width: 12, channels: 1 };
const K = 3;
const predictor = loadPredictor('node-tflite-wasm');
const predict = (s: ArchSpec) => predictor.predict(s, input, K).latencyMs;

before(async () => {
  await useTrainingBackend();
});

describe('channel groups and residual validity', () => {
  it('ties blocks joined by identity skips (stem+b0, b1+b2) and leaves b3 and the head free', () => {
    assert.deepEqual(channelGroups(arch), [['stem', 0], [1, 2], [3], ['head']]);
  });
  it('a group cut keeps every skip; a cut that would create a skip is refused by signature', () => {
    const sig = residualSignature(expandNetwork(arch, input, K));
    const cut = withGroupChannels(arch, [1, 2], 11);
    assert.equal(residualSignature(expandNetwork(cut, input, K)), sig);
    // shrinking block 3 alone to 16 would not add a skip (stride 2) but b2 alone to 8 would break the b1-b2 skip
    const broken = withGroupChannels(arch, [2], 11);
    assert.notEqual(residualSignature(expandNetwork(broken, input, K)), sig);
    // odd channel counts pass the grammar's validation (refined specs)
    assert.deepEqual(fromWire(toWire(cut)), cut);
  });
});

describe('weight inheritance', () => {
  it('keeps the largest-L2 filters and slices every axis of their space identically', () => {
    const parent = buildModel(arch, { inputShape: input, numClasses: K, seed: 3 });
    const pw = modelWeights(parent);
    const child = withGroupChannels(arch, [1, 2], 11);
    const { weights, selection } = inheritWeights(arch, pw, child, input, K);
    const spaces = planSpaces(expandNetwork(arch, input, K));
    // the shrunk output space of block 1 (tied with b1_l1 and b2_l0 by skips)
    const space = [...selection.kept.keys()].find((s) => s === 'out:b1_l0');
    assert.ok(space, `kept spaces: ${[...selection.kept.keys()].join(', ')}`);
    const kept = selection.kept.get(space)!;
    assert.equal(kept.length, 11);
    // importance = sum of squared filter norms of the three project convs
    const score = new Float32Array(16);
    for (const l of spaces.producers.get(space)!) {
      const d = pw.get(l)![0]!.dataSync();
      for (let i = 0; i < d.length; i++) score[i % 16] += d[i]! * d[i]!;
    }
    const dropped = [...Array(16).keys()].filter((i) => !kept.includes(i));
    for (const d of dropped) for (const k of kept) assert.ok(score[d]! <= score[k]!, `dropped ${d} scores above kept ${k}`);
    // surviving weights equal the parent's: project conv filters, BN stats, next block's expand inputs
    const pk = pw.get('b1_l0_project_conv')![0]!.arraySync() as number[][][][];
    const ck = weights.get('b1_l0_project_conv')![0]!.arraySync() as number[][][][];
    const midKept = selection.kept.get('mid:b1_l0');
    assert.equal(midKept, undefined, 'b1_l0 mid space (8*3) is unchanged');
    kept.forEach((p, j) => { for (let i = 0; i < 24; i++) assert.equal(ck[0]![0]![i]![j], pk[0]![0]![i]![p]); });
    for (const w of [0, 1, 2, 3]) {
      const pb = pw.get('b1_l1_project_bn')![w]!.dataSync();
      const cb = weights.get('b1_l1_project_bn')![w]!.dataSync();
      kept.forEach((p, j) => assert.equal(cb[j], pb[p]));
    }
    const pe = pw.get('b2_l0_expand_conv')![0]!.arraySync() as number[][][][];
    const ce = weights.get('b2_l0_expand_conv')![0]!.arraySync() as number[][][][];
    const midB2 = selection.kept.get('mid:b2_l0')!;
    assert.equal(midB2.length, 33);
    kept.forEach((p, j) => midB2.forEach((q, m) => assert.equal(ce[0]![0]![j]![m], pe[0]![0]![p]![q])));
    // SE of b1_l1 reduces from its input (16 -> 11 channels, ratio 0.25: 4 -> 2)
    assert.equal(weights.get('b1_l1_se_reduce')![0]!.shape.join('x'), '1x1x33x2');
    // the child model accepts the inherited weights and runs
    const cm = buildModel(child, { inputShape: input, numClasses: K, seed: 4 });
    applyNamedWeights(cm, weights);
    const y = cm.predict(tf.zeros([1, 12, 12, 1])) as tf.Tensor;
    assert.deepEqual(y.shape, [1, K]);
    y.dispose();
    cm.dispose();
    parent.dispose();
    disposeWeights(pw);
    disposeWeights(weights);
  });
  it('a head cut slices the head conv filters, its BN and the classifier rows alike', () => {
    const parent = buildModel(arch, { inputShape: input, numClasses: K, seed: 7 });
    const pw = modelWeights(parent);
    parent.dispose();
    const child = withGroupChannels(arch, ['head'], 21);
    const { weights, selection } = inheritWeights(arch, pw, child, input, K);
    const kept = selection.kept.get('head')!;
    assert.equal(kept.length, 21);
    assert.deepEqual([...selection.kept.keys()], ['head']);
    const pd = pw.get('classifier')![0]!.arraySync() as number[][];
    const cd = weights.get('classifier')![0]!.arraySync() as number[][];
    kept.forEach((p, j) => assert.deepEqual(cd[j], pd[p]));
    assert.deepEqual(weights.get('classifier')![1]!.dataSync(), pw.get('classifier')![1]!.dataSync());
    const pg = pw.get('head_conv_bn')![3]!.dataSync();
    const cg = weights.get('head_conv_bn')![3]!.dataSync();
    kept.forEach((p, j) => assert.equal(cg[j], pg[p]));
    disposeWeights(pw);
    disposeWeights(weights);
  });
});

describe('NetAdapt loop', () => {
  it('predicted latency falls every step, each step reaches delta, ends under T with the same skips', async () => {
    const parent = buildModel(arch, { inputShape: input, numClasses: K, seed: 5 });
    const pw = modelWeights(parent);
    parent.dispose();
    const l0 = predict(arch);
    const targetMs = l0 * 0.8;
    const phases: string[] = [];
    // accuracy proxy without training: prefers proposals that keep more parameters; weights pass through
    const fineTune: FineTune = async (spec, weights, phase) => {
      phases.push(phase);
      let n = 0;
      for (const ts of weights.values()) for (const t of ts) n += t.size;
      return { accuracy: n / 1e6 + spec.blocks.length * 0, weights };
    };
    const r = await netAdapt({ spec: arch, input, numClasses: K, weights: pw, targetMs, predictLatencyMs: predict, fineTune });
    assert.ok(r.reachedTarget, `stopped: ${r.stoppedBecause}, latency ${r.latencyMs} vs ${targetMs}`);
    assert.ok(r.latencyMs <= targetMs);
    assert.ok(r.steps.length >= 2, `${r.steps.length} steps`);
    let prev = l0;
    for (const s of r.steps) {
      assert.ok(s.latencyAfterMs < prev, `step ${s.step}: ${s.latencyAfterMs} !< ${prev}`);
      assert.equal(s.latencyBeforeMs, prev);
      for (const p of s.proposals) assert.ok(s.latencyBeforeMs - p.latencyMs >= s.deltaMs - 1e-12, 'a proposal misses delta');
      assert.equal(s.chosen.accuracy, Math.max(...s.proposals.map((p) => p.accuracy)));
      prev = s.latencyAfterMs;
    }
    assert.equal(Math.abs(predict(r.spec) - r.latencyMs) < 1e-12, true);
    assert.equal(residualSignature(expandNetwork(r.spec, input, K)), residualSignature(expandNetwork(arch, input, K)));
    assert.equal(phases[phases.length - 1], 'long');
    assert.equal(phases.filter((p) => p === 'long').length, 1);
    disposeWeights(r.weights);
    disposeWeights(pw);
  });

  it('an unreachable target stops with the closest network and says by how much it misses', async () => {
    const parent = buildModel(arch, { inputShape: input, numClasses: K, seed: 6 });
    const pw = modelWeights(parent);
    parent.dispose();
    const fineTune: FineTune = async (_s, weights) => ({ accuracy: 0.5, weights });
    const r = await netAdapt({
      spec: arch, input, numClasses: K, weights: pw, targetMs: 1e-6, predictLatencyMs: predict, fineTune,
      schedule: { initialFraction: 0.5, minFraction: 0.3 }, maxSteps: 200,
    });
    assert.equal(r.reachedTarget, false);
    assert.ok(r.missByMs > 0 && Math.abs(r.missByMs - (r.latencyMs - 1e-6)) < 1e-12);
    assert.ok(r.stoppedBecause === 'no-reduction' || r.stoppedBecause === 'max-steps');
    disposeWeights(r.weights);
    disposeWeights(pw);
  });

  it('with the trainer: inherits trained weights, fine-tunes, and reaches the target', async () => {
    const ds = buildSynthetic({ perClass: 16, numClasses: K, size: 12, seed: 2 });
    const small = parseArchString('stem_k3_s1_c8 ir_r1_k3_s2_e3_c12_se0.25 ds_r1_k3_s2_c16 head_c16', defaults);
    const cfg = defaultTrainConfig({ optimizer: 'adam', learningRate: 0.01, batchSize: 16, warmupEpochs: 0, restartOnChance: false, epochs: 1, bnRecalibrationImages: 0 });
    const base = buildModel(small, { inputShape: input, numClasses: K, seed: 1 });
    const pw = modelWeights(base);
    base.dispose();
    // at 12x12 the device table's per-network overhead dwarfs channel counts: a MACs-proportional latency model here
    const macsMs = (s: ArchSpec) => archCost(s, input, K).macs / 1e6;
    const targetMs = macsMs(small) * 0.8;
    const tensorsBefore = tf.memory().numTensors;
    const r = await netAdapt({
      spec: small, input, numClasses: K, weights: pw, targetMs, predictLatencyMs: macsMs,
      fineTune: trainerFineTune(ds, { short: cfg, long: { ...cfg, epochs: 2 } }),
      schedule: { initialFraction: 0.05 },
    });
    assert.ok(r.reachedTarget && r.latencyMs <= targetMs, `${r.stoppedBecause} ${r.latencyMs} vs ${targetMs}`);
    assert.ok(r.steps.length >= 2);
    assert.ok(r.accuracy >= 0 && r.accuracy <= 1);
    const m = buildModel(r.spec, { inputShape: input, numClasses: K, seed: 1 });
    applyNamedWeights(m, r.weights);
    m.dispose();
    disposeWeights(r.weights);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'NetAdapt leaks tensors');
    disposeWeights(pw);
  });
});
