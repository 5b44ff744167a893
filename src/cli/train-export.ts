// `nas train-export`: one GIVEN architecture (no search) through training and
// delivery on embedded defaults: latency predicted on a device profile and
// checked against the target, training on a real dataset, export to .tflite
// float32 and int8 (verified in the TFLite interpreter, latency measured
// there) and TF.js, model cards beside each. (The whole search-to-model job
// is `nas run`.) `nas pipeline` is its old name: a hidden, deprecated alias
// that warns once and keeps the old output layout (out/pipeline/<arch id>/
// pipeline.json), so scripts written for it keep working.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadDataset } from '../data/registry.ts';
import { EXPORT_FORMATS, exportModel } from '../export/export-model.ts';
import { datasetSamples } from '../export/samples.ts';
import { checkTfliteLatency } from '../latency/calibration-wall.ts';
import { describeCalibration, loadCalibratedPredictor } from '../latency/index.ts';
import { archId, archToString, toWire } from '../space/archspec.ts';
import { formatInputShape, resolveArch } from '../space/resolve.ts';
import { useTrainingBackend } from '../train/backend.ts';
import { defaultTrainConfig, type OptimizerName } from '../train/config.ts';
import { trainArch } from '../train/trainer.ts';
import { saveTrainedModel } from '../train/weights_io.ts';
import { dataPaths } from '../config/paths.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { numberFlag, positiveIntFlag } from './flags.ts';
import { formatEpoch } from './train.ts';

interface TrainExportOpts {
  arch: string;
  dataset: string;
  device: string;
  latencyTargetMs?: string;
  epochs: string;
  subset?: string;
  batchSize: string;
  optimizer: string;
  seed: string;
  out?: string;
  width?: string;
  verifyTolerance?: string;
}

/** Where a command of this use case writes: `<data dir>/out/<folder>/<arch id>/<summary>`. */
interface Layout {
  folder: string;
  summary: string;
}

const TRAIN_EXPORT: Layout = { folder: 'train-export', summary: 'train-export.json' };
/** `nas pipeline`'s layout, kept for scripts that read it */
const PIPELINE: Layout = { folder: 'pipeline', summary: 'pipeline.json' };

export const PIPELINE_DEPRECATION = 'warning: nas pipeline is now nas train-export';

export function registerTrainExportCommand(program: Command): void {
  defineTrainExport(program.command('train-export'), TRAIN_EXPORT)
    .description('train a given architecture (no search) and export it: predict latency on a device, train on a dataset, export .tflite (float32, int8) and TF.js, verified');
  // the old name: hidden from the help, one warning line, then the same job
  defineTrainExport(program.command('pipeline', { hidden: true }), PIPELINE, () => process.stderr.write(`${PIPELINE_DEPRECATION}\n`))
    .description('deprecated: nas train-export');
}

