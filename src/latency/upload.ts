// Upload format for measurements of a profiling bundle made on a remote
// device, its validation, and the conversion into a latency table.
//
// {
//   "format": "nas-profile-results", "formatVersion": 1, "bundleId": "...",
//   "device": { DeviceProfile },
//   "models": { "<model id>": { "samplesMs": [...], "referenceMs": [...] } }
// }
// One entry per manifest model (reference, baseline, every kernel, every
// network): samplesMs[i] is the per-inference time of round i, referenceMs[i]
// the reference network's per-inference time timed right after it (absent for
// the reference itself). A model's latency = median(samples/reference) x the
// reference's median over all rounds; consistency is judged on those ratios (raw wall times
// swing with the device's load, the ratios much less). Anything missing, negative, NaN or wildly inconsistent
// rejects the whole upload: no table is written from a partial profile.

import { validateDeviceProfile, type DeviceProfile } from './device.ts';
import { parseKernelKey } from './kernels.ts';
import { describeMachine } from './machine.ts';
import { fitOverhead, type CalibrationPoint } from './profile.ts';
import { createPredictor } from './predictor.ts';
import type { BundleManifest } from './bundle.ts';
import { decompose } from './kernels.ts';
import { fromWire } from '../space/archspec.ts';
import { median, sampleProblems, summarize } from './stats.ts';
import { LATENCY_SPACE_VERSION, TABLE_FORMAT, TABLE_FORMAT_VERSION, TableError, type LatencyTable, type TableEntry } from './table.ts';

export const RESULTS_FORMAT = 'nas-profile-results';

export interface ModelResult {
  samplesMs: number[];
  referenceMs?: number[];
}

export interface ProfileResults {
  format: typeof RESULTS_FORMAT;
  formatVersion: 1;
  bundleId: string;
  device: DeviceProfile;
  models: Record<string, ModelResult>;
}

export class UploadError extends TableError {
  constructor(message: string) {
    super(message, 422);
    this.name = 'UploadError';
  }
}

/** Validate an upload against its manifest and turn it into a table (not saved). */
export function resultsToTable(manifest: BundleManifest, input: unknown): LatencyTable {
  if (typeof input !== 'object' || input === null) throw new UploadError('results must be a JSON object');
  const r = input as ProfileResults;
  if (r.format !== RESULTS_FORMAT || r.formatVersion !== 1) throw new UploadError(`results: expected format "${RESULTS_FORMAT}" version 1`);
  if (r.bundleId !== manifest.bundleId) throw new UploadError(`results are for bundle ${String(r.bundleId)}, not ${manifest.bundleId}`);
  const device = validateDeviceProfile(r.device, 'results: device');
  if (typeof r.models !== 'object' || r.models === null) throw new UploadError('results: "models" must be an object');
  const all = [manifest.reference, manifest.baseline, ...manifest.kernels, ...manifest.networks];
  const missing = all.filter((m) => !r.models[m.id]);
  if (missing.length > 0) throw new UploadError(`results are partial: ${missing.length} of ${all.length} models missing (e.g. ${missing[0].id}); no table written`);
  const known = new Set(all.map((m) => m.id));
  const unknown = Object.keys(r.models).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new UploadError(`results name models that are not in the bundle: ${unknown.slice(0, 3).join(', ')}`);

  const refSamples = r.models.reference.samplesMs;
  const refProblems = sampleProblems(refSamples, Infinity);
  if (refProblems.length > 0) throw new UploadError(`reference: ${refProblems.join('; ')}`);
  // The unit: the reference's median over all its rounds (thousands of samples).
  const allRef = [...refSamples];
  for (const m of all) {
    const rs = r.models[m.id].referenceMs;
    if (Array.isArray(rs)) for (const v of rs) if (typeof v === 'number' && Number.isFinite(v) && v > 0) allRef.push(v);
  }
  const refMs = summarize(allRef).medianMs;
  const latencyOf = (id: string): { ms: number; relIqr: number; n: number } => {
    const m = r.models[id];
    const p1 = sampleProblems(m.samplesMs, Infinity);
    if (p1.length > 0) throw new UploadError(`model ${id}: ${p1.join('; ')}`);
    if (!Array.isArray(m.referenceMs) || m.referenceMs.length !== m.samplesMs.length) {
      throw new UploadError(`model ${id}: referenceMs must list one reference time per round (${m.samplesMs.length})`);
    }
    const p2 = sampleProblems(m.referenceMs, Infinity);
    if (p2.length > 0) throw new UploadError(`model ${id}: reference rounds: ${p2.join('; ')}`);
    const ratios = m.samplesMs.map((s, i) => (s / m.referenceMs![i]) * refMs);
    const p3 = sampleProblems(ratios);
    if (p3.length > 0) throw new UploadError(`model ${id}: ${p3.join('; ')}`);
    const s = summarize(ratios);
    if (!(s.medianMs > 0)) throw new UploadError(`model ${id}: latency is not positive`);
    return { ms: s.medianMs, relIqr: s.relIqr, n: s.repeats };
  };
  const entries: Record<string, TableEntry> = {};
  for (const k of manifest.kernels) {
    parseKernelKey(k.id);
    const l = latencyOf(k.id);
    entries[k.id] = { latencyMs: l.ms, rawMs: l.ms, relIqr: l.relIqr, repeats: l.n };
  }
  const baseline = latencyOf('baseline');
  const table: LatencyTable = {
    format: TABLE_FORMAT, formatVersion: TABLE_FORMAT_VERSION, spaceVersion: LATENCY_SPACE_VERSION,
    device, machine: { ...describeMachine(), cpu: device.cpu, cores: 0, os: device.notes ?? 'remote device', node: 'n/a (uploaded)' },
    createdAt: new Date().toISOString(),
    inputs: manifest.inputs.map((i) => ({ ...i, numClasses: manifest.numClasses })),
    measure: {
      warmup: manifest.measure.warmup, repeats: manifest.measure.repeats, batchMs: manifest.measure.batchMs, clock: 'wall',
      useReference: true, reference: manifest.measure.reference, referenceMs: refMs, baselineMs: baseline.ms,
    },
    overhead: null,
    entries,
  };
  if (manifest.networks.length >= 5) {
    const predictor = createPredictor(table);
    const points: CalibrationPoint[] = manifest.networks.map((n) => {
      const [h, w, c] = n.input;
      const ks = decompose(fromWire(n.arch), { height: h, width: w, channels: c }, manifest.numClasses);
      const pk = predictor.predictKernels(ks);
      return { measuredMs: latencyOf(n.id).ms, kernelSumMs: pk.kernelSumMs, nKernels: ks.length, outMelems: pk.outMelems };
    });
    table.overhead = fitOverhead(points);
    table.calibration = { networks: points.length, seed: 1, medianSumOverMeasured: median(points.map((p) => (p.kernelSumMs - (p.nKernels - 1) * baseline.ms) / p.measuredMs)) };
  }
  return table;
}
