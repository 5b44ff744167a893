// The factorized hierarchical search space as decisions: each skeleton block
// has the same independent categorical decisions. An architecture is one
// choice index per decision; sampling and mutation work on those indices, so
// every sample is valid by construction (no rejection loops).

import { ACTIVATIONS, EXPANSION_CHOICES, KERNEL_CHOICES, OPS, SE_CHOICES } from './grammar.ts';
import { validateArch } from './archspec.ts';
import type { Rng } from './rng.ts';
import { makeDivisible, type Skeleton } from './skeleton.ts';
import { ARCH_SPEC_VERSION, type Activation, type ArchSpec, type BlockSpec, type ConvOp, SpaceError } from './types.ts';

export const DEPTH_OFFSETS = [-1, 0, 1] as const;
export const WIDTH_MULTIPLIERS = [0.75, 1.0, 1.25] as const;
/** Activations the search samples (swish is grammar-only, for EfficientNet-B0). */
export const SEARCH_ACTIVATIONS: readonly Activation[] = ACTIVATIONS.filter((a) => a !== 'swish');

export interface Decision {
  name: 'op' | 'kernel' | 'expansion' | 'se' | 'skip' | 'depth' | 'width' | 'activation';
  choices: readonly (string | number | boolean)[];
}

/** Per-block decisions, in order. */
export const BLOCK_DECISIONS: readonly Decision[] = [
  { name: 'op', choices: OPS },
  { name: 'kernel', choices: KERNEL_CHOICES },
  { name: 'expansion', choices: EXPANSION_CHOICES },
  { name: 'se', choices: SE_CHOICES },
  { name: 'skip', choices: [true, false] },
  { name: 'depth', choices: DEPTH_OFFSETS },
  { name: 'width', choices: WIDTH_MULTIPLIERS },
  { name: 'activation', choices: SEARCH_ACTIVATIONS },
];

/** Choice indices: decisions[block][decision]. */
export type Decisions = number[][];

/** Number of architectures in the space of a skeleton (before deduplication of irrelevant choices). */
export function spaceSize(skeleton: Skeleton): number {
  const perBlock = BLOCK_DECISIONS.reduce((acc, d) => acc * d.choices.length, 1);
  return perBlock ** skeleton.blocks.length;
}

function blockFromChoices(skeleton: Skeleton, bi: number, idx: number[], prevChannels: number): BlockSpec {
  const base = skeleton.blocks[bi];
  const get = <T>(d: number) => BLOCK_DECISIONS[d].choices[idx[d]] as T;
  const op = get<ConvOp>(0);
  const repeats = Math.max(1, base.repeats + get<number>(5));
  const channels = makeDivisible(base.channels * get<number>(6), skeleton.channelDivisor);
  const block: BlockSpec = {
    op,
    repeats,
    kernel: get<number>(1),
    stride: base.stride,
    expansion: op === 'ir' ? get<number>(2) : 1,
    channels,
    seRatio: get<number>(3),
    skip: get<boolean>(4),
    activation: get<Activation>(7),
  };
  // A skip flag that no layer can use is normalised so one network has one id.
  const anyResidual = repeats > 1 || (base.stride === 1 && prevChannels === channels);
  if (!anyResidual) block.skip = true;
  return block;
}

export function archFromDecisions(skeleton: Skeleton, decisions: Decisions): ArchSpec {
  if (decisions.length !== skeleton.blocks.length) {
    throw new SpaceError(`expected decisions for ${skeleton.blocks.length} blocks, got ${decisions.length}`);
  }
  let prev = skeleton.stem.channels;
  const blocks = decisions.map((idx, bi) => {
    if (idx.length !== BLOCK_DECISIONS.length) throw new SpaceError(`block ${bi}: expected ${BLOCK_DECISIONS.length} decisions, got ${idx.length}`);
    idx.forEach((v, d) => {
      if (!Number.isInteger(v) || v < 0 || v >= BLOCK_DECISIONS[d].choices.length) {
        throw new SpaceError(`block ${bi}: decision ${BLOCK_DECISIONS[d].name} index ${v} is out of range`);
      }
    });
    const b = blockFromChoices(skeleton, bi, idx, prev);
    prev = b.channels;
    return b;
  });
  return validateArch({ version: ARCH_SPEC_VERSION, stem: { ...skeleton.stem }, blocks, head: { ...skeleton.head } });
}

