// Every kernel configuration reachable in a skeleton's search space at one
// input shape. Kernels come from expandNetwork() of real ArchSpecs built by
// the space's own decision decoder (archFromDecisions), never by hand: for
// each block, every value of its decisions and of the previous block's width
// (the block's input channels), with depth at its maximum so that both the
// first (strided) layer and the repeated layers appear. Skip and SE are
// taken at the value that adds kernels (an add / an SE op); the other value
// yields a subset.

import { decomposePlan, type DecomposedKernel } from './kernels.ts';
import { expandNetwork } from '../space/network.ts';
import { archFromDecisions, BLOCK_DECISIONS, type Decisions } from '../space/sampler.ts';
import type { Skeleton } from '../space/skeleton.ts';
import type { InputShape } from '../space/types.ts';

const D = Object.fromEntries(BLOCK_DECISIONS.map((d, i) => [d.name, i])) as Record<(typeof BLOCK_DECISIONS)[number]['name'], number>;

function indexOf(decision: number, value: unknown): number {
  const i = BLOCK_DECISIONS[decision].choices.indexOf(value as never);
  if (i < 0) throw new Error(`choice ${String(value)} missing from decision ${BLOCK_DECISIONS[decision].name}`);
  return i;
}

/** Cartesian product of index ranges. */
function* product(sizes: number[]): Generator<number[]> {
  const idx = sizes.map(() => 0);
  if (sizes.some((s) => s === 0)) return;
  for (;;) {
    yield [...idx];
    let d = sizes.length - 1;
    while (d >= 0 && ++idx[d] === sizes[d]) idx[d--] = 0;
    if (d < 0) return;
  }
}

export interface EnumerateOptions {
  skeleton: Skeleton;
  input: InputShape;
  numClasses: number;
}

/** Unique kernels of the space, sorted by key. */
export function enumerateSpaceKernels(opts: EnumerateOptions): DecomposedKernel[] {
  const { skeleton, input, numClasses } = opts;
  const nb = skeleton.blocks.length;
  const base: number[] = BLOCK_DECISIONS.map((d) => Math.floor(d.choices.length / 2));
  const found = new Map<string, DecomposedKernel>();
  const add = (decisions: Decisions) => {
    const plan = expandNetwork(archFromDecisions(skeleton, decisions), input, numClasses);
    for (const k of decomposePlan(plan)) if (!found.has(k.key)) found.set(k.key, { ...k, node: '' });
  };
  const varied = ['op', 'kernel', 'expansion', 'width', 'activation'] as const;
  const sizes = varied.map((n) => BLOCK_DECISIONS[D[n]].choices.length);
  const widthChoices = BLOCK_DECISIONS[D.width].choices.length;
  for (let bi = 0; bi < nb; bi++) {
    for (let pw = 0; pw < (bi === 0 ? 1 : widthChoices); pw++) {
      for (const combo of product(sizes)) {
        const decisions: Decisions = skeleton.blocks.map(() => [...base]);
        if (bi > 0) decisions[bi - 1][D.width] = pw;
        const blk = decisions[bi];
        varied.forEach((n, j) => (blk[D[n]] = combo[j]));
        if (BLOCK_DECISIONS[D.op].choices[blk[D.op]] !== 'ir' && blk[D.expansion] !== 0) continue;
        blk[D.skip] = indexOf(D.skip, true);
        blk[D.se] = indexOf(D.se, 0.25);
        blk[D.depth] = indexOf(D.depth, 1);
        add(decisions);
      }
    }
  }
  return [...found.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
