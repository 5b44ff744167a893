import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadDataset } from '../../src/data/registry.ts';
import { getSplit } from '../../src/data/types.ts';

const root = mkdtempSync(join(tmpdir(), 'nas-folder-'));
const cacheDir = join(root, 'cache');
after(() => rmSync(root, { recursive: true, force: true }));

async function image(path: string, w: number, h: number, rgb: [number, number, number], format: 'png' | 'jpeg' = 'png'): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (format === 'png' ? img.png() : img.jpeg()).toFile(path);
}

/** A folder with classes red/blue, n images each (PNG and JPEG mixed). */
async function makeFolder(name: string, n: number, size: (i: number) => [number, number] = () => [10, 10]): Promise<string> {
  const dir = join(root, name);
  for (const [cls, rgb] of [['red', [220, 10, 10]], ['blue', [10, 10, 220]]] as const) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < n; i++) {
      const [w, h] = size(i);
      await image(join(dir, cls, `${i}.${i % 2 ? 'jpg' : 'png'}`), w, h, [...rgb] as [number, number, number], i % 2 ? 'jpeg' : 'png');
    }
  }
  writeFileSync(join(dir, 'README.txt'), 'not a class');
  return dir;
}

const rejects400 = (re: RegExp, status = 400) => (e: Error & { status?: number }) => {
  assert.equal(e.status, status, e.message);
  assert.match(e.message, re);
  return true;
};

describe('image-folder dataset', () => {
  it('decodes PNG and JPEG per class folder, splits per class, and caches by content', async () => {
    const dir = await makeFolder('ok', 10);
    const ds = await loadDataset(`folder:${dir}`, { cacheDir });
    const m = ds.manifest;
    assert.deepEqual(m.classes, ['blue', 'red']);
    assert.deepEqual([m.height, m.width, m.channels, m.count], [10, 10, 3, 20]);
    assert.deepEqual([m.splits.train.count, m.splits.validation.count, m.splits.test.count], [12, 4, 4]); // round(10 * 0.15) = 2 per class
    // pixel content follows the label: red images have R >> B
    const tr = getSplit(ds, 'train');
    for (let i = 0; i < tr.count; i++) {
      const [r, , b] = tr.images.subarray(i * 300, i * 300 + 3);
      assert.equal(tr.labels[i] === 1, r > b, `image ${i} label ${tr.labels[i]} rgb ${r},${b}`);
    }
    const again = await loadDataset(`folder:${dir}`, { cacheDir });
    assert.equal(again.manifest.createdAt, m.createdAt, 'second load comes from the cache');
    const grey = await loadDataset(`folder:${dir}`, { cacheDir, folder: { channels: 1, size: 6 } });
    assert.deepEqual([grey.manifest.height, grey.manifest.width, grey.manifest.channels], [6, 6, 1]);
  });

  it('rejects mixed image sizes unless a target size is given, then resizes all', async () => {
    const dir = await makeFolder('mixed', 4, (i) => (i === 0 ? [12, 9] : [10, 10]));
    await assert.rejects(loadDataset(`folder:${dir}`, { cacheDir }), rejects400(/mixed sizes \(.*12x9.*\).*--resolution/));
    const ds = await loadDataset(`folder:${dir}`, { cacheDir, folder: { size: 8 } });
    assert.deepEqual([ds.manifest.height, ds.manifest.width, ds.manifest.count], [8, 8, 8]);
  });

  it('lists corrupt files and fails, or skips and records them with skipCorrupt', async () => {
    const dir = await makeFolder('corrupt', 4);
    writeFileSync(join(dir, 'red', 'broken.jpg'), Buffer.from('this is not a jpeg'));
    const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#ff0000' } }).png().toBuffer();
    writeFileSync(join(dir, 'blue', 'truncated.png'), png.subarray(0, png.length - 30));
    await assert.rejects(loadDataset(`folder:${dir}`, { cacheDir }), rejects400(/2 unreadable image\(s\).*blue\/truncated\.png.*red\/broken\.jpg.*skipCorrupt/));
    const ds = await loadDataset(`folder:${dir}`, { cacheDir, folder: { skipCorrupt: true } });
    assert.equal(ds.manifest.count, 8);
    assert.deepEqual(ds.manifest.skipped, ['blue/truncated.png', 'red/broken.jpg']);
  });

  it('rejects a class folder without images, naming it', async () => {
    const dir = await makeFolder('emptyclass', 3);
    mkdirSync(join(dir, 'green'));
    writeFileSync(join(dir, 'green', 'notes.txt'), 'no images here');
    await assert.rejects(loadDataset(`folder:${dir}`, { cacheDir }), rejects400(/without images.*green/));
  });

  it('rejects a missing folder (404), a folder without class folders, a single class, and a file', async () => {
    await assert.rejects(loadDataset(`folder:${join(root, 'nope')}`, { cacheDir }), rejects400(/does not exist/, 404));
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await assert.rejects(loadDataset(`folder:${empty}`, { cacheDir }), rejects400(/no class sub-folders/));
    mkdirSync(join(empty, 'only'));
    await image(join(empty, 'only', 'a.png'), 4, 4, [1, 2, 3]);
    await assert.rejects(loadDataset(`folder:${empty}`, { cacheDir }), rejects400(/one class/));
    await assert.rejects(loadDataset(`folder:${join(empty, 'only', 'a.png')}`, { cacheDir }), rejects400(/not a folder/));
  });

  it('rejects an unreadable folder', { skip: process.getuid?.() === 0 ? 'root can read any folder' : false }, async () => {
    const dir = await makeFolder('locked', 2);
    const { chmodSync } = await import('node:fs');
    chmodSync(join(dir, 'red'), 0o000);
    try {
      await assert.rejects(loadDataset(`folder:${dir}`, { cacheDir }), rejects400(/cannot read/));
    } finally {
      chmodSync(join(dir, 'red'), 0o755);
    }
  });
});
