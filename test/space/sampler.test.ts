import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { archId, validateArch } from '../../src/space/archspec.ts';
import { createRng } from '../../src/space/rng.ts';
import { archFromDecisions, BLOCK_DECISIONS, decisionsFromArch, mutateArch, mutateDecisions, sampleArch, sampleDecisions } from '../../src/space/sampler.ts';
import { expandNetwork } from '../../src/space/network.ts';
import { SKELETON_224, SKELETON_SMALL } from '../../src/space/skeleton.ts';

describe('sampler and mutator', () => {
  for (const sk of [SKELETON_224, SKELETON_SMALL]) {
    const input = sk === SKELETON_224 ? { height: 224, width: 224, channels: 3 } : { height: 28, width: 28, channels: 1 };
    it(`samples are valid, in the space and expandable (${sk.name})`, () => {
      const rng = createRng(42);
      for (let i = 0; i < 1000; i++) {
        const s = sampleArch(sk, rng);
        validateArch(s);
        assert.equal(s.blocks.length, sk.blocks.length);
        s.blocks.forEach((b, bi) => {
          assert.equal(b.stride, sk.blocks[bi].stride);
          assert.ok(Math.abs(b.repeats - sk.blocks[bi].repeats) <= 1);
        });
        expandNetwork(s, input, 10);
        assert.deepEqual(archFromDecisions(sk, decisionsFromArch(sk, s)), s);
      }
    });

    it(`mutation changes exactly one block decision and stays valid (${sk.name})`, () => {
      const rng = createRng(3);
      for (let i = 0; i < 500; i++) {
        const d = sampleDecisions(sk, rng);
        const m = mutateDecisions(sk, d, rng);
        const changed: Array<[number, number]> = [];
        d.forEach((b, bi) => b.forEach((v, di) => { if (m[bi][di] !== v) changed.push([bi, di]); }));
        assert.equal(changed.length, 1, `changed ${JSON.stringify(changed)}`);
        assert.notEqual(archId(archFromDecisions(sk, m)), archId(archFromDecisions(sk, d)));
      }
    });
  }

  it('is reproducible for a seed', () => {
    const a = sampleArch(SKELETON_SMALL, createRng(9));
    const b = sampleArch(SKELETON_SMALL, createRng(9));
    assert.deepEqual(a, b);
    assert.deepEqual(mutateArch(SKELETON_SMALL, a, createRng(5)), mutateArch(SKELETON_SMALL, b, createRng(5)));
  });

  it('covers every choice of every decision', () => {
    const rng = createRng(11);
    const seen = BLOCK_DECISIONS.map(() => new Set<number>());
    for (let i = 0; i < 300; i++) for (const b of sampleDecisions(SKELETON_SMALL, rng)) b.forEach((v, d) => seen[d].add(v));
    BLOCK_DECISIONS.forEach((d, i) => assert.equal(seen[i].size, d.choices.length, d.name));
  });

  it('rejects architectures outside the skeleton', () => {
    const s = sampleArch(SKELETON_SMALL, createRng(1));
    const bad = { ...s, blocks: s.blocks.map((b, i) => (i === 2 ? { ...b, channels: 33 } : b)) };
    assert.throws(() => decisionsFromArch(SKELETON_SMALL, bad), /block 2: 33 channels is no width choice/);
  });
});
