// Robust statistics for latency samples: median, quartiles, relative
// dispersion, and the checks that reject unusable measurements.

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

export interface SampleSummary {
  medianMs: number;
  /** interquartile range divided by the median */
  relIqr: number;
  minMs: number;
  maxMs: number;
  repeats: number;
}

export function summarize(samplesMs: readonly number[]): SampleSummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const med = quantile(s, 0.5);
  const iqr = quantile(s, 0.75) - quantile(s, 0.25);
  return { medianMs: med, relIqr: med > 0 ? iqr / med : 0, minMs: s[0], maxMs: s[s.length - 1], repeats: s.length };
}

/** Limit on relIqr above which repeats are "wildly inconsistent". */
export const MAX_REL_IQR = 1.0;

/**
 * Reasons a list of repeated measurements is unusable, or [] when fine:
 * empty, non-finite, negative, or inconsistent across repeats.
 */
export function sampleProblems(samplesMs: readonly unknown[], maxRelIqr = MAX_REL_IQR): string[] {
  if (!Array.isArray(samplesMs) || samplesMs.length === 0) return ['no samples'];
  const bad = samplesMs.filter((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (bad.length > 0) return [`${bad.length} sample(s) are not finite numbers (e.g. ${String(bad[0])})`];
  const nums = samplesMs as number[];
  const neg = nums.filter((x) => x < 0);
  if (neg.length > 0) return [`${neg.length} sample(s) are negative (e.g. ${neg[0]})`];
  if (nums.every((x) => x === 0)) return ['all samples are 0 ms'];
  if (nums.length >= 4) {
    const { relIqr } = summarize(nums);
    if (relIqr > maxRelIqr) return [`repeats are inconsistent: interquartile range is ${(relIqr * 100).toFixed(0)}% of the median (limit ${maxRelIqr * 100}%)`];
  }
  return [];
}

/** Kendall rank correlation (tau-b) of paired values. */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError('kendallTau: length mismatch');
  let conc = 0, disc = 0, tieA = 0, tieB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i] - a[j]);
      const db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) tieA++;
      else if (db === 0) tieB++;
      else if (da === db) conc++;
      else disc++;
    }
  }
  const denom = Math.sqrt((conc + disc + tieA) * (conc + disc + tieB));
  return denom === 0 ? 0 : (conc - disc) / denom;
}

export interface AccuracyReport {
  n: number;
  within5: number;
  within10: number;
  rmspe: number;
  kendallTau: number;
  meanAbsPctErr: number;
}

/** Prediction accuracy against measurements (fractions in [0, 1]; RMSPE as a fraction). */
export function accuracy(predicted: readonly number[], measured: readonly number[]): AccuracyReport {
  if (predicted.length !== measured.length || predicted.length === 0) throw new RangeError('accuracy: need equal, non-empty lists');
  const rel = predicted.map((p, i) => (p - measured[i]) / measured[i]);
  const n = rel.length;
  return {
    n,
    within5: rel.filter((r) => Math.abs(r) <= 0.05).length / n,
    within10: rel.filter((r) => Math.abs(r) <= 0.1).length / n,
    rmspe: Math.sqrt(rel.reduce((s, r) => s + r * r, 0) / n),
    kendallTau: kendallTau(predicted, measured),
    meanAbsPctErr: rel.reduce((s, r) => s + Math.abs(r), 0) / n,
  };
}
