// `nas profile`: measure a device's latency table on a local runtime (and
// write it only when the whole profile succeeded), build the remote
// profiling bundle, import uploaded measurements, serve the browser page.

import type { Command } from 'commander';
import { loadDevice } from '../latency/device.ts';
import { profileDevice, type ProfileTarget } from '../latency/profile.ts';
import { createMeasurer, LOCAL_RUNTIME_IDS } from '../latency/runtime.ts';
import { createRuntime } from '../latency/runtimes/index.ts';
import { saveTable } from '../latency/table.ts';
import { parseInputShape } from '../space/resolve.ts';
import { skeletonFor } from '../space/skeleton.ts';
import { UsageError } from './errors.ts';
import { parseClassCount } from './latency.ts';

interface ProfileOpts {
  device: string;
  input: string;
  classes: string;
  repeats: string;
  calibration: string;
  maxKernels?: string;
  timeBudget: string;
  tables: string;
  devices: string;
  seed: string;
  quiet?: boolean;
}

function posInt(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got "${v}"`);
  return n;
}

export function parseTargets(list: string): ProfileTarget[] {
  return list.split(',').filter((s) => s.trim()).map((s) => {
    const input = parseInputShape(s.trim());
    return { skeleton: skeletonFor(input), input };
  });
}

export function registerProfileCommand(program: Command): void {
  const cmd = program.command('profile')
    .description('measure a latency table for a device on a local runtime (tflite-wasm, tfjs-wasm)')
    .requiredOption('--device <id>', 'device id (device-profiles/<id>.json)')
    .option('--input <list>', 'comma-separated input shapes HxWxC to enumerate kernels for', '28x28x1,32x32x3')
    .option('--classes <n>', 'number of classes', '10')
    .option('--repeats <n>', 'timed rounds per kernel', '15')
    .option('--calibration <n>', 'whole networks measured to fit the per-network overhead', '40')
    .option('--max-kernels <n>', 'measure at most this many kernels per input (random subset)')
    .option('--time-budget <s>', 'abort (writing nothing) after this many seconds', '1800')
    .option('--seed <n>', 'seed for subsets and calibration networks', '1')
    .option('--tables <dir>', 'latency table folder', 'latency-tables')
    .option('--devices <dir>', 'device profile folder', 'device-profiles')
    .option('--quiet', 'no progress on stderr')
    .action(async (o: ProfileOpts) => {
      const device = loadDevice(o.device, o.devices);
      if (!LOCAL_RUNTIME_IDS.includes(device.runtime)) {
        throw new UsageError(`device ${device.id} runs ${device.runtime}, which cannot run here: build the bundle (nas profile bundle) and upload its results`);
      }
      const runtime = await createRuntime(device.runtime);
      const measurer = await createMeasurer(runtime, { repeats: posInt(o.repeats, '--repeats') });
      const log = o.quiet ? () => {} : (m: string) => process.stderr.write(`[profile ${device.id}] ${m}\n`);
      log(`${runtime.version}; reference network ${measurer.referenceMs.toFixed(4)} ms`);
      try {
        const table = await profileDevice({
          device, measurer, targets: parseTargets(o.input), numClasses: parseClassCount(o.classes),
          calibrationNetworks: posInt(o.calibration, '--calibration'),
          maxKernelsPerTarget: o.maxKernels === undefined ? undefined : posInt(o.maxKernels, '--max-kernels'),
          seed: posInt(o.seed, '--seed'), timeBudgetMs: posInt(o.timeBudget, '--time-budget') * 1000, onProgress: log,
        });
        const path = saveTable(table, o.tables);
        process.stdout.write(JSON.stringify({ device: device.id, table: path, entries: Object.keys(table.entries).length, overhead: table.overhead, calibration: table.calibration }, null, 2) + '\n');
      } finally {
        measurer.close();
        await runtime.close();
      }
    });
  return void cmd;
}
