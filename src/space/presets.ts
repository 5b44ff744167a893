// Reference networks written in the block grammar. Block strings transcribe
// the published architectures (MobileNetV2, MnasNet-A1/B1, EfficientNet-B0);
// see the README for their published parameter and MAC counts.

import { parseArchString } from './archspec.ts';
import { makeDivisible, SKELETON_SMALL } from './skeleton.ts';
import type { ArchSpec, BlockSpec } from './types.ts';
import { SpaceError } from './types.ts';

export interface PresetOptions {
  /** MobileNetV2-style width multiplier (channels scaled and rounded to multiples of 8) */
  widthMultiplier?: number;
  /**
   * Small-input variant (28x28 / 32x32): the stem and the first stride-2
   * block run at stride 1 (total stride 8 instead of 32), as MobileNetV2 is
   * commonly adapted to CIFAR-size images.
   */
  smallInput?: boolean;
}

interface PresetDef {
  description: string;
  text: string;
  /** whether a width multiplier applies */
  scalable: boolean;
}

const PRESETS: Record<string, PresetDef> = {
  'mobilenet-v2': {
    description: 'MobileNetV2 (Sandler et al. 2018), ReLU6, width multiplier supported',
    scalable: true,
    text: [
      'stem_k3_s2_c32_relu6',
      'ir_r1_k3_s1_e1_c16_relu6',
      'ir_r2_k3_s2_e6_c24_relu6',
      'ir_r3_k3_s2_e6_c32_relu6',
      'ir_r4_k3_s2_e6_c64_relu6',
      'ir_r3_k3_s1_e6_c96_relu6',
      'ir_r3_k3_s2_e6_c160_relu6',
      'ir_r1_k3_s1_e6_c320_relu6',
      'head_c1280_d0.2_relu6',
    ].join(' '),
  },
  'mnasnet-a1': {
    description: 'MnasNet-A1 (Tan et al. 2019), ReLU, SE in blocks 3, 5, 6',
    scalable: true,
    text: [
      'stem_k3_s2_c32',
      'ir_r1_k3_s1_e1_c16_noskip',
      'ir_r2_k3_s2_e6_c24',
      'ir_r3_k5_s2_e3_c40_se0.25',
      'ir_r4_k3_s2_e6_c80',
      'ir_r2_k3_s1_e6_c112_se0.25',
      'ir_r3_k5_s2_e6_c160_se0.25',
      'ir_r1_k3_s1_e6_c320',
      'head_c1280_d0.2',
    ].join(' '),
  },
  'mnasnet-b1': {
    description: 'MnasNet-B1 (Tan et al. 2019, no SE), ReLU',
    scalable: true,
    text: [
      'stem_k3_s2_c32',
      'ir_r1_k3_s1_e1_c16_noskip',
      'ir_r3_k3_s2_e3_c24',
      'ir_r3_k5_s2_e3_c40',
      'ir_r3_k5_s2_e6_c80',
      'ir_r2_k3_s1_e6_c96',
      'ir_r4_k5_s2_e6_c192',
      'ir_r1_k3_s1_e6_c320_noskip',
      'head_c1280_d0.2',
    ].join(' '),
  },
  'efficientnet-b0': {
    description: 'EfficientNet-B0 (Tan & Le 2019), swish, SE 0.25 everywhere',
    scalable: false,
    text: [
      'stem_k3_s2_c32_swish',
      'ir_r1_k3_s1_e1_c16_se0.25_swish',
      'ir_r2_k3_s2_e6_c24_se0.25_swish',
      'ir_r2_k5_s2_e6_c40_se0.25_swish',
      'ir_r3_k3_s2_e6_c80_se0.25_swish',
      'ir_r3_k5_s1_e6_c112_se0.25_swish',
      'ir_r4_k5_s2_e6_c192_se0.25_swish',
      'ir_r1_k3_s1_e6_c320_se0.25_swish',
      'head_c1280_d0.2_swish',
    ].join(' '),
  },
  'proxy-small': {
    description: 'small-input proxy network (28x28 / 32x32): the small skeleton with MBConv e3 k3 blocks',
    scalable: true,
    text: [
      `stem_k3_s1_c${SKELETON_SMALL.stem.channels}`,
      ...SKELETON_SMALL.blocks.map((b, i) =>
        i === 0 ? `ir_r1_k3_s1_e1_c${b.channels}` : `ir_r${b.repeats}_k3_s${b.stride}_e3_c${b.channels}`),
      `head_c${SKELETON_SMALL.head.channels}_d${SKELETON_SMALL.head.dropout}`,
    ].join(' '),
  },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

export function presetDescription(name: string): string {
  return PRESETS[name]?.description ?? '';
}

export function isPreset(name: string): boolean {
  return Object.hasOwn(PRESETS, name);
}

function scaleBlock(b: BlockSpec, w: number): BlockSpec {
  return { ...b, channels: makeDivisible(b.channels * w, 8) };
}

export function getPreset(name: string, opts: PresetOptions = {}): ArchSpec {
  const def = PRESETS[name];
  if (!def) throw new SpaceError(`unknown preset "${name}" (known: ${presetNames().join(', ')})`);
  // Stem and head are always present in preset text, so the defaults are unused.
  let spec = parseArchString(def.text, {
    stem: { channels: 32, kernel: 3, stride: 2, activation: 'relu' },
    head: { channels: 1280, activation: 'relu', dropout: 0 },
  });
  const w = opts.widthMultiplier ?? 1;
  if (w !== 1) {
    if (!(w > 0 && w <= 4)) throw new SpaceError(`width multiplier must be in (0, 4], got ${w}`);
    if (!def.scalable) throw new SpaceError(`preset "${name}" does not take a width multiplier (use compound scaling)`);
    spec = {
      ...spec,
      stem: { ...spec.stem, channels: makeDivisible(spec.stem.channels * w, 8) },
      blocks: spec.blocks.map((b) => scaleBlock(b, w)),
      // MobileNetV2 keeps the 1280-channel head for multipliers below 1.
      head: { ...spec.head, channels: w > 1 ? makeDivisible(spec.head.channels * w, 8) : spec.head.channels },
    };
  }
  if (opts.smallInput && spec.stem.stride === 2) {
    const blocks = spec.blocks.map((b) => ({ ...b }));
    const firstS2 = blocks.findIndex((b) => b.stride === 2);
    if (firstS2 >= 0) blocks[firstS2].stride = 1;
    spec = { ...spec, stem: { ...spec.stem, stride: 1 }, blocks };
  }
  return spec;
}
