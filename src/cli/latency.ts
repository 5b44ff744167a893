// `nas latency predict|calibrate|adapt|table`: latency of an architecture on
// a profiled device (the best table available + regression + per-network
// overhead, mapped to this host's ms by the host calibration and the
// reference's wall time for local devices), the host calibration itself, the
// re-profiling of a device whose table does not fit this host, and table
// summaries.

import type { Command } from 'commander';
import { AdaptInterrupted, adaptationNeeded, adaptDevice, type AdaptPhase } from '../app/adapt.ts';
import { calibrationStatus, describeCalibration, hostFingerprint, isLocalRuntime, saveCalibration, saveRefusal, fingerprintId, type CalibrationStatus } from '../latency/calibration.ts';
import { calibrateHost, DEFAULT_CALIBRATION_BUDGET_MS } from '../latency/calibration-run.ts';
import { loadDevice, type DeviceProfile } from '../latency/device.ts';
import { loadCalibratedPredictor, loadPredictor, tableInForce } from '../latency/index.ts';
import { MeasurementError } from '../latency/runtime.ts';
import { loadTable, loadTableFile, type LatencyTable } from '../latency/table.ts';
import { formatInputShape, parseInputShape, resolveArch } from '../space/resolve.ts';
import { adaptReporter } from './adapt-progress.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { numberFlag } from './flags.ts';

interface PredictOpts {
  device: string;
  arch: string[];
  input: string;
  classes: string;
  tables?: string;
  devices?: string;
  calibration: string;
}

const CALIBRATION_MODES = ['auto', 'cached', 'off'] as const;

/** The calibration in force as JSON: state, one line for humans, when it was made, the mapping, the reference timing, whether the table fits this host. */
export function calibrationJson(s: CalibrationStatus) {
  const c = s.calibration;
  return {
    state: s.state, summary: describeCalibration(s), createdAt: c?.createdAt ?? null, mapping: c?.mapping ?? null,
    reference: s.reference ?? c?.reference ?? null, fits: c ? c.fits : null, misfit: c?.misfit ?? null,
    reasons: s.reasons, refused: s.refused ?? null,
  };
}

/** Re-profile a local device on this host with a progress bar; Ctrl-C stops between kernels and keeps the measurements. */
export async function runAdaptation(device: DeviceProfile, o: { quickOnly?: boolean; events?: boolean; reason?: string; fraction?: number }): Promise<void> {
  const cancel = { cancelled: false };
  const onSigint = () => {
    if (cancel.cancelled) process.exit(130);
    cancel.cancelled = true;
    process.stderr.write('\nstopping after the current kernel (Ctrl-C again to stop now; the measurements so far are kept either way)\n');
  };
  process.on('SIGINT', onSigint);
  const rep = adaptReporter({ events: o.events });
  try {
    await adaptDevice({ device, quickOnly: o.quickOnly, reason: o.reason, cancel, onEvent: rep.onEvent, ...(o.fraction !== undefined ? { subset: { fraction: o.fraction } } : {}) });
  } catch (e) {
    if (e instanceof AdaptInterrupted) throw new CommandFailed(e.message);
    throw e;
  } finally {
    rep.stop();
    process.off('SIGINT', onSigint);
  }
}

/** --classes of the latency and profile commands */
export const parseClassCount = numberFlag({ name: 'classes', integer: true, min: 2 });

export function tableSummary(t: LatencyTable) {
  const byOp: Record<string, number> = {};
  for (const key of Object.keys(t.entries)) {
    const op = key.slice(0, key.indexOf('_'));
    byOp[op] = (byOp[op] ?? 0) + 1;
  }
  return {
    device: t.device.id, runtime: t.device.runtime, runtimeVersion: t.device.runtimeVersion, threads: t.device.threads,
    machine: t.machine, createdAt: t.createdAt, spaceVersion: t.spaceVersion, inputs: t.inputs,
    entries: Object.keys(t.entries).length, entriesByOp: byOp, measure: t.measure, overhead: t.overhead, calibration: t.calibration,
  };
}

