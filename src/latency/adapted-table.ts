// The table of a device adapted to a host (or a phone) from measurements of
// some or all of a source table's kernels: measured kernels keep their
// measurements; with a subset measured ("transferred"), every other kernel is
// mapped from the source table by the transfer method that cross-validates
// best (transfer.ts); with all measured ("full"), nothing is mapped. The
// per-network overhead model is fitted on the whole networks measured on the
// device, and the provenance records what was measured, per class, and how.

import { tableHash, type LeaveOneOut } from './calibration.ts';
import type { DeviceProfile } from './device.ts';
import { parseKernelKey } from './kernels.ts';
import { describeCpu } from './machine.ts';
import { applyOverhead, createPredictor } from './predictor.ts';
import { canFitPerInput, fitOverhead, type CalibrationPoint } from './profile.ts';
import { median } from './stats.ts';
import { classCoverage, tableKernels } from './strata.ts';
import { LATENCY_SPACE_VERSION, TABLE_FORMAT, TABLE_FORMAT_VERSION, type LatencyTable, type MachineInfo, type TableEntry, type TableProvenance } from './table.ts';
import { chooseTransfer, TRANSFER_METHODS, transferPairs, type TransferMethod } from './transfer.ts';
import { MeasurementError } from './runtime.ts';

export interface AdaptedTableInput {
  source: LatencyTable;
  device: DeviceProfile;
  machine: MachineInfo;
  /** how the measurements were made; referenceMs and baselineMs in the target's unit */
  measure: LatencyTable['measure'];
  /** measured kernels (keys of the source table), in the target's unit */
  measured: ReadonlyMap<string, TableEntry>;
  /** whole networks measured on the device (kernel keys, latency in the target's unit, input "28x28x1" where known): the overhead model's points */
  networks: readonly { kernels: readonly string[]; measuredMs: number; input?: string }[];
  /** expected accuracy on unmeasured networks, as the caller estimated it */
  expectedAccuracy?: TableProvenance['expectedAccuracy'];
  measuredS: number;
  /** use this transfer method instead of the one that cross-validates best (benchmarks compare both) */
  method?: TransferMethod;
  /** fit the overhead model with one kernel-sum slope per input (the networks must allow it: canFitPerInput) */
  perInputOverhead?: boolean;
}

/** Own time of each network's kernels, for the overhead fit and the fusion check. */
function overheadPoints(table: LatencyTable, networks: AdaptedTableInput['networks']): CalibrationPoint[] {
  const p = createPredictor({ ...table, overhead: null });
  return networks.map((n) => {
    const pk = p.predictKernels(n.kernels.map((key) => ({ key, kernel: parseKernelKey(key), node: '' })));
    return { measuredMs: n.measuredMs, kernelSumMs: pk.kernelSumMs, nKernels: n.kernels.length, outMelems: pk.outMelems, ...(n.input !== undefined ? { input: n.input } : {}) };
  });
}

export function adaptedTable(o: AdaptedTableInput): LatencyTable {
  const kernels = tableKernels(o.source);
  if (kernels.length === 0) throw new MeasurementError(`source table of ${o.source.device.id} has no kernels of its inputs`);
  const measuredKeys = new Set(kernels.filter((k) => o.measured.has(k.key)).map((k) => k.key));
  if (measuredKeys.size === 0) throw new MeasurementError('no kernel of the source table was measured');
  const full = measuredKeys.size === kernels.length;
  const entries: Record<string, TableEntry> = {};
  let transfer: TableProvenance['transfer'];
  if (full) {
    for (const k of kernels) entries[k.key] = o.measured.get(k.key)!;
  } else {
    const src = (key: string) => o.source.entries[key]?.latencyMs;
    const latencies = new Map([...o.measured].map(([k, e]) => [k, e.latencyMs]));
    const chosen = chooseTransfer(transferPairs(kernels, src, o.source.measure.baselineMs, latencies, o.measure.baselineMs), o.method);
    transfer = { method: chosen.method, crossValidation: chosen.crossValidation.map((c) => ({ method: c.method, weightedErr: c.weightedErr, within10: c.within10 })) };
    for (const k of kernels) {
      const m = o.measured.get(k.key);
      if (m) {
        entries[k.key] = m;
        continue;
      }
      const ms = chosen.map(k, Math.max(src(k.key)! - o.source.measure.baselineMs, 0)) + o.measure.baselineMs;
      // repeats 0: mapped, not measured
      entries[k.key] = { latencyMs: ms, rawMs: ms, relIqr: 0, repeats: 0 };
    }
  }
  const table: LatencyTable = {
    format: TABLE_FORMAT, formatVersion: TABLE_FORMAT_VERSION, spaceVersion: LATENCY_SPACE_VERSION,
    device: o.device, machine: o.machine, createdAt: new Date().toISOString(), inputs: o.source.inputs,
    measure: o.measure, overhead: null, entries,
  };
  if (o.networks.length >= 5) {
    const points = overheadPoints(table, o.networks);
    table.overhead = fitOverhead(points, { perInput: o.perInputOverhead });
    table.calibration = { networks: points.length, seed: 0, medianSumOverMeasured: median(points.map((p) => (p.kernelSumMs - (p.nKernels - 1) * o.measure.baselineMs) / p.measuredMs)) };
  }
  table.provenance = {
    kind: full ? 'full' : 'transferred',
    ...(full ? {} : { source: { deviceId: o.source.device.id, tableHash: tableHash(o.source), createdAt: o.source.createdAt, cpu: describeCpu(o.source.machine) } }),
    measuredKernels: measuredKeys.size, totalKernels: kernels.length,
    classes: classCoverage(kernels, measuredKeys),
    ...(transfer ? { transfer } : {}),
    ...(o.expectedAccuracy ? { expectedAccuracy: o.expectedAccuracy } : {}),
    measuredS: o.measuredS,
  };
  return table;
}