export function sampleDecisions(skeleton: Skeleton, rng: Rng): Decisions {
  return skeleton.blocks.map(() => BLOCK_DECISIONS.map((d) => rng.int(d.choices.length)));
}

/** Uniform sample from the space. */
export function sampleArch(skeleton: Skeleton, rng: Rng): ArchSpec {
  return archFromDecisions(skeleton, sampleDecisions(skeleton, rng));
}

/** Decisions that change the network for this block (expansion only matters for ir). */
function relevantDecisions(idx: number[]): number[] {
  const op = BLOCK_DECISIONS[0].choices[idx[0]];
  return BLOCK_DECISIONS.map((_, d) => d).filter((d) => d !== 2 || op === 'ir');
}

/**
 * Change exactly one relevant decision of one block to a different choice.
 * Bounded: at most `maxTries` draws; a draw that leaves the ArchSpec unchanged
 * (e.g. a normalised skip flag) is retried, and the last resort is a change of
 * the block's kernel, which always alters the spec.
 */
export function mutateDecisions(skeleton: Skeleton, decisions: Decisions, rng: Rng, maxTries = 16): Decisions {
  const before = JSON.stringify(archFromDecisions(skeleton, decisions));
  for (let t = 0; t < maxTries; t++) {
    const out = decisions.map((b) => [...b]);
    const bi = rng.int(out.length);
    const rel = relevantDecisions(out[bi]);
    const d = rel[rng.int(rel.length)];
    const n = BLOCK_DECISIONS[d].choices.length;
    out[bi][d] = (out[bi][d] + 1 + rng.int(n - 1)) % n;
    if (JSON.stringify(archFromDecisions(skeleton, out)) !== before) return out;
  }
  const out = decisions.map((b) => [...b]);
  const bi = rng.int(out.length);
  out[bi][1] = (out[bi][1] + 1) % BLOCK_DECISIONS[1].choices.length;
  return out;
}

/**
 * Recover decision indices from an ArchSpec built on this skeleton (e.g. a
 * stored trial). Throws when the spec is not in the skeleton's space.
 */
export function decisionsFromArch(skeleton: Skeleton, spec: ArchSpec): Decisions {
  if (spec.blocks.length !== skeleton.blocks.length) {
    throw new SpaceError(`architecture has ${spec.blocks.length} blocks; skeleton ${skeleton.name} has ${skeleton.blocks.length}`);
  }
  const decisions = spec.blocks.map((b, bi) => {
    const base = skeleton.blocks[bi];
    const find = (d: number, v: unknown, what: string) => {
      const i = BLOCK_DECISIONS[d].choices.indexOf(v as never);
      if (i < 0) throw new SpaceError(`block ${bi}: ${what} ${String(v)} is not a choice of skeleton ${skeleton.name}`);
      return i;
    };
    const width = WIDTH_MULTIPLIERS.findIndex((m) => makeDivisible(base.channels * m, skeleton.channelDivisor) === b.channels);
    if (width < 0) throw new SpaceError(`block ${bi}: ${b.channels} channels is no width choice of skeleton ${skeleton.name}`);
    const depth = DEPTH_OFFSETS.findIndex((o) => Math.max(1, base.repeats + o) === b.repeats);
    if (depth < 0) throw new SpaceError(`block ${bi}: ${b.repeats} layers is no depth choice of skeleton ${skeleton.name}`);
    if (b.stride !== base.stride) throw new SpaceError(`block ${bi}: stride ${b.stride} differs from skeleton stride ${base.stride}`);
    return [
      find(0, b.op, 'op'), find(1, b.kernel, 'kernel'), b.op === 'ir' ? find(2, b.expansion, 'expansion') : 0,
      find(3, b.seRatio, 'SE ratio'), find(4, b.skip, 'skip'), depth, width, find(7, b.activation, 'activation'),
    ];
  });
  return decisions;
}

export function mutateArch(skeleton: Skeleton, spec: ArchSpec, rng: Rng): ArchSpec {
  return archFromDecisions(skeleton, mutateDecisions(skeleton, decisionsFromArch(skeleton, spec), rng));
}