export function registerLatencyCommand(program: Command): void {
  const lat = program.command('latency').description('predict inference latency on a profiled device');
  lat.command('predict')
    .description('predicted latency of an architecture: {latencyMs, coverage, kernels}')
    .requiredOption('--device <id>', 'device id (a device profile with a latency table)')
    .requiredOption('--arch <arch...>', 'preset name, block strings, ArchSpec JSON or a .json file')
    .option('--input <HxWxC>', 'input shape', '28x28x1')
    .option('--classes <n>', 'number of classes', '10')
    .option('--tables <dir>', 'latency table folder (default: <data dir>/latency-tables, then the shipped tables)')
    .option('--devices <dir>', 'device profile folder (default: <data dir>/device-profiles, then the shipped profiles)')
    .option('--calibration <mode>', 'host calibration of a local device: auto (measure first when missing or stale, <= 60 s) | cached (never measure) | off (table units)', 'auto')
    .action(async (o: PredictOpts) => {
      if (!(CALIBRATION_MODES as readonly string[]).includes(o.calibration)) throw new UsageError(`--calibration must be one of ${CALIBRATION_MODES.join(', ')}, got "${o.calibration}"`);
      const input = parseInputShape(o.input);
      const spec = resolveArch(o.arch.join(' '), { input });
      const numClasses = parseClassCount(o.classes);
      const opts = { tablesDir: o.tables, devicesDir: o.devices, calibration: o.calibration === 'off' ? 'off' as const : 'auto' as const };
      const predictor = o.calibration === 'auto'
        ? await loadCalibratedPredictor(o.device, { ...opts, onProgress: (m) => process.stderr.write(m + '\n') })
        : loadPredictor(o.device, opts);
      const p = predictor.predict(spec, input, numClasses);
      process.stderr.write(`table: ${predictor.table.summary}\ncalibration: ${describeCalibration(predictor.calibration)}\n`);
      const out = {
        device: o.device, input: formatInputShape(input),
        latencyMs: round(p.latencyMs), unit: p.tableLatencyMs === undefined ? 'table' : 'host-ms',
        tableLatencyMs: round(p.tableLatencyMs ?? p.latencyMs), referenceRatio: p.referenceRatio ?? null, referenceMs: p.referenceMs ?? null,
        coverage: round(p.coverage), kernelSumMs: round(p.kernelSumMs),
        table: predictor.table,
        calibration: calibrationJson(predictor.calibration),
        kernels: p.kernels.map((k) => ({ ...k, latencyMs: round(k.latencyMs) })),
      };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    });
  lat.command('calibrate')
    .description("calibrate a local device's table to this host in relative units (networks timed interleaved with the reference network, a few kernels per class); a table whose relative costs do not fit is re-profiled here (nas latency adapt)")
    .requiredOption('--device <id>', 'device id of a local runtime (node-tflite-wasm, node-tfjs-wasm)')
    .option('--budget-s <s>', 'time bound for measuring', String(DEFAULT_CALIBRATION_BUDGET_MS / 1000))
    .option('--status', 'only show the calibration in force; measure nothing')
    .option('--no-adapt', 'when the table does not fit this host, only say so (default: re-profile the device here)')
    .option('--tables <dir>', 'latency table folder (default: <data dir>/latency-tables, then the shipped tables)')
    .option('--devices <dir>', 'device profile folder (default: <data dir>/device-profiles, then the shipped profiles)')
    .action(async (o: { device: string; budgetS: string; status?: boolean; adapt: boolean; tables?: string; devices?: string }) => {
      const budgetS = numberFlag({ name: 'budget-s', greaterThan: 0 })(o.budgetS);
      const device = loadDevice(o.device, o.devices);
      if (!isLocalRuntime(device.runtime)) throw new UsageError(`device ${device.id} runs ${device.runtime}, not a runtime of this host; its table keeps the unit of its own upload`);
      const { table, shipped } = loadTableFile(o.device, o.tables);
      const fp = hostFingerprint(device, table);
      if (!o.status) {
        try {
          const path = saveCalibration(await calibrateHost({ device, table, budgetMs: budgetS * 1000, onProgress: (m) => process.stderr.write(m + '\n') }));
          process.stderr.write(`wrote ${path}\n`);
        } catch (e) {
          if (e instanceof MeasurementError) saveRefusal(device.id, fingerprintId(fp), e.message);
          throw e;
        }
      }
      const s = calibrationStatus(fp);
      process.stdout.write(JSON.stringify({ device: device.id, fingerprint: fp, table: tableInForce(table, shipped), ...calibrationJson(s), classes: s.calibration?.classes ?? [], points: s.calibration?.points ?? [] }, null, 2) + '\n');
      const need = o.status || o.tables !== undefined ? null : adaptationNeeded(table, shipped, s);
      if (need && !o.adapt) process.stderr.write(`${need.reason}: re-profile with nas latency adapt --device ${device.id}\n`);
      else if (need) await runAdaptation(device, { reason: need.reason });
    });
  lat.command('adapt')
    .description("re-profile a local device on this host: a stratified subset of its kernels first (the rest transferred from the shipped table), then the full table; each written to <data dir>/latency-tables and calibrated; an interrupted run resumes")
    .requiredOption('--device <id>', 'device id of a local runtime (node-tflite-wasm, node-tfjs-wasm)')
    .option('--quick-only', 'stop after the transferred table')
    .option('--fraction <f>', 'share of each stratum measured in the quick subset (default 0.08)')
    .option('--events', 'print the progress events as JSON lines on stdout (for the service)')
    .option('--reason <text>', 'why, for the started event (the service says)')
    .option('--devices <dir>', 'device profile folder (default: <data dir>/device-profiles, then the shipped profiles)')
    .action(async (o: { device: string; quickOnly?: boolean; fraction?: string; events?: boolean; reason?: string; devices?: string }) => {
      const device = loadDevice(o.device, o.devices);
      if (!isLocalRuntime(device.runtime)) throw new UsageError(`device ${device.id} runs ${device.runtime}, which cannot run on this host; profile it in its browser (nas profile --serve --device ${device.id})`);
      const fraction = numberFlag({ name: 'fraction', greaterThan: 0, max: 1 })(o.fraction);
      await runAdaptation(device, { quickOnly: o.quickOnly, events: o.events, reason: o.reason ?? 'requested (nas latency adapt)', fraction });
    });
  lat.command('table')
    .description('summary of a device latency table')
    .requiredOption('--device <id>', 'device id')
    .option('--tables <dir>', 'latency table folder (default: <data dir>/latency-tables, then the shipped tables)')
    .option('--devices <dir>', 'device profile folder (default: <data dir>/device-profiles, then the shipped profiles)')
    .action((o: { device: string; tables?: string; devices?: string }) => {
      loadDevice(o.device, o.devices);
      process.stdout.write(JSON.stringify(tableSummary(loadTable(o.device, o.tables)), null, 2) + '\n');
    });
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}
