import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { applyOrder, stratifiedSplit } from '../../src/data/split.ts';
import { buildSynthetic } from '../../src/data/synthetic.ts';
import { getSplit } from '../../src/data/types.ts';

function labelsOf(counts: number[]): Uint8Array {
  return Uint8Array.from(counts.flatMap((n, c) => Array<number>(n).fill(c)));
}

describe('stratified split', () => {
  const labels = labelsOf([70, 50, 30]);

  it('is a permutation into contiguous train | validation | test ranges', () => {
    const p = stratifiedSplit(labels, 3, { validation: 0.1, test: 0.2 }, 7);
    assert.equal(new Set(p.order).size, labels.length);
    assert.equal(p.splits.train.start, 0);
    assert.equal(p.splits.validation.start, p.splits.train.count);
    assert.equal(p.splits.test.start + p.splits.test.count, labels.length);
  });

  it('takes round(n * fraction) of every class into validation and test', () => {
    const p = stratifiedSplit(labels, 3, { validation: 0.1, test: 0.2 }, 7);
    const counts = (name: 'validation' | 'test') => {
      const r = p.splits[name];
      const c = [0, 0, 0];
      for (let i = r.start; i < r.start + r.count; i++) c[labels[p.order[i]]]++;
      return c;
    };
    assert.deepEqual(counts('test'), [14, 10, 6]);
    assert.deepEqual(counts('validation'), [7, 5, 3]);
  });

  it('is fixed by its seed', () => {
    const a = stratifiedSplit(labels, 3, { validation: 0.1, test: 0.2 }, 7);
    const b = stratifiedSplit(labels, 3, { validation: 0.1, test: 0.2 }, 7);
    const c = stratifiedSplit(labels, 3, { validation: 0.1, test: 0.2 }, 8);
    assert.deepEqual(a.order, b.order);
    assert.notDeepEqual(a.order, c.order);
  });

  it('rejects fractions that leave no training data', () => {
    assert.throws(() => stratifiedSplit(labels, 3, { validation: 0.5, test: 0.5 }, 1), (e: Error & { status?: number }) => e.status === 400);
  });

  it('applyOrder moves each image with its label', () => {
    const px = 2;
    const imgs = Uint8Array.from([0, 0, 1, 1, 2, 2]);
    const lbl = Uint8Array.from([0, 1, 2]);
    const out = applyOrder(imgs, lbl, px, Uint32Array.from([2, 0, 1]));
    assert.deepEqual([...out.images], [2, 2, 0, 0, 1, 1]);
    assert.deepEqual([...out.labels], [2, 0, 1]);
  });
});

describe('synthetic dataset', () => {
  it('is deterministic for its options and split into views of the right size', () => {
    const a = buildSynthetic({ perClass: 8, numClasses: 4, size: 8, seed: 3 });
    const b = buildSynthetic({ perClass: 8, numClasses: 4, size: 8, seed: 3 });
    assert.deepEqual(a.images, b.images);
    assert.deepEqual(a.labels, b.labels);
    assert.equal(a.images.length, 32 * 64);
    const s = getSplit(a, 'test');
    assert.equal(s.images.length, s.count * 64);
    assert.equal(a.manifest.splits.train.count + a.manifest.splits.validation.count + s.count, 32);
    assert.equal(a.manifest.allowFlip, false);
  });

  it('classes differ in their pixels (not all images alike)', () => {
    const d = buildSynthetic({ perClass: 4, numClasses: 2, size: 8, seed: 1 });
    assert.ok(new Set(d.images).size > 10);
  });
});
