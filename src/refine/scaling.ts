// Compound scaling (EfficientNet, Tan & Le 2019) of a base architecture found
// at a small target: depth d = alpha^phi (repeats rounded up), width
// w = beta^phi (channels of stem, blocks and head made divisible by 8; the
// head only grows), resolution r = gamma^phi (input side rounded; small
// datasets are upsampled bilinearly by the trainer, src/train/augment.ts).
// First a grid search of (alpha, beta, gamma) under alpha * beta^2 * gamma^2
// ~= 2 on the proxy task (phi = 1, short training each), then the phi
// (continuous: bisection, then a fine scan) whose predicted latency fills
// the target T best without exceeding it.

import type { CancelSignal } from '../app/events.ts';
import { MAX_REPEATS } from '../space/grammar.ts';
import { makeDivisible } from '../space/skeleton.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';

export interface Coefficients { alpha: number; beta: number; gamma: number }

export const EFFICIENTNET_COEFFICIENTS: Coefficients = { alpha: 1.2, beta: 1.1, gamma: 1.15 };

export interface ScaleFactors {
  /** depth multiplier d (repeats x d, rounded up) */
  depth: number;
  /** width multiplier w (channels x w, divisible by 8) */
  width: number;
  /** resolution multiplier r (input side x r, rounded) */
  resolution: number;
}

export function factorsFor(c: Coefficients, phi: number): ScaleFactors {
  return { depth: c.alpha ** phi, width: c.beta ** phi, resolution: c.gamma ** phi };
}

/** The FLOPs factor of one unit of phi: alpha * beta^2 * gamma^2. */
export function flopsFactor(c: Coefficients): number {
  return c.alpha * c.beta ** 2 * c.gamma ** 2;
}

export const SCALE_CHANNEL_DIVISOR = 8;

/** Scaled spec and input. Factors of exactly 1 leave their dimension untouched. */
export function scaleArch(spec: ArchSpec, input: InputShape, f: ScaleFactors): { spec: ArchSpec; input: InputShape } {
  for (const [k, v] of Object.entries(f)) if (!(v >= 1)) throw new RangeError(`scale factor ${k} must be >= 1, got ${v}`);
  const ch = (c: number) => (f.width === 1 ? c : makeDivisible(c * f.width, SCALE_CHANNEL_DIVISOR));
  const scaled: ArchSpec = {
    version: spec.version,
    stem: { ...spec.stem, channels: ch(spec.stem.channels) },
    blocks: spec.blocks.map((b) => ({
      ...b,
      repeats: Math.min(MAX_REPEATS, f.depth === 1 ? b.repeats : Math.ceil(b.repeats * f.depth - 1e-9)),
      channels: ch(b.channels),
    })),
    head: { ...spec.head, channels: spec.head.channels === 0 ? 0 : Math.max(spec.head.channels, ch(spec.head.channels)) },
  };
  const side = (s: number) => (f.resolution === 1 ? s : Math.round(s * f.resolution));
  return { spec: scaled, input: { height: side(input.height), width: side(input.width), channels: input.channels } };
}

export const DEFAULT_GRID = {
  alpha: [1.0, 1.1, 1.2, 1.3],
  beta: [1.0, 1.05, 1.1, 1.15, 1.2],
  gamma: [1.0, 1.05, 1.1, 1.15],
  /** keep triples with |alpha * beta^2 * gamma^2 - 2| <= tolerance * 2 */
  tolerance: 0.1,
};

export type Grid = typeof DEFAULT_GRID;

export function gridCandidates(grid: Grid = DEFAULT_GRID): Coefficients[] {
  const out: Coefficients[] = [];
  for (const alpha of grid.alpha) for (const beta of grid.beta) for (const gamma of grid.gamma) {
    const c = { alpha, beta, gamma };
    if (Math.abs(flopsFactor(c) - 2) <= 2 * grid.tolerance) out.push(c);
  }
  return out;
}

export interface GridResult {
  best: Coefficients;
  bestAccuracy: number;
  tried: Array<Coefficients & { accuracy: number; flopsFactor: number }>;
  /** candidates in the grid (more than tried when the deadline cut it short) */
  candidates: number;
  /** candidates started but cut short (evaluate returned null): not compared */
  dropped: number;
}

/**
 * The order candidates are tried in, so that a grid cut short by its time
 * budget has still covered the grid: EfficientNet's published triple (or the
 * candidate nearest to it) first, then each next candidate the one farthest
 * from all tried so far (farthest-point order in (alpha, beta, gamma)).
 */
export function orderCandidates(cs: Coefficients[]): Coefficients[] {
  if (cs.length === 0) return [];
  const d2 = (a: Coefficients, b: Coefficients) => (a.alpha - b.alpha) ** 2 + (a.beta - b.beta) ** 2 + (a.gamma - b.gamma) ** 2;
  const rest = [...cs];
  const first = rest.reduce((a, b) => (d2(b, EFFICIENTNET_COEFFICIENTS) < d2(a, EFFICIENTNET_COEFFICIENTS) ? b : a));
  const out = [first];
  rest.splice(rest.indexOf(first), 1);
  while (rest.length > 0) {
    const far = rest.reduce((a, b) => (Math.min(...out.map((o) => d2(b, o))) > Math.min(...out.map((o) => d2(a, o))) ? b : a));
    out.push(far);
    rest.splice(rest.indexOf(far), 1);
  }
  return out;
}

