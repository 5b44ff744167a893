// Block grammar: `ir_r2_k3_s2_e6_c24_se0.25[_noskip][_<activation>]`.
//
// Tokens, separated by '_', in this order when encoded (the decoder accepts
// any order after the op but rejects unknown and duplicated tokens):
//   op          conv | ds | ir                         (first token, required)
//   rN          repeats, integer >= 1                  (required)
//   kN          kernel size, one of KERNEL_CHOICES     (required)
//   sN          stride of the first layer, 1 or 2      (required)
//   eN          expansion ratio, ir only               (required for ir, rejected otherwise)
//   cN          output channels, integer >= 1          (required)
//   seX         squeeze-excite ratio, one of SE_CHOICES other than 0 (optional, default 0)
//   noskip      no identity skip                       (optional, default: skip where shapes allow)
//   relu | relu6 | hswish | swish                      (optional, default relu)

import { type Activation, type BlockSpec, type ConvOp, SpaceError } from './types.ts';

export const OPS: readonly ConvOp[] = ['conv', 'ds', 'ir'];
export const KERNEL_CHOICES: readonly number[] = [3, 5, 7];
export const EXPANSION_CHOICES: readonly number[] = [1, 3, 6];
export const SE_CHOICES: readonly number[] = [0, 0.25];
export const ACTIVATIONS: readonly Activation[] = ['relu', 'relu6', 'hswish', 'swish'];
export const DEFAULT_ACTIVATION: Activation = 'relu';
export const MAX_REPEATS = 16;
export const MAX_CHANNELS = 4096;

function parseIntToken(token: string, prefix: string, what: string, block: string): number {
  const body = token.slice(prefix.length);
  if (!/^[0-9]+$/.test(body)) throw new SpaceError(`block "${block}": ${what} token "${token}" is not ${prefix}<integer>`);
  return Number(body);
}

function checkChoice(value: number, choices: readonly number[], what: string, block: string): void {
  if (!choices.includes(value)) {
    throw new SpaceError(`block "${block}": ${what} ${value} is outside the search space (allowed: ${choices.join(', ')})`);
  }
}

/** Decode one block string; throws SpaceError naming the offending token. */
export function decodeBlock(block: string): BlockSpec {
  if (typeof block !== 'string' || block.trim() === '') throw new SpaceError('empty block string');
  const tokens = block.trim().split('_');
  const op = tokens[0] as ConvOp;
  if (!OPS.includes(op)) {
    throw new SpaceError(`block "${block}": unknown op "${tokens[0]}" (expected one of ${OPS.join(', ')})`);
  }
  const seen = new Map<string, string>();
  const mark = (key: string, token: string) => {
    const prev = seen.get(key);
    if (prev !== undefined) throw new SpaceError(`block "${block}": duplicated ${key} token "${token}" (already "${prev}")`);
    seen.set(key, token);
  };
  let repeats: number | undefined;
  let kernel: number | undefined;
  let stride: number | undefined;
  let expansion: number | undefined;
  let channels: number | undefined;
  let seRatio = 0;
  let skip = true;
  let activation: Activation = DEFAULT_ACTIVATION;

  for (const token of tokens.slice(1)) {
    if (token === '') throw new SpaceError(`block "${block}": empty token (doubled or trailing "_")`);
    if (token === 'noskip') {
      mark('skip', token);
      skip = false;
    } else if ((ACTIVATIONS as readonly string[]).includes(token)) {
      mark('activation', token);
      activation = token as Activation;
    } else if (token.startsWith('se')) {
      mark('se', token);
      const body = token.slice(2);
      if (!/^[0-9]*\.?[0-9]+$/.test(body)) throw new SpaceError(`block "${block}": SE token "${token}" is not se<ratio>`);
      seRatio = Number(body);
      checkChoice(seRatio, SE_CHOICES, 'SE ratio', block);
      if (seRatio === 0) throw new SpaceError(`block "${block}": write no SE token instead of "${token}"`);
    } else if (token.startsWith('r')) {
      mark('repeats', token);
      repeats = parseIntToken(token, 'r', 'repeats', block);
      if (repeats < 1 || repeats > MAX_REPEATS) throw new SpaceError(`block "${block}": repeats ${repeats} must be in 1..${MAX_REPEATS}`);
    } else if (token.startsWith('k')) {
      mark('kernel', token);
      kernel = parseIntToken(token, 'k', 'kernel', block);
      checkChoice(kernel, KERNEL_CHOICES, 'kernel', block);
    } else if (token.startsWith('s')) {
      mark('stride', token);
      stride = parseIntToken(token, 's', 'stride', block);
      checkChoice(stride, [1, 2], 'stride', block);
    } else if (token.startsWith('e')) {
      mark('expansion', token);
      if (op !== 'ir') throw new SpaceError(`block "${block}": expansion token "${token}" applies only to ir blocks`);
      expansion = parseIntToken(token, 'e', 'expansion', block);
      checkChoice(expansion, EXPANSION_CHOICES, 'expansion', block);
    } else if (token.startsWith('c')) {
      mark('channels', token);
      channels = parseIntToken(token, 'c', 'channels', block);
      if (channels < 1 || channels > MAX_CHANNELS) throw new SpaceError(`block "${block}": channels ${channels} must be in 1..${MAX_CHANNELS}`);
    } else {
      throw new SpaceError(`block "${block}": unknown token "${token}"`);
    }
  }
  const missing: string[] = [];
  if (repeats === undefined) missing.push('repeats (rN)');
  if (kernel === undefined) missing.push('kernel (kN)');
  if (stride === undefined) missing.push('stride (sN)');
  if (op === 'ir' && expansion === undefined) missing.push('expansion (eN)');
  if (channels === undefined) missing.push('channels (cN)');
  if (missing.length > 0) throw new SpaceError(`block "${block}": missing ${missing.join(', ')}`);
  return {
    op,
    repeats: repeats!,
    kernel: kernel!,
    stride: stride as 1 | 2,
    expansion: op === 'ir' ? expansion! : 1,
    channels: channels!,
    seRatio,
    skip,
    activation,
  };
}

/** Canonical block string: fixed token order, defaults omitted. */
export function encodeBlock(b: BlockSpec): string {
  const parts: string[] = [b.op, `r${b.repeats}`, `k${b.kernel}`, `s${b.stride}`];
  if (b.op === 'ir') parts.push(`e${b.expansion}`);
  parts.push(`c${b.channels}`);
  if (b.seRatio > 0) parts.push(`se${b.seRatio}`);
  if (!b.skip) parts.push('noskip');
  if (b.activation !== DEFAULT_ACTIVATION) parts.push(b.activation);
  return parts.join('_');
}

/** Validate a BlockSpec object (e.g. built by code) by a round trip through the grammar. */
export function validateBlock(b: BlockSpec): BlockSpec {
  if (b.op !== 'ir' && b.expansion !== 1) {
    throw new SpaceError(`${b.op} block has expansion ${b.expansion}; only ir blocks expand`);
  }
  return decodeBlock(encodeBlock(b));
}