function defineTrainExport(cmd: Command, layout: Layout, before?: () => void): Command {
  return cmd
    .option('--arch <arch>', 'preset name, block strings (quoted), ArchSpec JSON or a .json file', 'proxy-small')
    .option('--dataset <name>', 'fashion-mnist | mnist | folder:<path> | synthetic', 'fashion-mnist')
    .option('--device <id>', 'device profile whose latency table predicts latency', 'node-tflite-wasm')
    .option('--latency-target-ms <ms>', 'refuse architectures predicted slower than this on the device')
    .option('--epochs <n>', 'training epochs', '3')
    .option('--subset <n>', 'train on the first N training images (default: all)')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--optimizer <name>', 'sgd | adam', 'sgd')
    .option('--seed <n>', 'seed for weights, data order and augmentation', '1')
    .option('--width <multiplier>', 'width multiplier (presets only)')
    .option('--out <dir>', `output directory (default: <data dir>/out/${layout.folder})`)
    .option('--verify-tolerance <x>', 'float32 .tflite verification: largest max abs difference from tfjs that passes (default 1e-4)')
    .action(async (o: TrainExportOpts) => {
      before?.();
      const optimizer = o.optimizer as OptimizerName;
      if (optimizer !== 'sgd' && optimizer !== 'adam') throw new UsageError(`--optimizer must be sgd or adam, got "${o.optimizer}"`);
      const targetMs = numberFlag({ name: 'latency-target-ms', greaterThan: 0 })(o.latencyTargetMs);
      const floatTolerance = numberFlag({ name: 'verify-tolerance', min: 0 })(o.verifyTolerance);
      const log = (s: string) => process.stdout.write(s + '\n');

      // Training options are checked before anything slow (data, latency calibration) happens.
      const config = defaultTrainConfig({
        epochs: positiveIntFlag('epochs')(o.epochs), batchSize: positiveIntFlag('batch-size')(o.batchSize),
        subset: positiveIntFlag('subset')(o.subset), seed: numberFlag({ name: 'seed', integer: true, min: 0 })(o.seed), optimizer,
      });

      // 1. Data and architecture (validated before anything slow happens).
      const dataset = await loadDataset(o.dataset);
      const m = dataset.manifest;
      const input = { height: m.height, width: m.width, channels: m.channels };
      const numClasses = m.classes.length;
      const arch = resolveArch(o.arch, { input, widthMultiplier: numberFlag({ name: 'width', greaterThan: 0 })(o.width) });
      const id = archId(arch);
      log(`arch ${id}: ${archToString(arch)}`);
      log(`dataset ${m.name}: ${numClasses} classes, ${formatInputShape(input)}, train ${m.splits.train.count} / validation ${m.splits.validation.count} / test ${m.splits.test.count}`);

      // 2. Latency on the device profile.
      const latency = await loadCalibratedPredictor(o.device, { onProgress: log });
      const prediction = latency.predict(arch, input, numClasses);
      log(`predicted latency on ${o.device}: ${prediction.latencyMs.toFixed(3)} ms (table coverage ${(100 * prediction.coverage).toFixed(1)}%); calibration: ${describeCalibration(latency.calibration)}`);
      if (targetMs !== undefined && prediction.latencyMs > targetMs) {
        throw new UsageError(`architecture ${id} is predicted at ${prediction.latencyMs.toFixed(3)} ms on ${o.device}, over the ${targetMs} ms target; choose a smaller architecture or a larger target`);
      }

      // 3. Proxy training.
      const backend = await useTrainingBackend({});
      log(`training on backend ${backend.name}: ${config.optimizer}, ${config.epochs} epochs, batch ${config.batchSize}`);
      const trained = await trainArch({
        arch, dataset, config, evaluateTest: true, keepModel: true, onEpoch: (r) => log(formatEpoch(r, config.epochs)),
      });
      const outDir = join(o.out ?? join(dataPaths().outputs, layout.folder), id);
      const weightsDir = join(outDir, 'weights');
      mkdirSync(weightsDir, { recursive: true });
      await saveTrainedModel(trained.model!, weightsDir);
      trained.model!.dispose();
      log(`validation accuracy ${(100 * trained.valAccuracy).toFixed(2)}%, test accuracy ${(100 * (trained.testAccuracy ?? NaN)).toFixed(2)}%`);

      // 4. Export every format, verified; tflite formats measured in the local interpreter.
      const samples = datasetSamples(dataset, input, numClasses, 64);
      const exports: Record<string, unknown> = {};
      let failed = false;
      for (const format of EXPORT_FORMATS) {
        const r = await exportModel({
          arch, input, numClasses, format, outDir: join(outDir, format), weightsDir, verify: true, ...samples,
          accuracy: trained.testAccuracy === undefined
            ? { top1: trained.valAccuracy, split: 'validation' }
            : { top1: trained.testAccuracy, split: 'test' },
          predictedLatency: { latencyMs: prediction.latencyMs, device: o.device },
          measure: format === 'tfjs' ? undefined : { warmup: 5, runs: 30 }, floatTolerance,
        });
        const v = r.verification!;
        failed ||= !v.passed;
        const measured = r.card.measuredLatency ? `, measured ${r.card.measuredLatency.latencyMs.toFixed(3)} ms` : '';
        log(`${format}: ${r.files.map((f) => f.split('/').pop()).join(', ')}; ${v.criterion}: ${v.passed ? 'passed' : 'FAILED'} (max abs diff ${v.maxAbsDiff.toExponential(2)}, top-1 agreement ${(100 * v.top1Agreement).toFixed(1)}%${measured})`);
        exports[format] = { files: r.files, card: r.cardPath, verification: v, measuredLatency: r.card.measuredLatency };
        if (format === 'tflite') {
          // Same wall-clock method as the host calibration (src/latency/calibration-wall.ts), so the two agree.
          const check = await checkTfliteLatency(r.files.find((f) => f.endsWith('.tflite'))!, prediction.latencyMs);
          log(`latency on ${o.device}: ${check.line}; calibration ${latency.calibration.state}`);
          exports[format] = { ...(exports[format] as object), latencyCheck: { ...check, calibration: latency.calibration.state } };
        }
      }
      const summary = {
        archId: id, arch: toWire(arch), archText: archToString(arch), dataset: m.name, device: o.device,
        latencyTargetMs: targetMs ?? null, predictedLatency: prediction, accuracy: { validation: trained.valAccuracy, test: trained.testAccuracy },
        training: { backend: backend.name, config, imagesPerSec: trained.imagesPerSec }, exports,
      };
      const summaryPath = join(outDir, layout.summary);
      writeFileSync(summaryPath, JSON.stringify(summary, (k, v) => (k === 'kernels' ? undefined : v), 2) + '\n');
      log(`wrote ${summaryPath}`);
      if (failed) throw new CommandFailed(`verification failed for at least one export (see above); summary in ${summaryPath}`);
    });
}
