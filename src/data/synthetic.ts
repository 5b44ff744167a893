// Tiny synthetic image set for tests: class c is a stripe texture at angle
// c*pi/K (random phase, period 4 px) plus uniform noise, so a small conv net
// with global pooling can tell classes apart within a few epochs. Fully
// determined by its options (seeded). No flips: a mirrored stripe changes its
// angle, hence its class.

import { newManifest } from './cache.ts';
import { applyOrder, stratifiedSplit } from './split.ts';
import { type Dataset, DatasetError } from './types.ts';
import { createRng } from '../space/rng.ts';

export interface SyntheticOptions {
  /** images per class (default 24) */
  perClass?: number;
  numClasses?: number;
  /** side in pixels (default 12) */
  size?: number;
  channels?: 1 | 3;
  seed?: number;
  /** noise amplitude in [0, 1] (default 0.25) */
  noise?: number;
}

export function buildSynthetic(opts: SyntheticOptions = {}): Dataset {
  const perClass = opts.perClass ?? 24;
  const K = opts.numClasses ?? 3;
  const size = opts.size ?? 12;
  const channels = opts.channels ?? 1;
  const seed = opts.seed ?? 1;
  const noise = opts.noise ?? 0.25;
  if (!(Number.isInteger(perClass) && perClass >= 3)) throw new DatasetError(`synthetic perClass must be an integer >= 3, got ${perClass}`);
  if (!(Number.isInteger(K) && K >= 2 && K <= 255)) throw new DatasetError(`synthetic numClasses must be in [2, 255], got ${K}`);
  if (!(Number.isInteger(size) && size >= 4 && size <= 512)) throw new DatasetError(`synthetic size must be in [4, 512], got ${size}`);
  const rng = createRng(seed);
  const px = size * size * channels;
  const count = perClass * K;
  const images = new Uint8Array(count * px);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % K;
    labels[i] = c;
    const angle = (c * Math.PI) / K;
    const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
    const phase = rng.next() * 2 * Math.PI;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = 0.5 + 0.5 * Math.sin(((x * dx + y * dy) * 2 * Math.PI) / 4 + phase);
        for (let ch = 0; ch < channels; ch++) {
          const n = (rng.next() - 0.5) * 2 * noise;
          images[i * px + (y * size + x) * channels + ch] = Math.round(255 * Math.min(1, Math.max(0, v * (1 - noise) + noise / 2 + n / 2)));
        }
      }
    }
  }
  const plan = stratifiedSplit(labels, K, { validation: 0.25, test: 0.25 }, seed);
  const ordered = applyOrder(images, labels, px, plan.order);
  return {
    manifest: newManifest({
      name: 'synthetic', source: `synthetic stripes perClass=${perClass} classes=${K} size=${size} channels=${channels} seed=${seed}`,
      classes: Array.from({ length: K }, (_, c) => `stripes-${Math.round((c * 180) / K)}deg`),
      height: size, width: size, channels, count, splits: plan.splits, splitSeed: seed, allowFlip: false, skipped: [],
    }),
    images: ordered.images,
    labels: ordered.labels,
  };
}
