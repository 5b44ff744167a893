import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { fillBatch, PIXEL_OFFSET, PIXEL_SCALE, resizeAll } from '../../src/train/augment.ts';
import { defaultTrainConfig } from '../../src/train/config.ts';
import { cosineWithWarmup } from '../../src/train/schedule.ts';
import { chanceThreshold } from '../../src/train/trainer.ts';
import { createRng } from '../../src/space/rng.ts';

describe('cosine schedule with warm-up', () => {
  const o = { peakLr: 0.1, totalSteps: 100, warmupSteps: 10 };
  it('rises linearly to the peak over the warm-up steps', () => {
    assert.ok(Math.abs(cosineWithWarmup(0, o) - 0.01) < 1e-12);
    assert.ok(Math.abs(cosineWithWarmup(4, o) - 0.05) < 1e-12);
    assert.ok(Math.abs(cosineWithWarmup(9, o) - 0.1) < 1e-12);
  });
  it('then decays by a half cosine to zero', () => {
    assert.ok(Math.abs(cosineWithWarmup(10, o) - 0.1) < 1e-12);
    assert.ok(Math.abs(cosineWithWarmup(55, o) - 0.05) < 1e-12);
    assert.ok(cosineWithWarmup(100, o) < 1e-12);
    for (let s = 11; s <= 100; s++) assert.ok(cosineWithWarmup(s, o) < cosineWithWarmup(s - 1, o));
  });
  it('without warm-up starts at the peak', () => {
    assert.equal(cosineWithWarmup(0, { ...o, warmupSteps: 0 }), 0.1);
  });
});

describe('batch assembly and augmentation', () => {
  const g = { height: 3, width: 4, channels: 1 };
  const img = Uint8Array.from({ length: 12 }, (_, i) => (i + 1) * 20); // no zero pixels: zero is the padding value
  const norm = (v: number) => v * PIXEL_SCALE + PIXEL_OFFSET;

  it('maps uint8 to [-1, 1] without augmentation', () => {
    const out = new Float32Array(12);
    fillBatch(img, g, [0], out);
    assert.ok(Math.abs(out[0] - norm(20)) < 1e-6);
    assert.ok(Math.abs(out[11] - norm(240)) < 1e-6);
    const white = new Float32Array(1);
    fillBatch(Uint8Array.of(255), { height: 1, width: 1, channels: 1 }, [0], white);
    assert.ok(Math.abs(white[0] - 1) < 1e-6);
  });

  it('flips rows left-right and shifts with zero padding', () => {
    // flip only: find a seed whose first draw flips and check every row is mirrored
    const flipped = new Float32Array(12);
    let seed = 0;
    for (; seed < 50; seed++) {
      fillBatch(img, g, [0], flipped, { padding: 0, flip: true }, createRng(seed));
      if (Math.abs(flipped[0] - norm(80)) < 1e-6) break;
    }
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) assert.ok(Math.abs(flipped[y * 4 + x] - norm(img[y * 4 + 3 - x])) < 1e-6);
    // shifts: every output pixel is either an input pixel moved by one (dy, dx) or the zero pixel
    for (let s = 0; s < 20; s++) {
      const out = new Float32Array(12);
      fillBatch(img, g, [0], out, { padding: 1, flip: false }, createRng(s));
      const shifts = new Set<string>();
      for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) {
        const v = out[y * 4 + x];
        if (Math.abs(v - PIXEL_OFFSET) < 1e-6) continue; // padding
        const src = Math.round((v - PIXEL_OFFSET) / PIXEL_SCALE / 20) - 1;
        shifts.add(`${Math.floor(src / 4) - y},${(src % 4) - x}`);
      }
      assert.ok(shifts.size <= 1, `one shift per image, got ${[...shifts]}`);
      for (const sh of shifts) for (const d of sh.split(',').map(Number)) assert.ok(Math.abs(d) <= 1);
    }
  });

  it('is reproducible for a seed', () => {
    const a = new Float32Array(24);
    const b = new Float32Array(24);
    fillBatch(img, g, [0, 0], a, { padding: 2, flip: true }, createRng(9));
    fillBatch(img, g, [0, 0], b, { padding: 2, flip: true }, createRng(9));
    assert.deepEqual(a, b);
  });

  it('resizes bilinearly: identity at the same size, constants stay constant, 2x2 -> 4x4 interpolates', () => {
    const sq = Uint8Array.from([10, 20, 30, 40]);
    assert.equal(resizeAll(sq, { height: 2, width: 2, channels: 1 }, 1, 2), sq);
    const c = resizeAll(new Uint8Array(16).fill(77), { height: 4, width: 4, channels: 1 }, 1, 7);
    assert.ok(c.every((v) => v === 77));
    const up = resizeAll(Uint8Array.from([0, 100, 100, 200]), { height: 2, width: 2, channels: 1 }, 1, 4);
    assert.deepEqual([...up.subarray(0, 4)], [0, 25, 75, 100]);
  });
});

describe('training config', () => {
  it('fills optimizer-specific defaults', () => {
    assert.equal(defaultTrainConfig({ optimizer: 'adam' }).learningRate, 0.002);
    assert.equal(defaultTrainConfig().learningRate, 0.1);
  });
  for (const [field, value] of [['epochs', 0], ['batchSize', 1.5], ['learningRate', -1], ['labelSmoothing', 1], ['optimizer', 'rmsprop'], ['warmupEpochs', 99], ['resolution', 2]] as const) {
    it(`rejects ${field}=${value} with status 400`, () => {
      assert.throws(() => defaultTrainConfig({ [field]: value }), (e: Error & { status?: number }) => e.status === 400);
    });
  }
  it('chance threshold is chance plus a margin that shrinks with more validation images', () => {
    assert.ok(chanceThreshold(10, 5000) > 0.1 && chanceThreshold(10, 5000) < 0.11);
    assert.ok(chanceThreshold(10, 50) > chanceThreshold(10, 5000));
    assert.ok(chanceThreshold(2, 4) <= 0.75);
  });
});
