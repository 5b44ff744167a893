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
//
// A quick suite's upload (bundle.ts, mode quick) may measure a subset of its
// kernels, as long as every class of the suite (operator class at each
// input) has one; otherwise it is refused naming the missing classes. Its
// table is transferred from the suite's reference table (adapted-table.ts):
// measured kernels as measured, the rest mapped, with the per-class coverage
// and the accuracy to expect on networks it has not measured.

import { bestAdaptedTable, overheadLeaveOneOut, type AdaptedTableInput } from './adapted-table.ts';
import { tableHash } from './calibration.ts';
import { validateDeviceProfile, type DeviceProfile } from './device.ts';
import { classOf, kernelsOfInputs, missingClasses } from './strata.ts';
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
  /** seconds the device spent measuring (reported by the page) */
  elapsedS?: number;
}

export class UploadError extends TableError {
  constructor(message: string) {
    super(message, 422);
    this.name = 'UploadError';
  }
}

/** A model whose rounds (ratios to the reference) disagree beyond the limit. */
class InconsistentRepeats extends UploadError {}

/** A model's latency from its rounds with no limit on how much they disagree (finite, positive values only). */
function lenientLatency(m: ModelResult, refMs: number): { ms: number } {
  if (!Array.isArray(m.referenceMs) || m.referenceMs.length !== m.samplesMs.length) throw new UploadError('model baseline: referenceMs must list one reference time per round');
  const ratios = m.samplesMs.map((s, i) => (s / m.referenceMs![i]) * refMs);
  const p = sampleProblems(ratios, Infinity);
  if (p.length > 0) throw new UploadError(`model baseline: ${p.join('; ')}`);
  return { ms: median(ratios) };
}

/** Networks a quick upload keeps at least (the overhead model and its leave-one-out check need them). */
const MIN_QUICK_NETWORKS = 6;

export interface ResultsOptions {
  /** quick suites: the table named in manifest.transfer (its hash must match) */
  transferFrom?: LatencyTable;
  /** quick suites: build the table from the upload's measurements this way instead of the best of every way (bench:latency-replay compares them) */
  build?: (input: QuickTableInput) => LatencyTable;
}

/** What a quick upload measured, ready for adaptedTable. */
export type QuickTableInput = Omit<AdaptedTableInput, 'method' | 'perInputOverhead' | 'keepMeasured'>;

