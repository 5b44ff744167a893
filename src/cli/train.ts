// `nas train`: train one architecture on a dataset, print progress per epoch
// and the final validation and test accuracy, write weights + result JSON.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { dataPaths } from '../config/paths.ts';
import { loadDataset } from '../data/registry.ts';
import { archId, archToString, toWire } from '../space/archspec.ts';
import { resolveArch } from '../space/resolve.ts';
import { useTrainingBackend } from '../train/backend.ts';
import { defaultTrainConfig, type OptimizerName } from '../train/config.ts';
import { type EpochReport, trainArch } from '../train/trainer.ts';
import { saveTrainedModel } from '../train/weights_io.ts';
import { UsageError } from './errors.ts';
import { numberFlag } from './flags.ts';

interface TrainCliOptions {
  arch: string;
  dataset: string;
  epochs: string;
  batchSize: string;
  lr?: string;
  optimizer: string;
  subset?: string;
  valSubset?: string;
  resolution?: string;
  seed: string;
  out?: string;
  width?: string;
  labelSmoothing: string;
  weightDecay?: string;
  warmup: string;
  cropPadding: string;
  flip: boolean;
  cacheDir?: string;
  skipCorrupt?: boolean;
  channels?: string;
  threads?: string;
  cpu?: boolean;
  json?: boolean;
  validateEvery: string;
}

