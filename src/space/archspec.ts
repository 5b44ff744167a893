// ArchSpec wire formats: the text form (stem, block strings, head separated by
// spaces or commas), the versioned canonical JSON, and the content hash used
// as an architecture's id.

import { createHash } from 'node:crypto';
import { ACTIVATIONS, DEFAULT_ACTIVATION, KERNEL_CHOICES, decodeBlock, encodeBlock } from './grammar.ts';
import {
  type Activation, ARCH_SPEC_VERSION, type ArchSpec, type HeadSpec, type StemSpec, SpaceError,
} from './types.ts';

export const MAX_BLOCKS = 12;

function actToken(a: Activation): string[] {
  return a === DEFAULT_ACTIVATION ? [] : [a];
}

/** `stem_k3_s2_c32[_act]` */
export function encodeStem(s: StemSpec): string {
  return ['stem', `k${s.kernel}`, `s${s.stride}`, `c${s.channels}`, ...actToken(s.activation)].join('_');
}

/** `head_c1280[_d0.2][_act]`; c0 means no 1x1 head conv. */
export function encodeHead(h: HeadSpec): string {
  return ['head', `c${h.channels}`, ...(h.dropout > 0 ? [`d${h.dropout}`] : []), ...actToken(h.activation)].join('_');
}

function parseTokens(text: string, kind: 'stem' | 'head'): Map<string, string> {
  const tokens = text.split('_');
  if (tokens[0] !== kind) throw new SpaceError(`"${text}" does not start with "${kind}"`);
  const out = new Map<string, string>();
  for (const t of tokens.slice(1)) {
    const key = (ACTIVATIONS as readonly string[]).includes(t) ? 'act' : t.charAt(0);
    if (out.has(key)) throw new SpaceError(`${kind} "${text}": duplicated token "${t}"`);
    out.set(key, key === 'act' ? t : t.slice(1));
  }
  return out;
}

function intField(map: Map<string, string>, key: string, what: string, text: string, min: number): number {
  const v = map.get(key);
  if (v === undefined) throw new SpaceError(`"${text}": missing ${what} (${key}N)`);
  if (!/^[0-9]+$/.test(v)) throw new SpaceError(`"${text}": ${what} "${key}${v}" is not an integer`);
  const n = Number(v);
  if (n < min) throw new SpaceError(`"${text}": ${what} must be >= ${min}, got ${n}`);
  map.delete(key);
  return n;
}

export function decodeStem(text: string): StemSpec {
  const m = parseTokens(text, 'stem');
  const kernel = intField(m, 'k', 'kernel', text, 1);
  if (!KERNEL_CHOICES.includes(kernel)) throw new SpaceError(`"${text}": kernel ${kernel} is outside the search space (allowed: ${KERNEL_CHOICES.join(', ')})`);
  const stride = intField(m, 's', 'stride', text, 1);
  if (stride !== 1 && stride !== 2) throw new SpaceError(`"${text}": stride must be 1 or 2, got ${stride}`);
  const channels = intField(m, 'c', 'channels', text, 1);
  const activation = (m.get('act') ?? DEFAULT_ACTIVATION) as Activation;
  m.delete('act');
  if (m.size > 0) throw new SpaceError(`"${text}": unknown token(s) ${[...m.entries()].map(([k, v]) => `"${k}${v}"`).join(', ')}`);
  return { kernel, stride, channels, activation };
}

export function decodeHead(text: string): HeadSpec {
  const m = parseTokens(text, 'head');
  const channels = intField(m, 'c', 'channels', text, 0);
  let dropout = 0;
  const d = m.get('d');
  if (d !== undefined) {
    if (!/^0?\.[0-9]+$|^0$/.test(d)) throw new SpaceError(`"${text}": dropout "d${d}" must be a number in [0, 1)`);
    dropout = Number(d);
    m.delete('d');
  }
  const activation = (m.get('act') ?? DEFAULT_ACTIVATION) as Activation;
  m.delete('act');
  if (m.size > 0) throw new SpaceError(`"${text}": unknown token(s) ${[...m.entries()].map(([k, v]) => `"${k}${v}"`).join(', ')}`);
  return { channels, activation, dropout };
}

