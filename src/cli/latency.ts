// `nas latency predict|calibrate|table`: latency of an architecture on a
// profiled device (table + regression + per-network overhead, mapped to this
// host's wall-clock ms by the host calibration for local devices), the host
// calibration itself, and table summaries.

import type { Command } from 'commander';
import { calibrationStatus, describeCalibration, hostFingerprint, isLocalRuntime, saveCalibration, saveRefusal, fingerprintId, type CalibrationStatus } from '../latency/calibration.ts';
import { calibrateHost, DEFAULT_CALIBRATION_BUDGET_MS } from '../latency/calibration-run.ts';
import { loadDevice } from '../latency/device.ts';
import { loadCalibratedPredictor, loadPredictor } from '../latency/index.ts';
import { MeasurementError } from '../latency/runtime.ts';
import { loadTable, type LatencyTable } from '../latency/table.ts';
import { formatInputShape, parseInputShape, resolveArch } from '../space/resolve.ts';
import { UsageError } from './errors.ts';
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

/** The calibration in force as JSON: state, one line for humans, when it was made, the mapping. */
export function calibrationJson(s: CalibrationStatus) {
  const c = s.calibration;
  return {
    state: s.state, summary: describeCalibration(s), createdAt: c?.createdAt ?? null, mapping: c?.mapping ?? null,
    reasons: s.reasons, refused: s.refused ?? null,
  };
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
      process.stderr.write(`calibration: ${describeCalibration(predictor.calibration)}\n`);
      const out = {
        device: o.device, input: formatInputShape(input),
        latencyMs: round(p.latencyMs), unit: p.tableLatencyMs === undefined ? 'table' : 'host-ms',
        tableLatencyMs: round(p.tableLatencyMs ?? p.latencyMs), coverage: round(p.coverage), kernelSumMs: round(p.kernelSumMs),
        calibration: calibrationJson(predictor.calibration),
        kernels: p.kernels.map((k) => ({ ...k, latencyMs: round(k.latencyMs) })),
      };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    });
  lat.command('calibrate')
    .description('calibrate a local device\'s table to this host: wall-clock Invoke() loops of the reference and a few networks, scale + per-network overhead')
    .requiredOption('--device <id>', 'device id of a local runtime (node-tflite-wasm, node-tfjs-wasm)')
    .option('--budget-s <s>', 'time bound for measuring', String(DEFAULT_CALIBRATION_BUDGET_MS / 1000))
    .option('--status', 'only show the calibration in force; measure nothing')
    .option('--tables <dir>', 'latency table folder (default: <data dir>/latency-tables, then the shipped tables)')
    .option('--devices <dir>', 'device profile folder (default: <data dir>/device-profiles, then the shipped profiles)')
    .action(async (o: { device: string; budgetS: string; status?: boolean; tables?: string; devices?: string }) => {
      const budgetS = numberFlag({ name: 'budget-s', greaterThan: 0 })(o.budgetS);
      const device = loadDevice(o.device, o.devices);
      if (!isLocalRuntime(device.runtime)) throw new UsageError(`device ${device.id} runs ${device.runtime}, not a runtime of this host; its table keeps the unit of its own upload`);
      const table = loadTable(o.device, o.tables);
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
      process.stdout.write(JSON.stringify({ device: device.id, fingerprint: fp, ...calibrationJson(s), points: s.calibration?.points ?? [] }, null, 2) + '\n');
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
