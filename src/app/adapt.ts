// The "adapt a device to this host" use case: when a local device's table
// does not fit this host's relative costs (host calibration: a network or a
// class off by more than 10%), the device is re-profiled here.
//
//   quick: the empty-model baseline, a stratified subset of the table's
//          kernels (strata.ts: every class, kernel size, stride, activation
//          and input), and the host calibration's networks; the other
//          kernels are transferred from the source table (transfer.ts). The
//          transferred table is written to the data directory (where every
//          process looks first) and calibrated on the same measurements.
//   full:  every other kernel, then the fully measured table replaces it.
//
// Every measurement is appended to a partial file as it is made
// (partial.ts): an interrupted run (kill -9, Ctrl-C, a full disk) leaves the
// previous table in force and resumes where it stopped. Tables and
// calibrations are written whole (temp file + rename). Progress is one typed
// event stream (AdaptEvent) that the CLI's bar and the service's log read.

import { dataPaths, shippedPaths } from '../config/paths.ts';
import { bestAdaptedTable } from '../latency/adapted-table.ts';
import { mappingLeaveOneOut, pointOf, saveCalibration, tableHash, describeCalibration, type CalibrationStatus, type HostCalibration } from '../latency/calibration.ts';
import { fitCalibration, measureHost, type CalibrateOptions, type HostMeasurements } from '../latency/calibration-run.ts';
import type { DeviceProfile } from '../latency/device.ts';
import { kernelPlan } from '../latency/kernels.ts';
import { describeCpu, describeMachine, sameCpu } from '../latency/machine.ts';
import { PartialProfile, partialPath, planHash, type AppendLine } from '../latency/partial.ts';
import { BASELINE_KERNEL } from '../latency/profile.ts';
import { createMeasurer, MeasurementError, type LatencyRuntime, type MeasureOptions, type Measurer } from '../latency/runtime.ts';
import { createRuntime } from '../latency/runtimes/index.ts';
import { stratifiedSubset, tableKernels, type SubsetOptions, type TableKernel } from '../latency/strata.ts';
import { describeTable, loadTable, loadTableFile, saveTable, tableKind, type LatencyTable, type TableEntry } from '../latency/table.ts';
import { type CancelSignal, now } from './events.ts';

export type AdaptPhase = 'quick' | 'full';

export type AdaptEvent =
  | { type: 'adapt-started'; deviceId: string; reason: string; source: string; quickKernels: number; totalKernels: number; resumedKernels: number; at: string }
  | { type: 'adapt-progress'; deviceId: string; phase: AdaptPhase; done: number; total: number; elapsedS: number; at: string }
  | { type: 'adapt-log'; deviceId: string; message: string; at: string }
  | { type: 'adapt-table'; deviceId: string; kind: 'transferred' | 'full'; path: string; summary: string; calibration: string; fits: boolean; at: string }
  | { type: 'adapt-done'; deviceId: string; kind: 'transferred' | 'full'; wallS: number; at: string }
  | { type: 'adapt-failed'; deviceId: string; error: string; partial: string | null; at: string };

export interface AdaptOptions {
  device: DeviceProfile;
  /** the table whose unmeasured kernels are transferred (default: adaptationSource(): the shipped table, else the one in force) */
  source?: { table: LatencyTable; shipped: boolean };
  /** default: the device's runtime, created here and closed after */
  runtime?: LatencyRuntime;
  /** data directory: tables, calibrations and the partial profile (default: the process's) */
  dataDir?: string;
  /** stop after the transferred table (default: go on to the full table) */
  quickOnly?: boolean;
  subset?: SubsetOptions;
  /** how the host calibration's networks are measured */
  calibrate?: Pick<CalibrateOptions, 'budgetMs' | 'rounds' | 'classKernels' | 'networksPerInput' | 'seed'>;
  /** how kernels are measured (rounds, batch length, clock) */
  measure?: MeasureOptions;
  /** why (for the started event) */
  reason?: string;
  cancel?: CancelSignal;
  onEvent?: (e: AdaptEvent) => void;
  /** tests: how records reach the partial file */
  appendLine?: AppendLine;
}

export interface AdaptResult {
  kind: 'transferred' | 'full';
  table: LatencyTable;
  tablePath: string;
  calibration: HostCalibration;
  /** seconds this call took */
  wallS: number;
  /** what the table was built from (benchmarks rebuild it with each transfer method) */
  measurements: { kernels: ReadonlyMap<string, TableEntry>; host: HostMeasurements; measure: LatencyTable['measure'] };
}

export class AdaptInterrupted extends Error {
  readonly status = 409;
}

/** The table adaptation starts from: the shipped one when there is one, else the table in force. */
export function adaptationSource(deviceId: string): { table: LatencyTable; shipped: boolean } {
  try {
    return { table: loadTable(deviceId, shippedPaths.latencyTables), shipped: true };
  } catch {
    const t = loadTableFile(deviceId);
    return { table: t.table, shipped: t.shipped };
  }
}

