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
import { DEFAULT_SUPERNET_RECIPE, SupernetTrainer, subnetsPerStep } from '../../src/supernet/train.ts';
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
      const subnets = t.subnetsOf(0);
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
      const subnets = t.subnetsOf(3);
      assert.equal(subnets.length, 3);
      assert.deepEqual(subnets.slice(0, 2).map(opsOf), ['ir', 'ds']);
      const r = t.step(0, 2);
      assert.ok(Number.isFinite(r.loss) && Number.isFinite(r.subnetLoss));
    } finally {
      t.dispose();
    }
  });
});
