// Kernel classes and strata of a latency table, and the stratified subset a
// quick profile measures.
//
//   class   = operator class (1x1 convolution apart from the k x k ones) at
//             one table input, e.g. "dwconv@32x32x3": the unit of the
//             per-class fit check (calibration) and of a quick upload's
//             coverage;
//   stratum = class x kernel size x stride x activation, e.g.
//             "dwconv k5 s2 hswish@32x32x3".
//
// The stratified subset takes from every stratum a few kernels spread over
// the stratum's range of table latencies (evenly spaced quantiles), more in
// large strata, and lists them round-robin over the strata, the strata
// themselves interleaved over the classes: the first kernels cover every
// class, the first pass every stratum, so a prefix of it (a profile cut
// short, a capped suite) covers as much as its length allows.

import { enumerateSpaceKernels } from './enumerate.ts';
import type { Kernel } from './kernels.ts';
import type { LatencyTable } from './table.ts';
import { parseInputShape } from '../space/resolve.ts';
import { skeletonFor } from '../space/skeleton.ts';

export type KernelClass = 'conv1x1' | 'conv' | 'dwconv' | 'se' | 'add' | 'gap' | 'dense';

export function kernelClass(k: Kernel): KernelClass {
  return k.op === 'conv' ? (k.kernel === 1 ? 'conv1x1' : 'conv') : k.op;
}

/** A kernel of a table with the table input it was enumerated for (the first one, when several inputs share it). */
export interface TableKernel {
  key: string;
  kernel: Kernel;
  input: string;
}

export const classOf = (t: TableKernel): string => `${kernelClass(t.kernel)}@${t.input}`;

export function stratumOf(t: TableKernel): string {
  const k = t.kernel;
  return `${kernelClass(k)} k${k.op === 'gap' ? '-' : k.kernel} s${k.stride} ${k.activation}@${t.input}`;
}

/** Every kernel of the space at these inputs (as `nas profile` enumerates them), each with its first input. */
export function kernelsOfInputs(inputs: readonly { input: string; numClasses: number }[]): TableKernel[] {
  const out = new Map<string, TableKernel>();
  for (const t of inputs) {
    const input = parseInputShape(t.input);
    for (const k of enumerateSpaceKernels({ skeleton: skeletonFor(input), input, numClasses: t.numClasses })) {
      if (!out.has(k.key)) out.set(k.key, { key: k.key, kernel: k.kernel, input: t.input });
    }
  }
  return [...out.values()];
}

const byTable = new WeakMap<LatencyTable, TableKernel[]>();
/** The table's kernels (those it has entries for) with their inputs; cached per table object. */
export function tableKernels(table: LatencyTable): TableKernel[] {
  let ks = byTable.get(table);
  if (!ks) {
    ks = kernelsOfInputs(table.inputs).filter((k) => table.entries[k.key] !== undefined);
    byTable.set(table, ks);
  }
  return ks;
}

export interface SubsetOptions {
  /** share of each stratum measured (default 0.08) */
  fraction?: number;
  /** kernels per stratum at least (default 3; all of a smaller stratum) */
  minPerStratum?: number;
}

export const DEFAULT_SUBSET: Required<SubsetOptions> = { fraction: 0.08, minPerStratum: 3 };

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    let g = m.get(k);
    if (!g) m.set(k, (g = []));
    g.push(it);
  }
  return m;
}

/**
 * The stratified subset: per stratum max(minPerStratum, fraction x size) kernels (all of a
 * smaller stratum) at evenly spaced quantiles of `latencyOf`, listed round-robin over the strata
 * (strata interleaved over the classes, each stratum's picks from its middle outwards).
 */
export function stratifiedSubset(kernels: readonly TableKernel[], latencyOf: (key: string) => number, opts: SubsetOptions = {}): TableKernel[] {
  const o = { ...DEFAULT_SUBSET, ...opts };
  if (!(o.fraction > 0 && o.fraction <= 1)) throw new RangeError(`subset fraction must be in (0, 1], got ${o.fraction}`);
  if (!Number.isInteger(o.minPerStratum) || o.minPerStratum < 1) throw new RangeError(`minPerStratum must be an integer >= 1, got ${o.minPerStratum}`);
  const byName = [...groupBy(kernels, stratumOf).entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  // strata interleaved over the classes: class A's first stratum, class B's first, ..., A's second, ...
  const perClass = [...groupBy(byName, ([, ks]) => classOf(ks[0])).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, list]) => list);
  const strata: [string, TableKernel[]][] = [];
  for (let i = 0; perClass.some((l) => l.length > i); i++) for (const l of perClass) if (i < l.length) strata.push(l[i]);
  const picks = strata.map(([, ks]) => {
    const sorted = [...ks].sort((a, b) => latencyOf(a.key) - latencyOf(b.key) || (a.key < b.key ? -1 : 1));
    const n = Math.min(sorted.length, Math.max(o.minPerStratum, Math.round(o.fraction * sorted.length)));
    const idx = [...new Set(Array.from({ length: n }, (_, i) => (n === 1 ? Math.floor((sorted.length - 1) / 2) : Math.round((i * (sorted.length - 1)) / (n - 1)))))];
    // middle first, then alternately towards both ends: a prefix spans the range
    const mid = (sorted.length - 1) / 2;
    return idx.sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid) || a - b).map((i) => sorted[i]);
  });
  const out: TableKernel[] = [];
  for (let round = 0; picks.some((p) => p.length > round); round++) {
    for (const p of picks) if (round < p.length) out.push(p[round]);
  }
  return out;
}

export interface ClassCoverage {
  cls: string;
  measured: number;
  total: number;
}

/** Per class: kernels of `all` with a measurement (keys in `measured`) out of the class's kernels. */
export function classCoverage(all: readonly TableKernel[], measured: ReadonlySet<string>): ClassCoverage[] {
  return [...groupBy(all, classOf).entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([cls, ks]) => ({ cls, measured: ks.filter((k) => measured.has(k.key)).length, total: ks.length }));
}

/** Classes of `all` with no measured kernel. */
export function missingClasses(all: readonly TableKernel[], measured: ReadonlySet<string>): string[] {
  return classCoverage(all, measured).filter((c) => c.measured === 0).map((c) => c.cls);
}
