// Turns what a user types (a preset name, block strings, canonical JSON or a
// JSON file) plus an input shape into an ArchSpec. Shared by CLI and API.

import { existsSync, readFileSync } from 'node:fs';
import { fromWire, parseArchString } from './archspec.ts';
import { getPreset, isPreset, presetNames } from './presets.ts';
import { isSmallInput, skeletonFor } from './skeleton.ts';
import { type ArchSpec, type InputShape, SpaceError } from './types.ts';

/** Parse `HxWxC` (or `HxW`, channels 3) into an InputShape. */
export function parseInputShape(text: string): InputShape {
  const m = /^\s*(\d+)x(\d+)(?:x(\d+))?\s*$/i.exec(text);
  if (!m) throw new SpaceError(`input shape "${text}" is not HxWxC (e.g. 224x224x3)`);
  const [height, width, channels] = [Number(m[1]), Number(m[2]), m[3] === undefined ? 3 : Number(m[3])];
  if (height < 1 || width < 1 || channels < 1) throw new SpaceError(`input shape "${text}" has a zero dimension`);
  if (height > 4096 || width > 4096 || channels > 64) throw new SpaceError(`input shape "${text}" is larger than supported (4096x4096x64)`);
  return { height, width, channels };
}

export function formatInputShape(s: InputShape): string {
  return `${s.height}x${s.width}x${s.channels}`;
}

export interface ResolveOptions {
  input: InputShape;
  widthMultiplier?: number;
}

export function resolveArch(arg: string, opts: ResolveOptions): ArchSpec {
  const text = arg.trim();
  if (text === '') throw new SpaceError('no architecture given: name a preset or give block strings');
  if (isPreset(text)) {
    return getPreset(text, { widthMultiplier: opts.widthMultiplier, smallInput: isSmallInput(opts.input) });
  }
  if (opts.widthMultiplier !== undefined && opts.widthMultiplier !== 1) {
    throw new SpaceError('a width multiplier applies to presets only');
  }
  if (text.startsWith('{')) return fromWire(text);
  if (text.endsWith('.json')) {
    if (!existsSync(text)) throw new SpaceError(`architecture file "${text}" does not exist`);
    const obj = JSON.parse(readFileSync(text, 'utf8')) as Record<string, unknown>;
    // Accept a bare ArchSpec or any JSON document carrying one under "arch" (model cards, results).
    return fromWire(obj.arch ?? obj);
  }
  if (!/[_\s,]/.test(text)) {
    throw new SpaceError(`"${text}" is neither a preset nor a block string (presets: ${presetNames().join(', ')})`);
  }
  const skeleton = skeletonFor(opts.input);
  return parseArchString(text, { stem: skeleton.stem, head: skeleton.head });
}
