// `nas latency predict|table`: latency of an architecture on a profiled
// device (table + regression + per-network overhead), and table summaries.

import type { Command } from 'commander';
import { loadDevice } from '../latency/device.ts';
import { createPredictor } from '../latency/predictor.ts';
import { loadTable, type LatencyTable } from '../latency/table.ts';
import { formatInputShape, parseInputShape, resolveArch } from '../space/resolve.ts';
import { UsageError } from './errors.ts';

interface PredictOpts {
  device: string;
  arch: string[];
  input: string;
  classes: string;
  tables?: string;
  devices?: string;
}

export function parseClassCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2) throw new UsageError(`--classes must be an integer >= 2, got "${v}"`);
  return n;
}

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
    .action((o: PredictOpts) => {
      loadDevice(o.device, o.devices);
      const input = parseInputShape(o.input);
      const spec = resolveArch(o.arch.join(' '), { input });
      const table = loadTable(o.device, o.tables);
      const p = createPredictor(table).predict(spec, input, parseClassCount(o.classes));
      const out = {
        device: o.device, input: formatInputShape(input),
        latencyMs: round(p.latencyMs), coverage: round(p.coverage), kernelSumMs: round(p.kernelSumMs),
        kernels: p.kernels.map((k) => ({ ...k, latencyMs: round(k.latencyMs) })),
      };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
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
