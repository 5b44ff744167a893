// Skeletons of the factorized hierarchical search space: fixed stem, head and
// per-block stride, base filters and base depth. The search decides, per
// block, the operator, kernel, expansion, SE, skip, activation, a depth
// offset (-1/0/+1) and a filter multiplier (0.75/1.0/1.25) relative to these.

import type { HeadSpec, InputShape, StemSpec } from './types.ts';
import { SpaceError } from './types.ts';

export interface SkeletonBlock {
  channels: number;
  repeats: number;
  stride: 1 | 2;
}

export interface Skeleton {
  name: string;
  description: string;
  stem: StemSpec;
  blocks: SkeletonBlock[];
  head: HeadSpec;
  /** channel counts are rounded to multiples of this */
  channelDivisor: number;
  /** input resolutions this skeleton is meant for */
  inputSizes: number[];
}

/** Round to the nearest multiple of divisor, never down by more than 10% (MobileNetV2's rule). */
export function makeDivisible(value: number, divisor: number, minValue = divisor): number {
  const rounded = Math.max(minValue, Math.floor((value + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

/** ImageNet-style 224x224: MobileNetV2's strides, filters and depths (MnasNet's baseline). */
export const SKELETON_224: Skeleton = {
  name: 'imagenet-224',
  description: 'MobileNetV2 skeleton for 224x224 inputs (total stride 32)',
  stem: { channels: 32, kernel: 3, stride: 2, activation: 'relu' },
  blocks: [
    { channels: 16, repeats: 1, stride: 1 },
    { channels: 24, repeats: 2, stride: 2 },
    { channels: 32, repeats: 3, stride: 2 },
    { channels: 64, repeats: 4, stride: 2 },
    { channels: 96, repeats: 3, stride: 1 },
    { channels: 160, repeats: 3, stride: 2 },
    { channels: 320, repeats: 1, stride: 1 },
  ],
  head: { channels: 1280, activation: 'relu', dropout: 0.2 },
  channelDivisor: 8,
  inputSizes: [224, 192, 160, 128, 96],
};

/**
 * Small inputs (28x28 and 32x32 proxy tasks): stem at stride 1, total stride
 * 8 (28 -> 4x4 final maps), filters about half of MobileNetV2's so that a
 * proxy trial trains in minutes on a CPU.
 */
export const SKELETON_SMALL: Skeleton = {
  name: 'small-32',
  description: 'proxy skeleton for 28x28 / 32x32 inputs (total stride 8)',
  stem: { channels: 16, kernel: 3, stride: 1, activation: 'relu' },
  blocks: [
    { channels: 16, repeats: 1, stride: 1 },
    { channels: 24, repeats: 2, stride: 1 },
    { channels: 32, repeats: 2, stride: 2 },
    { channels: 48, repeats: 2, stride: 2 },
    { channels: 64, repeats: 2, stride: 1 },
    { channels: 96, repeats: 2, stride: 2 },
    { channels: 160, repeats: 1, stride: 1 },
  ],
  head: { channels: 320, activation: 'relu', dropout: 0.1 },
  channelDivisor: 4,
  inputSizes: [28, 32],
};

export const SKELETONS: readonly Skeleton[] = [SKELETON_224, SKELETON_SMALL];

/** Inputs up to this side use the small-input skeleton and preset variants. */
export const SMALL_INPUT_MAX_SIDE = 64;

export function isSmallInput(input: InputShape): boolean {
  return Math.min(input.height, input.width) <= SMALL_INPUT_MAX_SIDE;
}

export function skeletonFor(input: InputShape): Skeleton {
  return isSmallInput(input) ? SKELETON_SMALL : SKELETON_224;
}

export function getSkeleton(name: string): Skeleton {
  const s = SKELETONS.find((k) => k.name === name);
  if (!s) throw new SpaceError(`unknown skeleton "${name}" (known: ${SKELETONS.map((k) => k.name).join(', ')})`);
  return s;
}