/**
 * Expected share of networks within ±10% with the table's overhead model: each measured network
 * predicted by the model fitted on the others (leave-one-out; a model with a slope per input is
 * refitted so, and stands in for a global one where the others no longer allow it), and their mean
 * |error|. Null with fewer than 6 networks.
 */
export function overheadLeaveOneOut(table: LatencyTable, networks: AdaptedTableInput['networks']): (NonNullable<TableProvenance['expectedAccuracy']> & LeaveOneOut) | undefined {
  if (networks.length < 6) return undefined;
  const points = overheadPoints(table, networks);
  let ok = 0, sumAbs = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const others = points.filter((_, j) => j !== i);
    const model = fitOverhead(others, { perInput: table.overhead?.slopeByInput !== undefined && canFitPerInput(others) });
    const err = Math.abs(applyOverhead(model, table.measure.baselineMs, p.kernelSumMs, p.nKernels, p.outMelems, p.input) / p.measuredMs - 1);
    if (err <= 0.1) ok++;
    sumAbs += err;
  }
  return { within10: ok / points.length, meanAbsErr: sumAbs / points.length, networks: points.length, method: 'leave-one-out over the networks measured on the device (table overhead model)' };
}

/**
 * A transferred table built with each transfer method, and with one overhead slope or (when the
 * networks name enough of each input: canFitPerInput) one per input; the one whose networks come
 * out best kept (`score`: the device's measured networks, each predicted without itself; null when
 * there are too few): the larger share within ±10%, on a tie the lower mean error (with two dozen
 * networks the share moves in steps of 4%, and ties are common), then the lower cross-validated
 * kernel error. The provenance records each method's best share. A full measurement has nothing
 * to transfer.
 */
export function bestAdaptedTable(o: Omit<AdaptedTableInput, 'method' | 'perInputOverhead'>, score: (t: LatencyTable) => LeaveOneOut | null): LatencyTable {
  const overheads = canFitPerInput(o.networks) ? [false, true] : [false];
  const built = TRANSFER_METHODS.flatMap((method) => overheads.map((perInputOverhead) => {
    const table = adaptedTable({ ...o, method, perInputOverhead });
    return { method, table, score: score(table) };
  }));
  if (built[0].table.provenance!.kind === 'full') return built[0].table;
  const cvErr = (b: (typeof built)[number]) => b.table.provenance!.transfer?.crossValidation.find((c) => c.method === b.method)?.weightedErr ?? Number.POSITIVE_INFINITY;
  // (share within ±10%, mean error, kernel error): larger, smaller, smaller
  const key = (b: (typeof built)[number]) => [-(b.score?.within10 ?? -1), b.score?.meanAbsErr ?? Number.POSITIVE_INFINITY, cvErr(b)];
  const better = (b: (typeof built)[number], a: (typeof built)[number]) => {
    const [x, y] = [key(b), key(a)];
    const i = x.findIndex((v, j) => v !== y[j]);
    return i >= 0 && x[i] < y[i];
  };
  const best = built.reduce((a, b) => (better(b, a) ? b : a));
  const p = best.table.provenance!;
  return {
    ...best.table,
    provenance: {
      ...p,
      transfer: {
        ...p.transfer!,
        chosenBy: `the share of networks measured on the device within ±10% (leave-one-out), then their mean error, then the cross-validated kernel error; overhead model with ${best.table.overhead?.slopeByInput ? 'a slope per input' : 'one slope'}${overheads.length > 1 ? ' (one slope and a slope per input both tried)' : ''}`,
        networks: TRANSFER_METHODS.map((method) => {
          const scores = built.filter((b) => b.method === method).map((b) => b.score?.within10).filter((x): x is number => x !== undefined);
          return { method, within10: scores.length > 0 ? Math.max(...scores) : null };
        }),
      },
    },
  };
}