/** The data directory's table of a device, if any. */
function dataDirTable(deviceId: string, dir: string): LatencyTable | undefined {
  try {
    return loadTableFile(deviceId, dir).table;
  } catch {
    return undefined;
  }
}

/**
 * What adaptation a device's table in force needs on this host: 'quick' (its relative costs do not
 * fit and it is not a table measured here), 'full' (a transferred table of this host whose full
 * profile is not done yet), or null.
 */
export function adaptationNeeded(table: LatencyTable, shipped: boolean, status: CalibrationStatus): { phase: AdaptPhase; reason: string } | null {
  const kind = tableKind(table, shipped);
  const here = kind !== 'shipped' && sameCpu(table.machine, describeMachine());
  if (here && kind === 'transferred') return { phase: 'full', reason: `the table in force is ${describeTable(table, shipped)}; the full profile is not done yet` };
  if (here && kind === 'full') return null;
  const c = status.calibration;
  if (c && !c.fits && status.state === 'fresh') return { phase: 'quick', reason: `the ${kind} table's relative costs do not fit this host (${c.misfit})` };
  return null;
}

async function measureKernel(measurer: Measurer, k: { kernel: TableKernel['kernel'] }, numClasses: number): Promise<TableEntry & { s: number }> {
  const t0 = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await measurer.measure(kernelPlan(k.kernel, numClasses));
      return { latencyMs: r.medianMs, rawMs: r.medianMs, relIqr: r.relIqr, repeats: r.repeats, s: (performance.now() - t0) / 1000 };
    } catch (e) {
      if (!(e instanceof MeasurementError) || attempt >= 4) throw e;
    }
  }
}

