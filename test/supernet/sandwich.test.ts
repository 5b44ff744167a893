// The sandwich of a step: the largest subnet, the smallest of every operator
// type (each operator keeps weights of its own, so each needs its small end
// trained), then the random ones; a supernet recorded before that option
// existed keeps the old sandwich so its resume stays exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildSynthetic } from '../../src/data/synthetic.ts';
import { OPS } from '../../src/space/grammar.ts';
import { supernetLayout } from '../../src/supernet/layout.ts';
import { DEFAULT_SUPERNET_RECIPE, openDecisions, SupernetTrainer, subnetsPerStep } from '../../src/supernet/train.ts';
import { largestDecisions } from '../../src/supernet/layout.ts';
import { BLOCK_DECISIONS, decisionsFromArch } from '../../src/space/sampler.ts';
import { TINY_SKELETON } from './fixtures.ts';

const ds = buildSynthetic({ perClass: 8, numClasses: 3, size: 12 });
const input = { height: 12, width: 12, channels: 1 };

function opsOf(spec: { blocks: { op: string }[] }): string {
  return [...new Set(spec.blocks.map((b) => b.op))].join(',');
}

describe('the sandwich of a supernet step', () => {
  it('by default trains the largest (ir), the smallest of every operator type, then the random subnets', async () => {
    await tf.setBackend('cpu');
    const t = new SupernetTrainer(supernetLayout(TINY_SKELETON), input, 3, ds, { ...DEFAULT_SUPERNET_RECIPE, batchSize: 4, randomSubnets: 2 }, 1);
    try {
      const subnets = t.subnetsOf(0, 100);
      assert.equal(subnets.length, subnetsPerStep(t.recipe));
      assert.equal(subnets.length, 1 + OPS.length + 2);
      assert.equal(opsOf(subnets[0]!), 'ir');
      assert.deepEqual(subnets.slice(1, 1 + OPS.length).map(opsOf).sort(), [...OPS].sort(), 'one smallest per operator type');
      for (const s of subnets.slice(1, 1 + OPS.length)) {
        assert.ok(s.blocks.every((b) => b.kernel === 3 && b.seRatio === 0), 'each smallest: 3x3, no SE');
      }
      const largestMacs = subnets[0]!.blocks.reduce((a, b) => a + b.channels * b.repeats, 0);
      for (const s of subnets.slice(1, 1 + OPS.length)) assert.ok(s.blocks.reduce((a, b) => a + b.channels * b.repeats, 0) < largestMacs, 'narrower and shallower than the largest');
    } finally {
      t.dispose();
    }
  });

  it('without smallestPerOp (a supernet recorded before it): the largest, the ds smallest, the random ones', async () => {
    await tf.setBackend('cpu');
    const t = new SupernetTrainer(supernetLayout(TINY_SKELETON), input, 3, ds, { ...DEFAULT_SUPERNET_RECIPE, batchSize: 4, randomSubnets: 1, smallestPerOp: false }, 1);
    try {
      const subnets = t.subnetsOf(3, 100);
      assert.equal(subnets.length, 3);
      assert.deepEqual(subnets.slice(0, 2).map(opsOf), ['ir', 'ds']);
      const r = t.step(0, 2);
      assert.ok(Number.isFinite(r.loss) && Number.isFinite(r.subnetLoss));
    } finally {
      t.dispose();
    }
  });

  it('progressive shrinking: a random subnet samples a dimension only from its phase on, the largest\'s choice before', async () => {
    await tf.setBackend('cpu');
    const layout = supernetLayout(TINY_SKELETON);
    const t = new SupernetTrainer(layout, input, 3, ds, { ...DEFAULT_SUPERNET_RECIPE, batchSize: 4, randomSubnets: 8, progressive: true }, 1);
    const plain = new SupernetTrainer(layout, input, 3, ds, { ...DEFAULT_SUPERNET_RECIPE, batchSize: 4, randomSubnets: 8 }, 1);
    const largest = largestDecisions(layout);
    const at = (name: string) => BLOCK_DECISIONS.findIndex((d) => d.name === name);
    // per phase: which decisions some random subnet moved off the largest's choice, over many steps
    const moved = (tr: SupernetTrainer, from: number, to: number) => {
      const m = new Set<string>();
      for (let s = from; s < to; s++) {
        for (const spec of tr.subnetsOf(s, 100).slice(1 + OPS.length)) {
          decisionsFromArch(TINY_SKELETON, spec).forEach((b, bi) => b.forEach((c, d) => { if (c !== largest[bi]![d] && (d !== at('expansion') || spec.blocks[bi]!.op === 'ir')) m.add(BLOCK_DECISIONS[d]!.name); }));
        }
      }
      return m;
    };
    try {
      assert.deepEqual([...openDecisions(0, 100)].sort(), ['activation', 'kernel', 'op', 'se', 'skip']);
      assert.deepEqual([...openDecisions(99, 100)].sort(), BLOCK_DECISIONS.map((d) => d.name).sort());
      const early = moved(t, 0, 20);
      for (const d of ['depth', 'expansion', 'width']) assert.ok(!early.has(d), `${d} is not sampled in the first phase`);
      for (const d of ['op', 'kernel']) assert.ok(early.has(d), `${d} is sampled from the start`);
      const mid = moved(t, 30, 45);
      assert.ok(mid.has('depth') && !mid.has('width'), 'the second phase opens depth, not yet width');
      const late = moved(t, 80, 95);
      for (const d of ['depth', 'expansion', 'width', 'kernel', 'op']) assert.ok(late.has(d), `${d} is sampled in the last phase`);
      assert.ok(moved(plain, 0, 20).has('width'), 'without progressive every dimension is sampled from the start');
      // the sandwich's ends are the same either way
      assert.deepEqual(t.subnetsOf(5, 100).slice(0, 1 + OPS.length), plain.subnetsOf(5, 100).slice(0, 1 + OPS.length));
    } finally {
      t.dispose();
      plain.dispose();
    }
  });
});