// Only the kind is checked here; the trainer's config validator names the ranges.
const num = (name: string, v: string | undefined, integer = false) => numberFlag({ name, integer })(v);

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);
const dur = (ms: number) => `${Math.floor(ms / 60000)}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;

export function formatEpoch(r: EpochReport, epochs: number): string {
  return [
    `${r.attempt > 0 ? `[restart ${r.attempt}] ` : ''}epoch ${r.epoch}/${epochs}`,
    `loss ${r.trainLoss.toFixed(4)}`, `train ${pct(r.trainAccuracy)}`, `val ${pct(r.valAccuracy)}`,
    `val-loss ${Number.isNaN(r.valLoss) ? '-' : r.valLoss.toFixed(4)}`, `lr ${r.learningRate.toPrecision(3)}`,
    `${r.imagesPerSec.toFixed(1)} img/s`, dur(r.elapsedMs),
  ].join('  ');
}

export function registerTrainCommand(program: Command): void {
  program.command('train')
    .description('train an architecture on a dataset (progress per epoch; final validation and test accuracy)')
    .requiredOption('--arch <arch>', 'preset name, block strings (quoted), ArchSpec JSON or a .json file')
    .requiredOption('--dataset <name>', 'fashion-mnist | mnist | folder:<path> | synthetic')
    .option('--epochs <n>', 'epochs', '5')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--lr <x>', 'peak learning rate (default: sgd 0.1, adam 0.002)')
    .option('--optimizer <name>', 'sgd (Nesterov momentum 0.9) | adam', 'sgd')
    .option('--subset <n>', 'train on the first N training images (proxy task)')
    .option('--val-subset <n>', 'validate on the first N validation images')
    .option('--resolution <r>', 'input side in pixels (default: the dataset\'s; image folders are resized to it)')
    .option('--seed <n>', 'seed for weights, data order and augmentation', '1')
    .option('--out <dir>', 'output directory for model.json, weights.bin, result.json (default <data dir>/out/train/<arch id>)')
    .option('--width <multiplier>', 'width multiplier (presets only)')
    .option('--label-smoothing <x>', 'label smoothing', '0.1')
    .option('--weight-decay <x>', 'decoupled weight decay (default: sgd 5e-4, adam 0.05)')
    .option('--warmup <epochs>', 'linear warm-up epochs before cosine decay', '0.5')
    .option('--crop-padding <px>', 'random-crop padding (0 = off)', '2')
    .option('--no-flip', 'no horizontal flips (default: where the dataset allows)')
    .option('--validate-every <n>', 'validate every N epochs (epoch 1 and the last always)', '1')
    .option('--cache-dir <dir>', 'dataset cache directory (default $NAS_DATASET_CACHE, else <data dir>/datasets)')
    .option('--skip-corrupt', 'image folders: skip undecodable files (listed in result.json) instead of failing')
    .option('--channels <n>', 'image folders: 3 (RGB) or 1 (greyscale)', '3')
    .option('--threads <n>', 'threads for native kernels')
    .option('--cpu', 'use tfjs\' plain CPU backend (slow; for comparison)')
    .option('--json', 'print the result JSON instead of the summary')
    .action(async (o: TrainCliOptions) => {
      const optimizer = o.optimizer as OptimizerName;
      if (optimizer !== 'sgd' && optimizer !== 'adam') throw new UsageError(`--optimizer must be sgd or adam, got "${o.optimizer}"`);
      const resolution = num('resolution', o.resolution, true);
      const channels = num('channels', o.channels, true);
      if (channels !== 1 && channels !== 3) throw new UsageError(`--channels must be 1 or 3, got "${o.channels}"`);
      const config = defaultTrainConfig({
        epochs: num('epochs', o.epochs, true), batchSize: num('batch-size', o.batchSize, true), optimizer,
        learningRate: num('lr', o.lr), subset: num('subset', o.subset, true), validationSubset: num('val-subset', o.valSubset, true),
        resolution, seed: num('seed', o.seed, true), labelSmoothing: num('label-smoothing', o.labelSmoothing),
        weightDecay: num('weight-decay', o.weightDecay), warmupEpochs: num('warmup', o.warmup),
        cropPadding: num('crop-padding', o.cropPadding, true), flip: o.flip ? 'auto' : false,
        validateEvery: num('validate-every', o.validateEvery, true),
      });
      const backend = await useTrainingBackend({ threads: num('threads', o.threads, true), plainCpu: o.cpu });
      const t0 = performance.now();
      const dataset = await loadDataset(o.dataset, {
        cacheDir: o.cacheDir, folder: { size: resolution, channels, skipCorrupt: o.skipCorrupt },
      });
      const m = dataset.manifest;
      const side = resolution ?? m.height;
      const input = { height: side, width: resolution ?? m.width, channels: m.channels };
      const arch = resolveArch(o.arch, { input, widthMultiplier: num('width', o.width) });
      const id = archId(arch);
      const log = (s: string) => { if (!o.json) process.stdout.write(s + '\n'); };
      log(`arch ${id}: ${archToString(arch)}`);
      log(`dataset ${m.name}: ${m.classes.length} classes, ${m.height}x${m.width}x${m.channels}, train ${config.subset ? Math.min(config.subset, m.splits.train.count) : m.splits.train.count} / validation ${config.validationSubset ? Math.min(config.validationSubset, m.splits.validation.count) : m.splits.validation.count} / test ${m.splits.test.count}${m.skipped.length ? `, ${m.skipped.length} corrupt file(s) skipped` : ''}`);
      log(`backend ${backend.name}, ${config.optimizer} lr ${config.learningRate}, batch ${config.batchSize}, ${config.epochs} epochs, input ${side}px`);
      const result = await trainArch({
        arch, dataset, config, evaluateTest: true, keepModel: true,
        onEpoch: (r) => log(formatEpoch(r, config.epochs)),
      });
      const out = o.out ?? join(dataPaths().outputs, 'train', id);
      mkdirSync(out, { recursive: true });
      await saveTrainedModel(result.model!, out);
      result.model!.dispose();
      delete result.model;
      const doc = {
        arch: toWire(arch), archId: id, archText: archToString(arch),
        dataset: { name: m.name, source: m.source, classes: m.classes, splits: m.splits, splitSeed: m.splitSeed, skipped: m.skipped },
        config, result, backend,
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
        totalWallMs: performance.now() - t0,
        command: ['nas', 'train', ...process.argv.slice(process.argv.indexOf('train') + 1)].join(' '),
        weights: { format: 'tfjs layers-model', modelJson: 'model.json', weights: 'weights.bin' },
      };
      writeFileSync(join(out, 'result.json'), JSON.stringify(doc, null, 2) + '\n');
      if (o.json) {
        process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
        return;
      }
      log(`validation accuracy ${pct(result.valAccuracy)} (${result.valImages} images)  test accuracy ${pct(result.testAccuracy)} (${m.splits.test.count} images)`);
      log(`${result.restarts} restart(s), ${result.imagesPerSec.toFixed(1)} train img/s, wall ${dur(doc.totalWallMs)}; wrote ${out}/model.json, weights.bin, result.json`);
    });
}