export async function adaptDevice(o: AdaptOptions): Promise<AdaptResult> {
  const t0 = performance.now();
  const { device } = o;
  const paths = dataPaths(o.dataDir);
  const src = o.source ?? adaptationSource(device.id);
  const source = src.table;
  const emit = (e: AdaptEvent) => o.onEvent?.(e);
  const log = (message: string) => emit({ type: 'adapt-log', deviceId: device.id, message, at: now() });
  const kernels = tableKernels(source);
  const quick = stratifiedSubset(kernels, (key) => source.entries[key].latencyMs, o.subset);
  const quickKeys = new Set(quick.map((k) => k.key));
  const order = [...quick, ...kernels.filter((k) => !quickKeys.has(k.key))];
  const numClasses = source.inputs[0]?.numClasses ?? 10;
  const machine = describeMachine();
  const runtime = o.runtime ?? (await createRuntime(device.runtime));
  const path = partialPath(paths.latencyTables, device.id);
  const want = {
    format: 'nas-profile-partial' as const, formatVersion: 1 as const, deviceId: device.id, runtimeVersion: runtime.version, cpu: describeCpu(machine),
    sourceTableHash: tableHash(source), planHash: planHash(order.map((k) => k.key)), kernels: order.length,
  };
  const resumedHeader = PartialProfile.readHeader(path, want);
  let measurer: Measurer | undefined;
  try {
    measurer = await createMeasurer(runtime, { ...o.measure, ...(resumedHeader ? { referenceMs: resumedHeader.referenceMs } : {}) });
    const partial = PartialProfile.open(path, { ...want, referenceMs: measurer.referenceMs, startedAt: resumedHeader?.startedAt ?? now() }, o.appendLine);
    emit({
      type: 'adapt-started', deviceId: device.id, reason: o.reason ?? 'requested', source: describeTable(source, src.shipped),
      quickKernels: quick.length, totalKernels: order.length, resumedKernels: partial.kernels.size, at: now(),
    });
    if (partial.resumed > 0) log(`resuming the profile in ${path}: ${partial.kernels.size} of ${order.length} kernels measured before`);
    const hostMeasure = { ...measurer.options, referenceMs: partial.header.referenceMs };
    const tableMeasure = (baselineMs: number): LatencyTable['measure'] => ({ ...hostMeasure, reference: 'ref-v1', baselineMs });
    const tableDevice: DeviceProfile = { ...device, runtimeVersion: runtime.version, threads: runtime.threads, cpu: `${describeCpu(machine)}, ${machine.cores} cores (adapted on this host)` };
    const measureRange = async (phase: AdaptPhase, ks: readonly TableKernel[]) => {
      const todo = ks.filter((k) => !partial.kernels.has(k.key));
      let done = ks.length - todo.length, lastPct = -1, lastAt = 0;
      const tPhase = performance.now();
      for (const k of todo) {
        if (o.cancel?.cancelled) throw new AdaptInterrupted(`profile of ${device.id} interrupted after ${partial.kernels.size} of ${order.length} kernels; resumable (${path})`);
        const r = await measureKernel(measurer!, k, numClasses);
        partial.add({ t: 'kernel', key: k.key, ...r });
        done++;
        const pct = Math.floor((100 * done) / ks.length);
        if (pct !== lastPct || performance.now() - lastAt > 2000 || done === ks.length) {
          lastPct = pct;
          lastAt = performance.now();
          emit({ type: 'adapt-progress', deviceId: device.id, phase, done, total: ks.length, elapsedS: (performance.now() - tPhase) / 1000, at: now() });
        }
      }
    };
    if (!partial.baseline) {
      const t1 = performance.now();
      const b = await measurer.measure(kernelPlan({ ...BASELINE_KERNEL }));
      partial.add({ t: 'baseline', latencyMs: b.medianMs, rawMs: b.medianMs, relIqr: b.relIqr, repeats: b.repeats, s: (performance.now() - t1) / 1000 });
    }
    const allMeasured = () => order.every((k) => partial.kernels.has(k.key));
    const measurements = (host: HostMeasurements): AdaptResult['measurements'] => ({ kernels: partial.kernels, host, measure: tableMeasure(partial.baseline!.latencyMs) });
    const build = (host: HostMeasurements): { table: LatencyTable; calibration: HostCalibration } => {
      const measure = tableMeasure(partial.baseline!.latencyMs);
      const networks = host.networks.map((n) => ({ kernels: n.kernels, measuredMs: n.measuredRatio * measure.referenceMs }));
      // the transfer method whose calibrated table predicts this host's calibration networks best, each without itself
      const looOf = (t: LatencyTable) => mappingLeaveOneOut(fitCalibration(device, t, host).points.map(pointOf));
      let table = bestAdaptedTable({ source, device: tableDevice, machine, measure, measured: partial.kernels, networks, measuredS: partial.measuredS }, looOf);
      const loo = looOf(table);
      if (loo !== null) table = { ...table, provenance: { ...table.provenance!, expectedAccuracy: { ...loo, networks: host.networks.length, method: 'leave-one-out over the host calibration networks' } } };
      return { table, calibration: fitCalibration(device, table, host) };
    };
    const write = (kind: 'transferred' | 'full', built: ReturnType<typeof build>): { path: string; calibration: HostCalibration } => {
      const p = saveTable(built.table, paths.latencyTables);
      saveCalibration(built.calibration, paths.calibrations);
      emit({
        type: 'adapt-table', deviceId: device.id, kind, path: p, summary: describeTable(built.table, false),
        calibration: describeCalibration({ state: 'fresh', calibration: built.calibration, reasons: [] }), fits: built.calibration.fits, at: now(),
      });
      return { path: p, calibration: built.calibration };
    };
    const hostOf = async (): Promise<HostMeasurements> => {
      if (partial.host) return partial.host;
      log('measuring the host calibration networks');
      const t1 = performance.now();
      const host = await measureHost({ device, table: source, runtime, ...o.calibrate, onProgress: log });
      partial.add({ t: 'host', s: (performance.now() - t1) / 1000, host });
      return host;
    };

    let result: AdaptResult | undefined;
    if (!allMeasured()) {
      const quickBefore = quick.every((k) => partial.kernels.has(k.key)) && partial.host !== undefined;
      await measureRange('quick', quick);
      const host = await hostOf();
      // a transferred table of this very plan already written (a resumed full profile): not written again
      const before = dataDirTable(device.id, paths.latencyTables);
      const already = quickBefore && before?.provenance?.kind === 'transferred' && before.provenance.source?.tableHash === tableHash(source) && sameCpu(before.machine, machine);
      if (!already) {
        const built = build(host);
        const w = write('transferred', built);
        result = { kind: 'transferred', table: built.table, tablePath: w.path, calibration: w.calibration, wallS: (performance.now() - t0) / 1000, measurements: measurements(host) };
      }
      if (o.quickOnly) {
        emit({ type: 'adapt-done', deviceId: device.id, kind: 'transferred', wallS: (performance.now() - t0) / 1000, at: now() });
        if (result) return result;
        const t = loadTableFile(device.id, paths.latencyTables);
        return { kind: 'transferred', table: t.table, tablePath: t.path, calibration: fitCalibration(device, t.table, host), wallS: (performance.now() - t0) / 1000, measurements: measurements(host) };
      }
      await measureRange('full', order);
    }
    const host = await hostOf();
    const built = build(host);
    const w = write('full', built);
    partial.remove();
    emit({ type: 'adapt-done', deviceId: device.id, kind: 'full', wallS: (performance.now() - t0) / 1000, at: now() });
    return { kind: 'full', table: built.table, tablePath: w.path, calibration: w.calibration, wallS: (performance.now() - t0) / 1000, measurements: measurements(host) };
  } catch (e) {
    emit({ type: 'adapt-failed', deviceId: device.id, error: (e as Error).message, partial: path, at: now() });
    throw e;
  } finally {
    measurer?.close();
    if (!o.runtime) await runtime.close();
  }
}