/**
 * Proxy-task accuracy of each candidate at phi = 1; the most accurate wins
 * (ties: the one closest to a FLOPs factor of 2). `evaluate` trains the
 * scaled network briefly and returns its validation accuracy, or null when
 * its training was cut short (a time budget; never for the first candidate):
 * such a candidate is not compared and no further one starts. With
 * `deadlineMs` (epoch ms), no candidate starts after it, and `canStart` may
 * refuse the next one (e.g. it would overrun a budget); the first always
 * runs. Candidates go in orderCandidates' order.
 */
export async function gridSearch(
  base: ArchSpec, input: InputShape, evaluate: (spec: ArchSpec, input: InputShape, index: number) => Promise<number | null>,
  opts: {
    grid?: Grid; cancel?: CancelSignal; onCandidate?: (c: Coefficients & { accuracy: number }, index: number, total: number) => void;
    deadlineMs?: number; now?: () => number;
    canStart?: (c: Coefficients, index: number, total: number) => boolean;
  } = {},
): Promise<GridResult> {
  const candidates = orderCandidates(gridCandidates(opts.grid));
  if (candidates.length === 0) throw new RangeError('the scaling grid has no (alpha, beta, gamma) with alpha * beta^2 * gamma^2 within tolerance of 2');
  const now = opts.now ?? Date.now;
  const tried: GridResult['tried'] = [];
  let dropped = 0;
  for (const [i, c] of candidates.entries()) {
    if (opts.cancel?.cancelled) break;
    if (tried.length > 0 && opts.deadlineMs !== undefined && now() >= opts.deadlineMs) break;
    if (tried.length > 0 && opts.canStart && !opts.canStart(c, i, candidates.length)) break;
    const s = scaleArch(base, input, factorsFor(c, 1));
    const accuracy = await evaluate(s.spec, s.input, i);
    if (accuracy === null && tried.length > 0) {
      dropped++;
      break;
    }
    tried.push({ ...c, accuracy: accuracy ?? NaN, flopsFactor: flopsFactor(c) });
    opts.onCandidate?.({ ...c, accuracy: accuracy ?? NaN }, i, candidates.length);
  }
  if (tried.length === 0) throw new Error('scaling grid search cancelled before any candidate ran');
  const best = tried.reduce((a, b) => (b.accuracy > a.accuracy
    || (b.accuracy === a.accuracy && Math.abs(b.flopsFactor - 2) < Math.abs(a.flopsFactor - 2)) ? b : a));
  return { best: { alpha: best.alpha, beta: best.beta, gamma: best.gamma }, bestAccuracy: best.accuracy, tried, candidates: candidates.length, dropped };
}

export interface PhiResult {
  phi: number;
  factors: ScaleFactors;
  spec: ArchSpec;
  input: InputShape;
  latencyMs: number;
  /** bisection steps run */
  iterations: number;
}

/**
 * The phi in [0, maxPhi] whose scaled network fills `targetMs` best: the
 * highest predicted latency within the target, found by bisection (to
 * `tolerance`) and a scan of `scanSteps` points below the bracket (rounding
 * makes latency a step function of phi). The base itself (phi = 0) must fit.
 */
export function fillTarget(
  base: ArchSpec, input: InputShape, c: Coefficients, targetMs: number, predictMs: (spec: ArchSpec, input: InputShape) => number,
  opts: { maxPhi?: number; tolerance?: number; scanSteps?: number } = {},
): PhiResult {
  const maxPhi = opts.maxPhi ?? 8;
  const tol = opts.tolerance ?? 1e-3;
  const at = (phi: number) => {
    const factors = factorsFor(c, phi);
    const s = scaleArch(base, input, factors);
    return { phi, factors, ...s, latencyMs: predictMs(s.spec, s.input) };
  };
  let lo = at(0);
  if (lo.latencyMs > targetMs) throw new RangeError(`the base network is predicted at ${lo.latencyMs.toFixed(4)} ms, over the ${targetMs} ms target; scaling only grows`);
  let iterations = 0;
  // grow the bracket: 0.25, 0.5, 1, 2, ... until over the target or maxPhi
  let hiPhi = 0.25;
  for (; hiPhi <= maxPhi; hiPhi *= 2) {
    const h = at(hiPhi);
    iterations++;
    if (h.latencyMs > targetMs) break;
    lo = h;
  }
  if (hiPhi > maxPhi) {
    const h = at(maxPhi);
    if (h.latencyMs <= targetMs) return { ...h, iterations };
    hiPhi = maxPhi;
  }
  let hi = hiPhi;
  while (hi - lo.phi > tol) {
    const mid = at((lo.phi + hi) / 2);
    iterations++;
    if (mid.latencyMs <= targetMs) lo = mid;
    else hi = mid.phi;
  }
  // Rounding (repeats up, channels to multiples of 8, input side) makes latency a step function of phi that need
  // not rise monotonically, so bisection can stop on a low step. Scan [0, bracket] finely and keep the phi whose
  // network fills the target best (highest predicted latency within T; the larger phi on a tie).
  const steps = opts.scanSteps ?? 200;
  let best = lo;
  for (let i = 1; i <= steps; i++) {
    const c2 = at((hiPhi * i) / steps);
    iterations++;
    if (c2.latencyMs <= targetMs && (c2.latencyMs > best.latencyMs || (c2.latencyMs === best.latencyMs && c2.phi > best.phi))) best = c2;
  }
  return { ...best, iterations };
}