/** Full text form: `stem_... block block ... head_...`. */
export function archToString(spec: ArchSpec): string {
  return [encodeStem(spec.stem), ...spec.blocks.map(encodeBlock), encodeHead(spec.head)].join(' ');
}

/**
 * Parse the text form. Stem and head strings are optional; when absent they
 * come from `defaults` (usually the skeleton matching the input size).
 */
export function parseArchString(text: string, defaults: { stem: StemSpec; head: HeadSpec }): ArchSpec {
  const parts = text.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new SpaceError('empty architecture: give a preset name or block strings');
  let stem = { ...defaults.stem };
  let head = { ...defaults.head };
  const blocks = [];
  for (const [i, p] of parts.entries()) {
    if (p.startsWith('stem')) {
      if (i !== 0) throw new SpaceError(`"${p}": the stem must come first`);
      stem = decodeStem(p);
    } else if (p.startsWith('head')) {
      if (i !== parts.length - 1) throw new SpaceError(`"${p}": the head must come last`);
      head = decodeHead(p);
    } else {
      blocks.push(decodeBlock(p));
    }
  }
  return validateArch({ version: ARCH_SPEC_VERSION, stem, blocks, head });
}

/** Check an ArchSpec built in code; returns it unchanged when valid. */
export function validateArch(spec: ArchSpec): ArchSpec {
  if (spec.version !== ARCH_SPEC_VERSION) {
    throw new SpaceError(`ArchSpec version ${String(spec.version)} is not supported (this build reads version ${ARCH_SPEC_VERSION})`);
  }
  if (spec.blocks.length < 1 || spec.blocks.length > MAX_BLOCKS) {
    throw new SpaceError(`an architecture needs 1..${MAX_BLOCKS} blocks, got ${spec.blocks.length}`);
  }
  // Round trips through the grammar reject any value outside the space.
  decodeStem(encodeStem(spec.stem));
  decodeHead(encodeHead(spec.head));
  for (const b of spec.blocks) {
    if (b.op !== 'ir' && b.expansion !== 1) throw new SpaceError(`${b.op} block has expansion ${b.expansion}; only ir blocks expand`);
    decodeBlock(encodeBlock(b));
  }
  return spec;
}

/** Canonical JSON object (fixed key order, blocks as canonical strings). */
export function toWire(spec: ArchSpec): { version: number; stem: string; blocks: string[]; head: string } {
  return { version: spec.version, stem: encodeStem(spec.stem), blocks: spec.blocks.map(encodeBlock), head: encodeHead(spec.head) };
}

export function toCanonicalJson(spec: ArchSpec): string {
  return JSON.stringify(toWire(spec));
}

/** Parse and validate the canonical JSON (string or already-parsed object). */
export function fromWire(input: unknown): ArchSpec {
  const obj = typeof input === 'string' ? safeJson(input) : input;
  if (typeof obj !== 'object' || obj === null) throw new SpaceError('ArchSpec JSON must be an object');
  const o = obj as Record<string, unknown>;
  if (o.version !== ARCH_SPEC_VERSION) {
    throw new SpaceError(`ArchSpec version ${String(o.version)} is not supported (this build reads version ${ARCH_SPEC_VERSION})`);
  }
  if (typeof o.stem !== 'string' || typeof o.head !== 'string' || !Array.isArray(o.blocks)) {
    throw new SpaceError('ArchSpec JSON needs string "stem", string "head" and array "blocks"');
  }
  const blocks = o.blocks.map((b, i) => {
    if (typeof b !== 'string') throw new SpaceError(`ArchSpec JSON blocks[${i}] is not a string`);
    return decodeBlock(b);
  });
  return validateArch({ version: ARCH_SPEC_VERSION, stem: decodeStem(o.stem), blocks, head: decodeHead(o.head) });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SpaceError(`ArchSpec is not valid JSON: ${(e as Error).message}`);
  }
}

/** Stable content hash of the canonical JSON: the architecture's id (16 hex chars). */
export function archId(spec: ArchSpec): string {
  return createHash('sha256').update(toCanonicalJson(spec)).digest('hex').slice(0, 16);
}
