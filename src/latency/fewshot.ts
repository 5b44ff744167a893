// Few-shot prediction for a new device: with only K kernels measured on it,
// map a reference device's table onto it. The map is a log-log linear fit
// (ml-regression) of new-device latency against reference latency over the K
// kernels (one global fit; with K >= 40 a per-op offset is added when that op
// has >= 5 samples). HELP's observation: devices rank kernels alike, so a few
// samples pin down the transfer.

import { MultivariateLinearRegression } from 'ml-regression';
import { parseKernelKey } from './kernels.ts';
import type { DeviceProfile } from './device.ts';
import { MeasurementError } from './runtime.ts';
import type { LatencyTable, TableEntry } from './table.ts';

export interface FewShotOptions {
  reference: LatencyTable;
  device: DeviceProfile;
  /** kernel key -> measured ms on the new device (keys must exist in the reference table) */
  measured: Record<string, number>;
  /** the new device's empty-model latency, when measured (else mapped from the reference) */
  baselineMs?: number;
}

function fitLine(xs: number[], ys: number[]): (x: number) => number {
  if (xs.length === 1) return (x) => x + (ys[0] - xs[0]);
  const mlr = new MultivariateLinearRegression(xs.map((x) => [x]), ys.map((y) => [y]), { intercept: true, statistics: false });
  const [[b], [a]] = mlr.weights;
  // Keep the slope in a sane band: few points can produce wild slopes.
  const slope = Math.min(1.5, Math.max(0.5, b));
  const mx = xs.reduce((s, v) => s + v, 0) / xs.length;
  const my = ys.reduce((s, v) => s + v, 0) / ys.length;
  return Number.isFinite(a) ? (x) => my + slope * (x - mx) : (x) => x + (my - mx);
}

/** A table for the new device derived from the reference table and K measured kernels. */
export function fewShotTable(opts: FewShotOptions): LatencyTable {
  const pairs = Object.entries(opts.measured);
  if (pairs.length === 0) throw new MeasurementError('few-shot needs at least one measured kernel');
  const xs: number[] = [];
  const ys: number[] = [];
  const ops: string[] = [];
  for (const [key, ms] of pairs) {
    const ref = opts.reference.entries[key];
    if (!ref) throw new MeasurementError(`measured kernel ${key} is not in the reference table of ${opts.reference.device.id}`);
    if (!(ms > 0) || !Number.isFinite(ms)) throw new MeasurementError(`measured kernel ${key}: latency must be a positive number, got ${ms}`);
    xs.push(Math.log(ref.latencyMs));
    ys.push(Math.log(ms));
    ops.push(parseKernelKey(key).op);
  }
  const line = fitLine(xs, ys);
  const opOffset = new Map<string, number>();
  if (pairs.length >= 40) {
    for (const op of new Set(ops)) {
      const idx = ops.map((o, i) => (o === op ? i : -1)).filter((i) => i >= 0);
      if (idx.length >= 5) opOffset.set(op, idx.reduce((s, i) => s + ys[i] - line(xs[i]), 0) / idx.length);
    }
  }
  const map = (key: string, ms: number) => Math.exp(line(Math.log(ms)) + (opOffset.get(key.slice(0, key.indexOf('_'))) ?? 0));
  const entries: Record<string, TableEntry> = {};
  for (const [key, e] of Object.entries(opts.reference.entries)) {
    const measured = opts.measured[key];
    const ms = measured ?? map(key, e.latencyMs);
    entries[key] = { latencyMs: ms, rawMs: ms, relIqr: 0, repeats: measured === undefined ? 0 : e.repeats };
  }
  const baselineMs = opts.baselineMs ?? Math.exp(line(Math.log(opts.reference.measure.baselineMs)));
  return {
    ...opts.reference,
    device: opts.device,
    createdAt: new Date().toISOString(),
    measure: { ...opts.reference.measure, baselineMs },
    // The reference's overhead model is in the reference's unit: leave it out.
    overhead: null,
    calibration: undefined,
    entries,
  };
}
