// `nas` run from an unrelated folder (as after `npm link`): shipped files
// (latency tables, device profiles) come from the package, everything it
// writes goes under the data directory (--data-dir > $NAS_DATA_DIR >
// ~/.mobile-nas), and nothing lands in the working directory.

import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { BIN, filesUnder, nas } from './run-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'nas-paths-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh working directory and HOME, and no data-dir variables inherited from the test's environment. */
function sandbox(name: string) {
  const cwd = join(root, name, 'cwd');
  const home = join(root, name, 'home');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(home, { recursive: true });
  const env = { HOME: home, NAS_DATA_DIR: undefined, NAS_DATASET_CACHE: undefined } as Record<string, string | undefined>;
  return { cwd, home, env, data: join(root, name, 'data') };
}

const ARCH = 'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 head_c16';
const trainArgs = ['train', '--arch', ARCH, '--dataset', 'synthetic', '--epochs', '1', '--json'];

describe('paths: nas from another folder', () => {
  it('latency predict --device node-tflite-wasm finds the shipped profile and table', async () => {
    const s = sandbox('predict');
    const r = await nas(['--data-dir', s.data, 'latency', 'predict', '--device', 'node-tflite-wasm', '--arch', ARCH, '--input', '12x12x1', '--classes', '3', '--calibration', 'off'], s);
    assert.equal(r.code, 0, r.err);
    const p = JSON.parse(r.out);
    assert.equal(p.device, 'node-tflite-wasm');
    assert.ok(p.latencyMs > 0);
    assert.deepEqual(filesUnder(s.cwd), []);
    assert.deepEqual(filesUnder(s.home), []);
  });

  it('an unknown device still lists the shipped ones', async () => {
    const s = sandbox('unknown');
    const r = await nas(['latency', 'predict', '--device', 'pixel-99', '--arch', ARCH, '--calibration', 'off'], s);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown device "pixel-99" \(known: .*node-tflite-wasm/);
  });

  it('arch show through a `nas` symlink elsewhere (as npm link makes) works and writes nothing', async () => {
    const s = sandbox('arch');
    const link = join(root, 'arch', 'bin', 'nas');
    mkdirSync(join(root, 'arch', 'bin'));
    symlinkSync(BIN, link);
    const r = await nas(['arch', 'show', 'mnasnet-a1', '--json'], { ...s, bin: link });
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).params, 3920526);
    assert.deepEqual(filesUnder(s.cwd), []);
    assert.deepEqual(filesUnder(s.home), []);
  });

  it('train (synthetic) with --data-dir writes its outputs under <data dir>/out/train/<arch id> only', async () => {
    const s = sandbox('train-flag');
    const r = await nas(['--data-dir', s.data, ...trainArgs], s);
    assert.equal(r.code, 0, r.err);
    const id = JSON.parse(r.out).archId;
    assert.deepEqual(filesUnder(s.data), [`out/train/${id}/model.json`, `out/train/${id}/result.json`, `out/train/${id}/weights.bin`]);
    assert.deepEqual(filesUnder(s.cwd), []);
    assert.deepEqual(filesUnder(s.home), []);
  });

  it('train: $NAS_DATA_DIR, then ~/.mobile-nas, are the data directory when --data-dir is not given', async () => {
    const s = sandbox('train-env');
    const viaEnv = await nas(trainArgs, { ...s, env: { ...s.env, NAS_DATA_DIR: s.data } });
    assert.equal(viaEnv.code, 0, viaEnv.err);
    assert.ok(filesUnder(s.data).some((f) => f.startsWith('out/train/') && f.endsWith('/result.json')), filesUnder(s.data).join(' '));
    const viaHome = await nas(trainArgs, s);
    assert.equal(viaHome.code, 0, viaHome.err);
    assert.ok(filesUnder(join(s.home, '.mobile-nas')).some((f) => f.startsWith('out/train/') && f.endsWith('/result.json')));
    assert.deepEqual(filesUnder(s.cwd), []);
  });

  it('the dataset cache goes to <data dir>/datasets; $NAS_DATASET_CACHE and --cache-dir override it', async () => {
    const s = sandbox('cache');
    // a tiny image folder: 2 classes x 10 PNGs of 8x8
    const images = join(root, 'cache', 'images');
    for (const [c, shade] of [['dark', 40], ['light', 215]] as const) {
      mkdirSync(join(images, c), { recursive: true });
      for (let i = 0; i < 10; i++) {
        const px = Buffer.alloc(8 * 8 * 3, shade + i);
        await sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(join(images, c, `${i}.png`));
      }
    }
    const args = ['train', '--arch', ARCH, '--dataset', `folder:${images}`, '--epochs', '1', '--json'];
    const r = await nas(['--data-dir', s.data, ...args], s);
    assert.equal(r.code, 0, r.err);
    const cached = filesUnder(join(s.data, 'datasets'));
    assert.ok(cached.some((f) => f.endsWith('/manifest.json')), cached.join(' '));
    const viaEnv = join(root, 'cache', 'env-cache');
    assert.equal((await nas(['--data-dir', s.data, ...args], { ...s, env: { ...s.env, NAS_DATASET_CACHE: viaEnv } })).code, 0);
    assert.ok(filesUnder(viaEnv).some((f) => f.endsWith('/manifest.json')));
    const viaFlag = join(root, 'cache', 'flag-cache');
    assert.equal((await nas(['--data-dir', s.data, ...args, '--cache-dir', viaFlag], s)).code, 0);
    assert.ok(filesUnder(viaFlag).some((f) => f.endsWith('/manifest.json')));
    assert.deepEqual(filesUnder(s.cwd), []);
    assert.deepEqual(filesUnder(s.home), []);
    const result = JSON.parse(readFileSync(join(s.data, 'out', 'train', JSON.parse(r.out).archId, 'result.json'), 'utf8'));
    assert.equal(result.dataset.classes.length, 2);
    assert.ok(!existsSync(join(s.cwd, '.cache')));
  });
});
