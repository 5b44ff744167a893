// `nas profile`: measure a device's latency table on a local runtime (and
// write it only when the whole profile succeeded; an interrupted one resumes
// from <tables dir>/partial/<device>.jsonl), build the remote
// profiling bundle, import uploaded measurements, serve the browser page.
//   nas profile --device node-tflite-wasm [--input 28x28x1,32x32x3]
//   nas profile --write-bundle --bundle out/suite [--max-kernels N]
//   nas profile --serve --device my-phone [--bundle out/suite] [--host 0.0.0.0] [--port 8080]
//   nas profile --import results.json --bundle out/suite

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { readBundleManifest, writeBundle } from '../latency/bundle.ts';
import { dataDir } from '../config/paths.ts';
import { startProfilingServer } from '../http/profiling-server.ts';
import { createLogger } from '../http/logger.ts';
import { resultsToTable } from '../latency/upload.ts';
import { loadDevice } from '../latency/device.ts';
import { describeCpu, describeMachine } from '../latency/machine.ts';
import { PARTIAL_FORMAT, PartialProfile, partialPath, planHash } from '../latency/partial.ts';
import { profileDevice, profileKernels, recalibrate, type ProfileTarget } from '../latency/profile.ts';
import { createMeasurer, LOCAL_RUNTIME_IDS } from '../latency/runtime.ts';
import { createRuntime } from '../latency/runtimes/index.ts';
import { defaultTablesDir, loadTable, saveTable } from '../latency/table.ts';
import { parseInputShape } from '../space/resolve.ts';
import { skeletonFor } from '../space/skeleton.ts';
import { UsageError } from './errors.ts';
import { numberFlag } from './flags.ts';
import { parseClassCount } from './latency.ts';

interface ProfileOpts {
  device?: string;
  bundle?: string;
  serve?: boolean;
  port: string;
  host: string;
  import?: string;
  input: string;
  classes: string;
  repeats: string;
  calibration: string;
  maxKernels?: string;
  timeBudget: string;
  tables?: string;
  devices?: string;
  seed: string;
  quiet?: boolean;
}

const count = (name: string) => numberFlag({ name, integer: true, min: 0 });
const parsePort = numberFlag({ name: 'port', integer: true, min: 0, max: 65535 });

export function parseTargets(list: string): ProfileTarget[] {
  return list.split(',').filter((s) => s.trim()).map((s) => {
    const input = parseInputShape(s.trim());
    return { skeleton: skeletonFor(input), input };
  });
}