/** Validate an upload against its manifest and turn it into a table (not saved). */
export function resultsToTable(manifest: BundleManifest, input: unknown, o: ResultsOptions = {}): LatencyTable {
  if (typeof input !== 'object' || input === null) throw new UploadError('results must be a JSON object');
  const r = input as ProfileResults;
  if (r.format !== RESULTS_FORMAT || r.formatVersion !== 1) throw new UploadError(`results: expected format "${RESULTS_FORMAT}" version 1`);
  if (r.bundleId !== manifest.bundleId) throw new UploadError(`results are for bundle ${String(r.bundleId)}, not ${manifest.bundleId}`);
  const device = validateDeviceProfile(r.device, 'results: device');
  if (typeof r.models !== 'object' || r.models === null) throw new UploadError('results: "models" must be an object');
  const all = [manifest.reference, manifest.baseline, ...manifest.kernels, ...manifest.networks];
  const quick = manifest.mode === 'quick';
  // a quick upload may leave kernels out (checked per class below); nothing else
  const required = quick ? [manifest.reference, manifest.baseline, ...manifest.networks] : all;
  const missing = required.filter((m) => !r.models[m.id]);
  if (missing.length > 0) throw new UploadError(`results are partial: ${missing.length} of ${required.length} ${quick ? 'reference, baseline and network ' : ''}models missing (e.g. ${missing[0].id}); no table written`);
  const known = new Set(all.map((m) => m.id));
  const unknown = Object.keys(r.models).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new UploadError(`results name models that are not in the bundle: ${unknown.slice(0, 3).join(', ')}`);

  const refSamples = r.models.reference.samplesMs;
  const refProblems = sampleProblems(refSamples, Infinity);
  if (refProblems.length > 0) throw new UploadError(`reference: ${refProblems.join('; ')}`);
  // The unit: the reference's median over all its rounds (thousands of samples).
  const allRef = [...refSamples];
  for (const m of all) {
    const rs = r.models[m.id]?.referenceMs;
    if (Array.isArray(rs)) for (const v of rs) if (typeof v === 'number' && Number.isFinite(v) && v > 0) allRef.push(v);
  }
  const refMs = summarize(allRef).medianMs;
  const latencyOf = (id: string, lenient = false): { ms: number; relIqr: number; n: number } => {
    const m = r.models[id];
    const p1 = sampleProblems(m.samplesMs, Infinity);
    if (p1.length > 0) throw new UploadError(`model ${id}: ${p1.join('; ')}`);
    if (!Array.isArray(m.referenceMs) || m.referenceMs.length !== m.samplesMs.length) {
      throw new UploadError(`model ${id}: referenceMs must list one reference time per round (${m.samplesMs.length})`);
    }
    const p2 = sampleProblems(m.referenceMs, Infinity);
    if (p2.length > 0) throw new UploadError(`model ${id}: reference rounds: ${p2.join('; ')}`);
    const ratios = m.samplesMs.map((s, i) => (s / m.referenceMs![i]) * refMs);
    const p3 = sampleProblems(ratios, lenient ? Infinity : undefined);
    if (p3.length > 0) throw new InconsistentRepeats(`model ${id}: ${p3.join('; ')}`);
    const s = summarize(ratios);
    if (!(s.medianMs > 0)) throw new UploadError(`model ${id}: latency is not positive`);
    return { ms: s.medianMs, relIqr: s.relIqr, n: s.repeats };
  };
  const entries: Record<string, TableEntry> = {};
  const dropped: string[] = [];
  /** quick: kernels left out for disagreeing rounds, with their median anyway (a class's last resort) */
  const noisy = new Map<string, TableEntry>();
  for (const k of manifest.kernels) {
    parseKernelKey(k.id);
    if (quick && !r.models[k.id]) continue;
    let l;
    try {
      l = latencyOf(k.id);
    } catch (e) {
      // a quick suite leaves out a kernel whose repeats disagree (its class must still be covered); malformed data refuses the upload
      if (!quick || !(e instanceof InconsistentRepeats)) throw e;
      dropped.push(k.id);
      const n = latencyOf(k.id, true);
      noisy.set(k.id, { latencyMs: n.ms, rawMs: n.ms, relIqr: n.relIqr, repeats: n.n });
      continue;
    }
    entries[k.id] = { latencyMs: l.ms, rawMs: l.ms, relIqr: l.relIqr, repeats: l.n };
  }
  // quick: the empty model's rounds may disagree more (a call of nothing, timed by a coarse clock on a
  // busy or throttled page); its median is still kept, as only kernels' own times are mapped
  const baseline = quick ? lenientLatency(r.models.baseline, refMs) : latencyOf('baseline');
  if (quick) return quickTable(manifest, r, device, entries, dropped, noisy, baseline.ms, refMs, (id) => latencyOf(id).ms, o);
  const table: LatencyTable = {
    format: TABLE_FORMAT, formatVersion: TABLE_FORMAT_VERSION, spaceVersion: LATENCY_SPACE_VERSION,
    device, machine: remoteMachine(device),
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
      const ks = networkKernels(manifest, n);
      const pk = predictor.predictKernels(ks);
      return { measuredMs: latencyOf(n.id).ms, kernelSumMs: pk.kernelSumMs, nKernels: ks.length, outMelems: pk.outMelems };
    });
    table.overhead = fitOverhead(points);
    table.calibration = { networks: points.length, seed: 1, medianSumOverMeasured: median(points.map((p) => (p.kernelSumMs - (p.nKernels - 1) * baseline.ms) / p.measuredMs)) };
  }
  return table;
}

function networkKernels(manifest: BundleManifest, n: BundleManifest['networks'][number]) {
  const [h, w, c] = n.input;
  return decompose(fromWire(n.arch), { height: h, width: w, channels: c }, manifest.numClasses);
}

const remoteMachine = (device: DeviceProfile) => ({ ...describeMachine(), cpu: device.cpu, cores: 0, os: device.notes ?? 'remote device', node: 'n/a (uploaded)' });

