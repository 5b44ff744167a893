// `nas export`: ArchSpec (+ trained weights) -> .tflite (float32 / int8) or
// TF.js layers format, a model card beside it, optionally verified in the
// TFLite interpreter.

import { join } from 'node:path';
import type { Command } from 'commander';
import { dataPaths } from '../config/paths.ts';
import { loadDataset } from '../data/registry.ts';
import { EXPORT_FORMATS, type ExportFormat, exportModel, FLOAT_TOLERANCE, type Verification } from '../export/export-model.ts';
import { datasetSamples } from '../export/samples.ts';
import { archId } from '../space/archspec.ts';
import { formatInputShape, parseInputShape, resolveArch } from '../space/resolve.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { numberFlag, positiveIntFlag } from './flags.ts';

interface ExportOpts {
  arch: string[];
  input: string;
  classes: string;
  weights?: string;
  format: string;
  out?: string;
  verify?: boolean;
  verifyTolerance?: string;
  cardHostname?: boolean;
  int8Io?: boolean | string;
  dataset?: string;
  calib: string;
  seed: string;
  width?: string;
  json?: boolean;
  measure?: boolean;
  predictedMs?: string;
  device?: string;
}


function formatVerification(v: Verification, format: ExportFormat): string {
  const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(2)}%`);
  const lines = [`verify (${v.reference}, ${v.samples} inputs): ${v.passed ? 'PASSED' : 'FAILED'} [${v.criterion}]`];
  if (format !== 'tfjs') {
    lines.push(`  max abs diff ${v.maxAbsDiff.toExponential(3)}, mean abs diff ${v.meanAbsDiff.toExponential(3)}, top-1 agreement ${pct(v.top1Agreement)}`);
    if (v.accuracyDrop !== undefined) {
      lines.push(`  accuracy: reference ${pct(v.referenceAccuracy)}, exported ${pct(v.tfliteAccuracy)}, drop ${(v.accuracyDrop * 100).toFixed(2)} points`);
    }
    lines.push(`  median Invoke() ${v.medianInvokeMs.toFixed(3)} ms (TFLite WASM, XNNPACK, 1 thread)`);
  } else {
    lines.push(`  max abs diff ${v.maxAbsDiff}, top-1 agreement ${pct(v.top1Agreement)}`);
  }
  return lines.join('\n');
}

export function registerExportCommand(program: Command): void {
  program.command('export')
    .description('export an architecture (fresh or trained weights) as .tflite float32/int8 or TF.js, with a model card')
    .requiredOption('--arch <arch...>', 'preset name, block strings, ArchSpec JSON or a .json file')
    .option('--input <HxWxC>', 'input shape', '224x224x3')
    .requiredOption('--classes <n>', 'number of classes')
    .option('--weights <dir>', 'TF.js layers-format directory with trained weights (default: freshly initialized)')
    .option('--format <format>', `one of ${EXPORT_FORMATS.join(', ')}`, 'tflite')
    .option('--out <dir>', 'output directory (default: <data dir>/out/export/<arch id>/<format>)')
    .option('--verify', 'run the export in the TFLite interpreter (tfjs: reload) and compare; a failed verification exits 1')
    .option('--verify-tolerance <x>', `tflite (float32) with --verify: largest max abs difference from tfjs that passes (default ${FLOAT_TOLERANCE}; 0 demands identical outputs)`)
    .option('--int8-io [type]', 'tflite-int8: full-integer graph I/O, int8 (default) or uint8 (raw 0..255 pixel input, as the TFLite Task Library takes); default float32 I/O with a float classifier head')
    .option('--dataset <name>', 'calibration/validation data (fashion-mnist, mnist, folder:<path>, synthetic); default random inputs')
    .option('--calib <n>', 'representative samples for int8 calibration', '100')
    .option('--seed <n>', 'initializer seed when no --weights', '1')
    .option('--width <multiplier>', 'width multiplier (presets only)')
    .option('--measure', 'tflite formats: time Invoke() locally (TFLite WASM, 1 thread) and record it in the model card')
    .option('--predicted-ms <x>', 'predicted latency to record in the model card (with --device)')
    .option('--device <id>', 'device the predicted latency is for')
    .option('--card-hostname', 'name this host in the model card\'s measured latency (default: CPU model only)')
    .option('--json', 'print the model card as JSON')
    .action(async (o: ExportOpts) => {
      const format = o.format as ExportFormat;
      if (!EXPORT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${o.format}"`);
      if (o.int8Io && format !== 'tflite-int8') throw new UsageError('--int8-io applies to --format tflite-int8 only');
      if (typeof o.int8Io === 'string' && o.int8Io !== 'int8' && o.int8Io !== 'uint8') throw new UsageError(`--int8-io takes int8 or uint8, got "${o.int8Io}"`);
      const int8Io = o.int8Io === 'uint8' ? 'uint8' : o.int8Io ? 'int8' : undefined;
      const input = parseInputShape(o.input);
      const numClasses = positiveIntFlag('classes')(o.classes);
      const width = numberFlag({ name: 'width', greaterThan: 0 })(o.width);
      const arch = resolveArch(o.arch.join(' '), { input, widthMultiplier: width });
      if (o.measure && format === 'tfjs') throw new UsageError('--measure applies to tflite formats only');
      let predictedLatency: { latencyMs: number; device: string } | undefined;
      if (o.predictedMs !== undefined) {
        const ms = numberFlag({ name: 'predicted-ms', greaterThan: 0 })(o.predictedMs);
        if (!o.device) throw new UsageError('--predicted-ms needs --device <id>');
        predictedLatency = { latencyMs: ms, device: o.device };
      }
      let floatTolerance: number | undefined;
      if (o.verifyTolerance !== undefined) {
        floatTolerance = numberFlag({ name: 'verify-tolerance', min: 0 })(o.verifyTolerance);
        if (!o.verify || format !== 'tflite') throw new UsageError('--verify-tolerance applies to --format tflite with --verify');
      }
      const outDir = o.out ?? join(dataPaths().outputs, 'export', archId(arch), format);
      const data = o.dataset ? datasetSamples(await loadDataset(o.dataset), input, numClasses, positiveIntFlag('calib')(o.calib)) : undefined;
      const r = await exportModel({
        arch, input, numClasses, format, outDir, weightsDir: o.weights, seed: numberFlag({ name: 'seed', integer: true, min: 0 })(o.seed),
        verify: o.verify, int8Io, representative: data?.representative, validation: data?.validation,
        labels: data?.labels, dataset: data?.dataset, predictedLatency,
        measure: o.measure ? { warmup: 5, runs: 20 } : undefined, floatTolerance, cardHostname: o.cardHostname,
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(r.card, null, 2) + '\n');
      } else {
        const c = r.card;
        process.stdout.write(`${c.archString}\n  ${formatInputShape(input)} -> ${numClasses} classes, ${c.params} params, ${(c.macs / 1e6).toFixed(2)} M MACs, weights: ${c.weightsSource}\n`);
        for (const f of c.files) process.stdout.write(`  wrote ${f.name} (${f.sizeBytes} bytes)\n`);
        process.stdout.write(`  wrote ${r.cardPath}\n`);
        if (o.measure && c.measuredLatency) process.stdout.write(`  measured ${c.measuredLatency.latencyMs.toFixed(3)} ms per Invoke() on ${c.measuredLatency.device}\n`);
        if (r.verification) process.stdout.write(formatVerification(r.verification, format) + '\n');
      }
      if (r.verification && !r.verification.passed) {
        throw new CommandFailed(`verification FAILED for ${r.files.join(', ')} (${r.verification.criterion}); the files are kept for inspection`);
      }
    });
}