export function registerProfileCommand(program: Command): void {
  const cmd = program.command('profile')
    .description('measure a latency table for a device on a local runtime (tflite-wasm, tfjs-wasm)')
    .option('--device <id>', 'device id (a device profile: <data dir>/device-profiles or the shipped ones): measure its table on a local runtime')
    .option('--bundle <dir>', 'profiling bundle folder: written by --write-bundle, read by --serve and --import')
    .option('--write-bundle', 'write the suite as a bundle (.tflite files + manifest.json) into --bundle')
    .option('--serve', "serve the browser profiling page for --device (the service app on the data directory; the page URL carries the device's upload token; uploads become new table versions in the store)")
    .option('--port <n>', 'port for --serve', '8080')
    .option('--host <addr>', 'address for --serve (0.0.0.0 to reach it from a phone on the network)', '127.0.0.1')
    .option('--import <results.json>', 'validate measurements uploaded for --bundle and store them as a table')
    .option('--input <list>', 'comma-separated input shapes HxWxC to enumerate kernels for', '28x28x1,32x32x3')
    .option('--classes <n>', 'number of classes', '10')
    .option('--repeats <n>', 'timed rounds per kernel', '15')
    .option('--calibration <n>', 'whole networks measured to fit the per-network overhead', '40')
    .option('--max-kernels <n>', 'measure at most this many kernels per input (random subset)')
    .option('--time-budget <s>', 'abort (writing nothing) after this many seconds', '1800')
    .option('--seed <n>', 'seed for subsets and calibration networks', '1')
    .option('--tables <dir>', 'latency table folder (default: tables are read from <data dir>/latency-tables, then the shipped ones, and written to <data dir>/latency-tables)')
    .option('--devices <dir>', 'device profile folder (default: <data dir>/device-profiles, then the shipped profiles)')
    .option('--recalibrate', "re-measure only the calibration networks of --device's existing table and refit its overhead model")
    .option('--add-input <list>', "measure kernels for more input shapes into --device's existing table (same unit), then recalibrate")
    .option('--quiet', 'no progress on stderr')
    .action(async (o: ProfileOpts & { writeBundle?: boolean }) => {
      const numClasses = parseClassCount(o.classes);
      if (o.serve) {
        if (o.writeBundle || o.import) throw new UsageError('--serve runs alone (write the bundle first with --write-bundle)');
        if (!o.device) throw new UsageError('--serve needs --device <id> (the device to profile; registered as a browser device when new)');
        const svc = await startProfilingServer({ dataDir: dataDir(), deviceId: o.device, bundleDir: o.bundle, host: o.host, port: parsePort(o.port), logger: createLogger(), adminToken: process.env.NAS_ADMIN_KEY || undefined });
        if (svc.newAdminToken) process.stdout.write(`admin API key (shown once, keep it): ${svc.newAdminToken}\n`);
        process.stdout.write(`open on the device: ${svc.pageUrl}\n`);
        process.stderr.write(`[profile] uploads become new table versions of ${o.device} (GET /v1/devices/${o.device}/latency-table); Ctrl-C to stop\n`);
        await new Promise(() => {});
      }
      if (o.writeBundle || o.import) {
        if (!o.bundle) throw new UsageError('--write-bundle and --import need --bundle <dir>');
        if (o.writeBundle) {
          const m = writeBundle(o.bundle, {
            targets: parseTargets(o.input), numClasses, calibrationNetworks: count('calibration')(o.calibration),
            maxKernelsPerTarget: count('max-kernels')(o.maxKernels), seed: count('seed')(o.seed),
          });
          process.stdout.write(JSON.stringify({ bundle: o.bundle, bundleId: m.bundleId, kernels: m.kernels.length, networks: m.networks.length }, null, 2) + '\n');
        }
        if (o.import) {
          let body: unknown;
          try {
            body = JSON.parse(readFileSync(o.import, 'utf8'));
          } catch (e) {
            throw new UsageError(`${o.import}: not readable JSON (${(e as Error).message})`);
          }
          const table = resultsToTable(readBundleManifest(o.bundle), body);
          const path = saveTable(table, o.tables);
          process.stdout.write(JSON.stringify({ device: table.device.id, table: path, entries: Object.keys(table.entries).length }, null, 2) + '\n');
        }
        return;
      }
      if (!o.device) throw new UsageError('give --device <id> (or --write-bundle / --import with --bundle, or --serve --device <id>)');
      const device = loadDevice(o.device, o.devices);
      if (!LOCAL_RUNTIME_IDS.includes(device.runtime)) {
        throw new UsageError(`device ${device.id} runs ${device.runtime}, which cannot run here: build the bundle (nas profile bundle) and upload its results`);
      }
      const runtime = await createRuntime(device.runtime);
      const addInput = (o as { addInput?: string }).addInput;
      if ((o as { recalibrate?: boolean }).recalibrate || addInput) {
        let old = loadTable(device.id, o.tables);
        const mm = old.measure;
        const measurer = await createMeasurer(runtime, { warmup: mm.warmup, repeats: mm.repeats, batchMs: mm.batchMs, clock: mm.clock, useReference: mm.useReference, referenceMs: mm.referenceMs });
        try {
          if (addInput) {
            const log = o.quiet ? () => {} : (msg: string) => process.stderr.write(`[profile ${device.id}] ${msg}\n`);
            const extra = await profileDevice({
              device: old.device, measurer, targets: parseTargets(addInput), numClasses, calibrationNetworks: 0,
              maxKernelsPerTarget: count('max-kernels')(o.maxKernels), seed: count('seed')(o.seed),
              timeBudgetMs: count('time-budget')(o.timeBudget) * 1000, onProgress: log,
            });
            old = { ...old, inputs: [...old.inputs.filter((i) => !extra.inputs.some((e) => e.input === i.input)), ...extra.inputs], entries: { ...old.entries, ...extra.entries } };
          }
          const targets = old.inputs.map((t) => parseTargets(t.input)[0]);
          const table = await recalibrate(old, { measurer, targets, numClasses, calibrationNetworks: count('calibration')(o.calibration), seed: count('seed')(o.seed) });
          const path = saveTable(table, o.tables);
          process.stdout.write(JSON.stringify({ device: device.id, table: path, overhead: table.overhead, calibration: table.calibration }, null, 2) + '\n');
        } finally {
          measurer.close();
        }
        return;
      }
      const plan = {
        targets: parseTargets(o.input), numClasses, maxKernelsPerTarget: count('max-kernels')(o.maxKernels), seed: count('seed')(o.seed),
      };
      // An interrupted profile (Ctrl-C, kill -9, a full disk) keeps its measurements here and the next run resumes.
      const keys = profileKernels(plan).map((k) => k.key);
      const want = {
        format: PARTIAL_FORMAT as typeof PARTIAL_FORMAT, formatVersion: 1 as const, deviceId: device.id, runtimeVersion: runtime.version, cpu: describeCpu(describeMachine()),
        sourceTableHash: `nas profile --repeats ${o.repeats}`, planHash: planHash(keys), kernels: keys.length,
      };
      const partialFile = partialPath(o.tables ?? defaultTablesDir(), device.id);
      const resumed = PartialProfile.readHeader(partialFile, want);
      const measurer = await createMeasurer(runtime, { repeats: count('repeats')(o.repeats), ...(resumed ? { referenceMs: resumed.referenceMs } : {}) });
      const log = o.quiet ? () => {} : (m: string) => process.stderr.write(`[profile ${device.id}] ${m}\n`);
      log(`${runtime.version}; reference network ${measurer.referenceMs.toFixed(4)} ms`);
      try {
        const partial = PartialProfile.open(partialFile, { ...want, referenceMs: measurer.referenceMs, startedAt: resumed?.startedAt ?? new Date().toISOString() });
        const table = await profileDevice({
          device, measurer, ...plan, calibrationNetworks: count('calibration')(o.calibration),
          timeBudgetMs: count('time-budget')(o.timeBudget) * 1000, onProgress: log, partial,
        });
        const path = saveTable(table, o.tables);
        partial.remove();
        process.stdout.write(JSON.stringify({ device: device.id, table: path, entries: Object.keys(table.entries).length, overhead: table.overhead, calibration: table.calibration }, null, 2) + '\n');
      } finally {
        measurer.close();
        await runtime.close();
      }
    });
  return void cmd;
}
