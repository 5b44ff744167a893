import type { Skeleton } from '../../src/space/skeleton.ts';

/** A small skeleton with every structural case: stride 1 and 2, depth choices 1-3, odd-ish widths. */
export const TINY_SKELETON: Skeleton = {
  name: 'tiny-test', description: 'test skeleton',
  stem: { channels: 8, kernel: 3, stride: 1, activation: 'relu' },
  blocks: [
    { channels: 8, repeats: 1, stride: 1 },
    { channels: 12, repeats: 2, stride: 2 },
    { channels: 16, repeats: 1, stride: 1 },
  ],
  head: { channels: 24, activation: 'relu', dropout: 0 },
  channelDivisor: 4,
  inputSizes: [12],
};
