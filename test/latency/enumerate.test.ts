import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enumerateSpaceKernels } from '../../src/latency/enumerate.ts';
import { decompose } from '../../src/latency/kernels.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

describe('kernel enumeration (small-32 skeleton, 28x28x1)', () => {
  const input = { height: 28, width: 28, channels: 1 };
  const ks = enumerateSpaceKernels({ skeleton: SKELETON_SMALL, input, numClasses: 10 });
  const keys = new Set(ks.map((k) => k.key));

  it('has unique, sorted keys and every kernel op', () => {
    assert.equal(keys.size, ks.length);
    assert.deepEqual(ks.map((k) => k.key), [...ks.map((k) => k.key)].sort());
    assert.deepEqual(new Set(ks.map((k) => k.kernel.op)), new Set(['conv', 'dwconv', 'se', 'add', 'gap', 'dense']));
  });

  it('covers every kernel of 300 random architectures of the space', () => {
    const rng = createRng(2026);
    for (let i = 0; i < 300; i++) {
      for (const d of decompose(sampleArch(SKELETON_SMALL, rng), input, 10)) {
        assert.ok(keys.has(d.key), `kernel ${d.key} missing from the enumeration`);
      }
    }
  });

  it('does not contain configurations outside the space (odd channel counts)', () => {
    assert.ok(![...keys].some((k) => k.includes('_i17_') || k.includes('_o17_')));
  });
});
