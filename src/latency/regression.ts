// Regression for kernels missing from a table (e.g. NetAdapt's odd channel
// counts): log-latency as a linear function of log MACs, log memory traffic
// and log weight count (ml-regression's multivariate linear regression),
// fitted per kernel group (op, kernel size, stride, activation) when the
// group has enough entries, else per op, else all entries. Log space keeps
// predictions positive and errors relative.

import { MultivariateLinearRegression } from 'ml-regression';
import { kernelIoElems, kernelMacs, parseKernelKey, type Kernel } from './kernels.ts';

export function kernelFeatures(k: Kernel): number[] {
  const io = kernelIoElems(k);
  return [Math.log1p(kernelMacs(k)), Math.log1p(io.inElems + io.outElems), Math.log1p(io.weightElems)];
}

const N_FEATURES = 3;
/** a group needs this many entries for its own fit */
const MIN_GROUP = 12;

function groupKey(k: Kernel): string {
  return `${k.op}/k${k.kernel}/s${k.stride}/${k.activation}`;
}

interface Fit {
  predictLog(x: number[]): number;
  n: number;
}

function fitLogLinear(xs: number[][], ys: number[]): Fit | null {
  if (xs.length === 0) return null;
  if (xs.length < N_FEATURES + 3) {
    // Too few points for a regression: scale by MACs (log-space offset).
    const off = ys.reduce((s, y, i) => s + (y - xs[i][0]), 0) / ys.length;
    return { predictLog: (x) => x[0] + off, n: xs.length };
  }
  // Drop constant features (singular design matrix otherwise).
  const cols = [...Array(N_FEATURES).keys()].filter((c) => xs.some((x) => Math.abs(x[c] - xs[0][c]) > 1e-9));
  if (cols.length === 0) {
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    return { predictLog: () => mean, n: xs.length };
  }
  const mlr = new MultivariateLinearRegression(xs.map((x) => cols.map((c) => x[c])), ys.map((y) => [y]), { intercept: true, statistics: false });
  const predictLog = (x: number[]) => (mlr.predict(cols.map((c) => x[c])) as number[])[0];
  if (!Number.isFinite(predictLog(xs[0]))) return null;
  return { predictLog, n: xs.length };
}

export interface KernelRegressor {
  predictMs(k: Kernel): number;
  /** which fit answered: group, op or global */
  levelOf(k: Kernel): 'group' | 'op' | 'global';
}

/** Fit from table entries (key -> latencyMs). */
export function fitKernelRegressor(entries: Record<string, { latencyMs: number }>): KernelRegressor {
  const byGroup = new Map<string, [number[][], number[]]>();
  const byOp = new Map<string, [number[][], number[]]>();
  const all: [number[][], number[]] = [[], []];
  for (const [key, e] of Object.entries(entries)) {
    const k = parseKernelKey(key);
    const x = kernelFeatures(k);
    const y = Math.log(e.latencyMs);
    for (const [map, gk] of [[byGroup, groupKey(k)], [byOp, k.op]] as const) {
      let g = map.get(gk);
      if (!g) map.set(gk, (g = [[], []]));
      g[0].push(x);
      g[1].push(y);
    }
    all[0].push(x);
    all[1].push(y);
  }
  if (all[0].length === 0) throw new Error('cannot fit a kernel regressor on an empty table');
  const groupFits = new Map<string, Fit | null>();
  const opFits = new Map<string, Fit | null>();
  const globalFit = fitLogLinear(all[0], all[1]);
  const fitFor = (k: Kernel): [Fit, 'group' | 'op' | 'global'] => {
    const gk = groupKey(k);
    if (!groupFits.has(gk)) {
      const g = byGroup.get(gk);
      groupFits.set(gk, g && g[0].length >= MIN_GROUP ? fitLogLinear(g[0], g[1]) : null);
    }
    const gf = groupFits.get(gk);
    if (gf) return [gf, 'group'];
    if (!opFits.has(k.op)) {
      const g = byOp.get(k.op);
      opFits.set(k.op, g ? fitLogLinear(g[0], g[1]) : null);
    }
    const of = opFits.get(k.op);
    if (of) return [of, 'op'];
    if (!globalFit) throw new Error('kernel regressor has no fit');
    return [globalFit, 'global'];
  };
  return {
    predictMs(k) {
      return Math.exp(fitFor(k)[0].predictLog(kernelFeatures(k)));
    },
    levelOf(k) {
      return fitFor(k)[1];
    },
  };
}
