// Batch assembly on plain arrays (no tensors): uint8 NHWC images -> float32
// in [-1, 1] (x / 127.5 - 1, the MobileNet convention; the exporter's model
// card records it), with optional random crop (zero-padded by `padding`
// pixels on each side, i.e. shifts in [-padding, padding]) and horizontal flip.

import type { Rng } from '../space/rng.ts';

export const PIXEL_SCALE = 1 / 127.5;
export const PIXEL_OFFSET = -1;

export interface ImageGeometry {
  height: number;
  width: number;
  channels: number;
}

export interface AugmentOptions {
  padding: number;
  flip: boolean;
}

/**
 * Fills `out` (batch*H*W*C floats) with the images at `indices`. With `aug`
 * and `rng` given, each image gets a random shift and flip; without, a plain copy.
 */
export function fillBatch(
  images: Uint8Array, g: ImageGeometry, indices: ArrayLike<number>, out: Float32Array, aug?: AugmentOptions, rng?: Rng,
): void {
  const { height: H, width: W, channels: C } = g;
  const px = H * W * C;
  const row = W * C;
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b] * px;
    const dst = b * px;
    let dy = 0;
    let dx = 0;
    let flip = false;
    if (aug && rng) {
      if (aug.padding > 0) {
        dy = rng.int(2 * aug.padding + 1) - aug.padding;
        dx = rng.int(2 * aug.padding + 1) - aug.padding;
      }
      if (aug.flip) flip = rng.next() < 0.5;
    }
    if (dy === 0 && dx === 0 && !flip) {
      for (let i = 0; i < px; i++) out[dst + i] = images[src + i] * PIXEL_SCALE + PIXEL_OFFSET;
      continue;
    }
    for (let y = 0; y < H; y++) {
      const sy = y + dy;
      for (let x = 0; x < W; x++) {
        const o = dst + y * row + x * C;
        const sxRaw = x + dx;
        const sx = flip ? W - 1 - sxRaw : sxRaw;
        if (sy < 0 || sy >= H || sxRaw < 0 || sxRaw >= W) {
          for (let c = 0; c < C; c++) out[o + c] = PIXEL_OFFSET; // zero pixel
        } else {
          const s = src + sy * row + sx * C;
          for (let c = 0; c < C; c++) out[o + c] = images[s + c] * PIXEL_SCALE + PIXEL_OFFSET;
        }
      }
    }
  }
}

/**
 * Bilinear resize of every image to size x size (half-pixel centres, like
 * tf.image.resizeBilinear with halfPixelCenters), done once per run.
 */
export function resizeAll(images: Uint8Array, g: ImageGeometry, count: number, size: number): Uint8Array {
  const { height: H, width: W, channels: C } = g;
  if (H === size && W === size) return images;
  const out = new Uint8Array(count * size * size * C);
  const sy = H / size;
  const sx = W / size;
  for (let n = 0; n < count; n++) {
    const src = n * H * W * C;
    const dst = n * size * size * C;
    for (let y = 0; y < size; y++) {
      const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), H - 1);
      const y0 = Math.floor(fy);
      const y1 = Math.min(y0 + 1, H - 1);
      const wy = fy - y0;
      for (let x = 0; x < size; x++) {
        const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), W - 1);
        const x0 = Math.floor(fx);
        const x1 = Math.min(x0 + 1, W - 1);
        const wx = fx - x0;
        for (let c = 0; c < C; c++) {
          const a = images[src + (y0 * W + x0) * C + c];
          const b = images[src + (y0 * W + x1) * C + c];
          const d = images[src + (y1 * W + x0) * C + c];
          const e = images[src + (y1 * W + x1) * C + c];
          out[dst + (y * size + x) * C + c] = Math.round((a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy);
        }
      }
    }
  }
  return out;
}
