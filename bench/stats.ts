// Statistics for benchmark reports: rank correlations (Kendall tau from
// src/latency/stats.ts, Spearman here), mean +- sd, and the two-sample tests
// used when one method is claimed to beat another over seeds (Welch's t-test
// and the exact/normal-approximation Mann-Whitney U test).

import { kendallTau } from '../src/latency/stats.ts';

export { kendallTau };

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n - 1). */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Average ranks (1-based; ties share their mean rank). */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const ma = mean(a), mb = mean(b);
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}

/** Spearman rank correlation (Pearson on average ranks). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError('spearman: length mismatch');
  return pearson(ranks(a), ranks(b));
}

/** Regularised incomplete beta I_x(a, b) by its continued fraction (Numerical Recipes' betacf scheme). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnBeta = lgamma(a + b) - lgamma(a) - lgamma(b);
  const front = Math.exp(lnBeta + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < 1e-30) d = 1e-30;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < 1e-30) c = 1e-30;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-12) break;
  }
  return (front * (f - 1)) / a;
}

/** log Gamma (Lanczos approximation, g = 7). */
function lgamma(z: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - lgamma(1 - z);
  z -= 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/** Two-sided p-value of Student's t with df degrees of freedom. */
export function tTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return t === t ? 0 : NaN;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface TestResult {
  statistic: number;
  p: number;
  /** what was computed, for the report */
  method: string;
}

/** Welch's unequal-variance t-test, two-sided. */
export function welchT(a: readonly number[], b: readonly number[]): TestResult {
  const va = sd(a) ** 2 / a.length, vb = sd(b) ** 2 / b.length;
  const se = Math.sqrt(va + vb);
  const t = se === 0 ? (mean(a) === mean(b) ? 0 : Infinity) : (mean(a) - mean(b)) / se;
  const df = se === 0 ? a.length + b.length - 2 : (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { statistic: t, p: tTwoSidedP(t, df), method: `Welch t (df ${df.toFixed(1)})` };
}

/**
 * Mann-Whitney U test, two-sided: exact (enumerated rank-sum distribution)
 * for small samples without ties, else the normal approximation with tie
 * correction.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): TestResult {
  const n1 = a.length, n2 = b.length;
  const r = ranks([...a, ...b]);
  const r1 = r.slice(0, n1).reduce((s, x) => s + x, 0);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u = Math.min(u1, n1 * n2 - u1);
  const tied = new Set(r).size < r.length;
  if (!tied && n1 + n2 <= 30) {
    // counts[k] = number of ways to reach U = k: dynamic programming over (i of a, j of b)
    const dist = uDistribution(n1, n2);
    const total = dist.reduce((s, x) => s + x, 0);
    let tail = 0;
    for (let k = 0; k <= u; k++) tail += dist[k]!;
    return { statistic: u1, p: Math.min(1, (2 * tail) / total), method: 'Mann-Whitney U (exact)' };
  }
  const all = [...a, ...b];
  const counts = new Map<number, number>();
  for (const v of all) counts.set(v, (counts.get(v) ?? 0) + 1);
  const n = n1 + n2;
  const tieTerm = [...counts.values()].reduce((s, t) => s + (t ** 3 - t), 0) / (n * (n - 1));
  const sigma = Math.sqrt((n1 * n2 / 12) * (n + 1 - tieTerm));
  const z = sigma === 0 ? 0 : (u1 - (n1 * n2) / 2) / sigma;
  return { statistic: u1, p: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))), method: 'Mann-Whitney U (normal approx.)' };
}

function uDistribution(n1: number, n2: number): number[] {
  // f(i, j, k): ways i items of a and j of b give U = k; U counts pairs (a > b)
  const memo = new Map<string, number[]>();
  const f = (i: number, j: number): number[] => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit) return hit;
    let out: number[];
    if (i === 0 || j === 0) out = [1];
    else {
      // the largest element is from a (adds j to U) or from b
      const fromA = f(i - 1, j), fromB = f(i, j - 1);
      out = new Array<number>(i * j + 1).fill(0);
      fromA.forEach((c, k) => { out[k + j]! += c; });
      fromB.forEach((c, k) => { out[k]! += c; });
    }
    memo.set(key, out);
    return out;
  };
  return f(n1, n2);
}

export function normalCdf(z: number): number {
  // Abramowitz-Stegun 7.1.26 on erf
  const t = 1 / (1 + 0.3275911 * Math.abs(z) / Math.SQRT2);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** "0.712 +- 0.013" */
export function meanSd(xs: readonly number[], digits = 4): string {
  return `${mean(xs).toFixed(digits)} ± ${Number.isFinite(sd(xs)) ? sd(xs).toFixed(digits) : 'n/a'}`;
}

/** Every ordering of 0..n-1 (Heap's algorithm). */
function* permutations(n: number): Generator<number[]> {
  const p = Array.from({ length: n }, (_, i) => i);
  const c = new Array<number>(n).fill(0);
  yield p.slice();
  for (let i = 1; i < n;) {
    if (c[i]! < i) {
      const k = i % 2 === 0 ? 0 : c[i]!;
      [p[k], p[i]] = [p[i]!, p[k]!];
      yield p.slice();
      c[i]!++;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

/** Largest n whose Kendall tau p-value is exact (n! orderings enumerated); above it, the normal approximation. */
export const KENDALL_EXACT_MAX_N = 8;

/**
 * Two-sided p-value of Kendall's tau against "no association": exact by
 * enumerating every ordering of `b` for n <= KENDALL_EXACT_MAX_N (the small
 * samples where the approximation is poor), else the normal approximation
 * with var(tau) = 2(2n + 5) / (9n(n - 1)).
 */
export function kendallTauP(a: readonly number[], b: readonly number[]): { tau: number; p: number; exact: boolean } {
  const n = a.length;
  const tau = kendallTau(a, b);
  if (n < 3) return { tau, p: 1, exact: true };
  if (n <= KENDALL_EXACT_MAX_N) {
    let extreme = 0, total = 0;
    for (const perm of permutations(n)) {
      total++;
      if (Math.abs(kendallTau(a, perm.map((i) => b[i]!))) >= Math.abs(tau) - 1e-12) extreme++;
    }
    return { tau, p: extreme / total, exact: true };
  }
  const z = tau / Math.sqrt((2 * (2 * n + 5)) / (9 * n * (n - 1)));
  return { tau, p: 2 * (1 - normalCdf(Math.abs(z))), exact: false };
}
