// The delivery half of `nas run`: trained weights of a (possibly refined or
// scaled) spec -> .tflite float32 / int8 and TF.js exports, each verified in
// the TFLite interpreter (or by reloading, for TF.js), with dataset samples
// resized to the model's input side (resolution scaling upsamples small
// datasets bilinearly, as the trainer does), and a model card per export that
// states the input size and the resize.

import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type CancelSignal, CancelledError } from '../app/events.ts';
import { join } from 'node:path';
import type { Dataset } from '../data/types.ts';
import { getSplit } from '../data/types.ts';
import { type ExportFormat, exportModel, type ExportResult, type SampleSet } from '../export/export-model.ts';
import type { LatencyFigure } from '../export/model-card.ts';
import { VERIFY_SAMPLES } from '../export/samples.ts';
import { buildModel } from '../space/builder.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { PIXEL_OFFSET, PIXEL_SCALE, resizeAll } from '../train/augment.ts';
import { applyNamedWeights } from '../train/trainer.ts';
import { saveTrainedModel } from '../train/weights_io.ts';
import type { NamedWeights } from './prune.ts';

function samples(ds: Dataset, split: 'train' | 'validation', count: number, side: number): SampleSet & { labels: number[] } {
  const s = getSplit(ds, split);
  const n = Math.min(count, s.count);
  const g = { height: s.height, width: s.width, channels: s.channels };
  const images = resizeAll(s.images.subarray(0, n * s.height * s.width * s.channels), g, n, side);
  const px = side * side * s.channels;
  const resized = side !== s.height || side !== s.width ? `, resized bilinearly ${s.height}x${s.width} -> ${side}x${side}` : '';
  return {
    xs: Array.from({ length: n }, (_, i) => Float32Array.from(images.subarray(i * px, (i + 1) * px), (p) => p * PIXEL_SCALE + PIXEL_OFFSET)),
    labels: Array.from(s.labels.subarray(0, n)),
    source: `${n} images of ${ds.manifest.name} ${split} split${resized}`,
  };
}

export interface DeliverRequest {
  spec: ArchSpec;
  input: InputShape;
  numClasses: number;
  weights: NamedWeights;
  dataset: Dataset;
  outDir: string;
  formats: readonly ExportFormat[];
  accuracy: { top1: number; split: string };
  predictedLatency: LatencyFigure;
  /** tflite formats: time Invoke() of the exported file in this process too */
  measureFiles?: boolean;
  /** checked before each format: a CancelledError stops the delivery (formats done stay on disk) */
  cancel?: CancelSignal;
  /** before ('start') and after ('done', with its verification) each format */
  onFormat?: (e: { format: ExportFormat; index: number; total: number; phase: 'start' | 'done'; result?: ExportResult }) => void;
}

export interface Delivered {
  format: ExportFormat;
  result: ExportResult;
  /** every file of the export directory (model files and model-card.json) */
  files: { name: string; path: string; sizeBytes: number }[];
}

export async function deliver(r: DeliverRequest): Promise<Delivered[]> {
  if (r.input.height !== r.input.width) throw new RangeError(`export needs a square input, got ${r.input.height}x${r.input.width}`);
  const m = r.dataset.manifest;
  const weightsDir = join(r.outDir, 'weights');
  const model = buildModel(r.spec, { inputShape: r.input, numClasses: r.numClasses, seed: 1 });
  try {
    applyNamedWeights(model, r.weights);
    mkdirSync(weightsDir, { recursive: true });
    await saveTrainedModel(model, weightsDir);
  } finally {
    model.dispose();
  }
  const side = r.input.height;
  const representative = samples(r.dataset, 'train', 64, side);
  const validation = samples(r.dataset, 'validation', VERIFY_SAMPLES, side);
  const out: Delivered[] = [];
  for (const [index, format] of r.formats.entries()) {
    if (r.cancel?.cancelled) throw new CancelledError(`cancelled before exporting ${format}`);
    r.onFormat?.({ format, index, total: r.formats.length, phase: 'start' });
    const dir = join(r.outDir, format);
    const result = await exportModel({
      arch: r.spec, input: r.input, numClasses: r.numClasses, format, outDir: dir, weightsDir, verify: true,
      representative, validation, labels: m.classes,
      dataset: { name: m.name, split: 'validation', samples: validation.xs.length },
      accuracy: r.accuracy, predictedLatency: r.predictedLatency,
      measure: r.measureFiles && format !== 'tfjs' ? { warmup: 5, runs: 30 } : undefined,
    });
    const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile())
      .map((name) => ({ name, path: join(dir, name), sizeBytes: statSync(join(dir, name)).size }));
    out.push({ format, result, files });
    r.onFormat?.({ format, index, total: r.formats.length, phase: 'done', result });
  }
  return out;
}

export function readFileBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
