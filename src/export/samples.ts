// Calibration and validation samples for export, drawn from a dataset's
// train (calibration) and validation splits, normalized as the trainer does.

import { UsageError } from '../cli/errors.ts';
import type { Dataset } from '../data/types.ts';
import { getSplit } from '../data/types.ts';
import { formatInputShape } from '../space/resolve.ts';
import type { InputShape } from '../space/types.ts';
import { PIXEL_OFFSET, PIXEL_SCALE } from '../train/augment.ts';
import type { ExportRequest, SampleSet } from './export-model.ts';

/** Validation images used for verification (at most). */
export const VERIFY_SAMPLES = 500;

/** Normalized samples (x / 127.5 - 1) of a dataset split, with labels. */
export function splitSamples(images: Uint8Array, labels: Uint8Array, px: number, count: number, source: string): SampleSet {
  const n = Math.min(count, labels.length);
  const xs = Array.from({ length: n }, (_, i) => Float32Array.from(images.subarray(i * px, (i + 1) * px), (p) => p * PIXEL_SCALE + PIXEL_OFFSET));
  return { xs, labels: Array.from(labels.subarray(0, n)), source: `${n} images of ${source}` };
}

export type DatasetSamples = Required<Pick<ExportRequest, 'representative' | 'validation' | 'labels' | 'dataset'>>;

/** Representative (train split) and validation samples of a loaded dataset, checked against the model's input. */
export function datasetSamples(ds: Dataset, input: InputShape, numClasses: number, calibCount: number): DatasetSamples {
  const m = ds.manifest;
  if (m.height !== input.height || m.width !== input.width || m.channels !== input.channels) {
    throw new UsageError(`dataset ${m.name} has ${m.height}x${m.width}x${m.channels} images, the model input is ${formatInputShape(input)}`);
  }
  if (m.classes.length !== numClasses) throw new UsageError(`dataset ${m.name} has ${m.classes.length} classes, the model has ${numClasses}`);
  const px = m.height * m.width * m.channels;
  const train = getSplit(ds, 'train');
  const val = getSplit(ds, 'validation');
  return {
    representative: splitSamples(train.images, train.labels, px, calibCount, `${m.name} train split`),
    validation: splitSamples(val.images, val.labels, px, VERIFY_SAMPLES, `${m.name} validation split`),
    labels: m.classes,
    dataset: { name: m.name, split: 'validation', samples: Math.min(VERIFY_SAMPLES, val.count) },
  };
}
