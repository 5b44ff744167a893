// Fixed, seeded, stratified train/validation/test split. For every class the
// images are shuffled with a seeded PRNG (mulberry32, src/space/rng.ts), the
// first round(n * testFraction) go to test, the next round(n *
// validationFraction) to validation, the rest to train. The result is a
// permutation that orders the whole dataset train | validation | test, so
// the cache stores each split as one contiguous range.

import { createRng } from '../space/rng.ts';
import { DatasetError, type SplitName, type SplitRange } from './types.ts';

export interface SplitFractions {
  validation: number;
  test: number;
}

export interface SplitPlan {
  /** order[i] = source index of the i-th image in train | validation | test order */
  order: Uint32Array;
  splits: Record<SplitName, SplitRange>;
}

export function stratifiedSplit(labels: ArrayLike<number>, numClasses: number, fr: SplitFractions, seed: number): SplitPlan {
  if (!(fr.validation >= 0 && fr.test >= 0 && fr.validation + fr.test < 1)) {
    throw new DatasetError(`split fractions must be >= 0 and sum below 1 (validation ${fr.validation}, test ${fr.test})`);
  }
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const rng = createRng(seed);
  const parts: Record<SplitName, number[]> = { train: [], validation: [], test: [] };
  for (const idx of byClass) {
    // Fisher-Yates with the seeded PRNG
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    const nTest = Math.round(idx.length * fr.test);
    const nVal = Math.round(idx.length * fr.validation);
    parts.test.push(...idx.slice(0, nTest));
    parts.validation.push(...idx.slice(nTest, nTest + nVal));
    parts.train.push(...idx.slice(nTest + nVal));
  }
  // Interleave classes inside each split (seeded) so a prefix of a split is a fair subset.
  for (const p of Object.values(parts)) {
    for (let i = p.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
  }
  const order = new Uint32Array(labels.length);
  order.set(parts.train, 0);
  order.set(parts.validation, parts.train.length);
  order.set(parts.test, parts.train.length + parts.validation.length);
  return {
    order,
    splits: {
      train: { start: 0, count: parts.train.length },
      validation: { start: parts.train.length, count: parts.validation.length },
      test: { start: parts.train.length + parts.validation.length, count: parts.test.length },
    },
  };
}

/** Reorders images (px bytes each) and labels by a split plan's order. */
export function applyOrder(images: Uint8Array, labels: Uint8Array, px: number, order: Uint32Array): { images: Uint8Array; labels: Uint8Array } {
  const outImages = new Uint8Array(order.length * px);
  const outLabels = new Uint8Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const src = order[i];
    outImages.set(images.subarray(src * px, (src + 1) * px), i * px);
    outLabels[i] = labels[src];
  }
  return { images: outImages, labels: outLabels };
}