/** A quick suite's upload as a table transferred from the suite's reference table; refused when a class has no measured kernel. */
function quickTable(manifest: BundleManifest, r: ProfileResults, device: DeviceProfile, measured: Record<string, TableEntry>, dropped: string[], noisy: ReadonlyMap<string, TableEntry>,
  baselineMs: number, refMs: number, latencyOf: (id: string) => number, o: ResultsOptions): LatencyTable {
  const inputs = manifest.inputs.map((i) => ({ input: i.input, numClasses: manifest.numClasses }));
  const all = kernelsOfInputs(inputs);
  // a class whose every measured kernel had disagreeing rounds (a busy or throttled phone) keeps its
  // steadiest one rather than losing the whole upload: noisy, named in the provenance
  const keptNoisy: string[] = [];
  for (const cls of missingClasses(all, new Set(Object.keys(measured)))) {
    const best = all.filter((k) => classOf(k) === cls && noisy.has(k.key)).sort((a, b) => noisy.get(a.key)!.relIqr! - noisy.get(b.key)!.relIqr!)[0];
    if (!best) continue;
    measured[best.key] = noisy.get(best.key)!;
    keptNoisy.push(best.key);
    dropped.splice(dropped.indexOf(best.key), 1);
  }
  const missingCls = missingClasses(all, new Set(Object.keys(measured)));
  if (missingCls.length > 0) {
    throw new UploadError(`quick results do not cover every class: no kernel measured for ${missingCls.join(', ')} (${(manifest.classes?.length ?? 0) - missingCls.length} of ${manifest.classes?.length ?? '?'} classes measured)` +
      `${dropped.length > 0 ? `; left out for repeats that disagree: ${dropped.slice(0, 5).join(', ')}${dropped.length > 5 ? ` and ${dropped.length - 5} more` : ''}` : ''}; no table written`);
  }
  const src = o.transferFrom;
  if (!src || !manifest.transfer || src.device.id !== manifest.transfer.deviceId || tableHash(src) !== manifest.transfer.tableHash) {
    throw new TableError(`the quick suite transfers from ${manifest.transfer?.deviceId ?? 'an unnamed table'} (table ${manifest.transfer?.tableHash ?? '?'}), which this service no longer has; reload the profiling page to get the current suite`, 409);
  }
  const source: LatencyTable = { ...src, inputs: src.inputs.filter((i) => inputs.some((x) => x.input === i.input)) };
  if (source.inputs.length === 0) throw new TableError(`the transfer table of ${src.device.id} has none of the suite's inputs (${inputs.map((i) => i.input).join(', ')})`, 409);
  // a network whose repeats disagree is left out too, as long as 6 remain for the overhead model and its check
  const networks: { kernels: string[]; measuredMs: number; input: string }[] = [];
  let droppedNetworks = 0;
  for (const n of manifest.networks) {
    try {
      networks.push({ kernels: networkKernels(manifest, n).map((k) => k.key), measuredMs: latencyOf(n.id), input: n.input.join('x') });
    } catch (e) {
      if (!(e instanceof InconsistentRepeats) || manifest.networks.length - droppedNetworks <= MIN_QUICK_NETWORKS) throw e;
      droppedNetworks++;
      dropped.push(n.id);
    }
  }
  const measure: LatencyTable['measure'] = {
    warmup: manifest.measure.warmup, repeats: manifest.measure.repeats, batchMs: manifest.measure.batchMs, clock: 'wall',
    useReference: true, reference: manifest.measure.reference, referenceMs: refMs, baselineMs,
  };
  const measuredS = typeof r.elapsedS === 'number' && Number.isFinite(r.elapsedS) && r.elapsedS >= 0 ? r.elapsedS : 0;
  // the transfer method whose table predicts the device's measured networks best, each without itself
  const input: QuickTableInput = { source, device, machine: remoteMachine(device), measure, measured: new Map(Object.entries(measured)), networks, measuredS };
  const table = o.build ? o.build(input) : bestAdaptedTable(input, (t) => overheadLeaveOneOut(t, networks) ?? null);
  const expected = overheadLeaveOneOut(table, networks);
  return { ...table, provenance: { ...table.provenance!, ...(expected ? { expectedAccuracy: expected } : {}), ...(dropped.length > 0 ? { dropped } : {}), ...(keptNoisy.length > 0 ? { keptNoisy } : {}) } };
}
