// The standard TFLite metadata of an exported image classifier: what the
// TFLite Task Library's ImageClassifier (and Android Studio's ML binding)
// need to run the model without extra code.
//   - input: ImageProperties (RGB or GRAYSCALE, H x W), NormalizationOptions
//     (mean/std per channel, applied to 0..255 pixels), Stats (the
//     normalized range);
//   - output: FeatureProperties, Stats [0, 1] (softmax probabilities), and
//     labels.txt as a TENSOR_AXIS_LABELS associated file;
//   - labels.txt itself packed into the .tflite as an appended ZIP.
// The model's "min_runtime_version" entry is written by the TFLite writer.

import type { InputShape } from '../space/types.ts';
import { AssociatedFileType, buildModelMetadata, ColorSpace, type ModelMeta, TFLITE_METADATA_NAME } from './tflite-metadata.ts';
import { appendStoredZip, type ZipEntry } from './zip-store.ts';

export const LABELS_FILE = 'labels.txt';

export interface ClassifierMetadataInput {
  input: InputShape;
  numClasses: number;
  labels: string[];
  /** per-channel (or single) mean/std applied to 0..255 pixels */
  normalization: { mean: number[]; std: number[] };
  name?: string;
  description?: string;
  version?: string;
}

export interface ClassifierMetadata {
  /** the ModelMetadata object written */
  meta: ModelMeta;
  /** model metadata entries to add to the flatbuffer (TFLITE_METADATA) */
  entries: Record<string, Uint8Array>;
  /** associated files to pack after the flatbuffer */
  files: ZipEntry[];
}

export class MetadataInputError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'MetadataInputError';
  }
}

export function classifierMetadata(c: ClassifierMetadataInput): ClassifierMetadata {
  const ch = c.input.channels;
  if (ch !== 1 && ch !== 3) throw new MetadataInputError(`image metadata needs 1 (grayscale) or 3 (RGB) input channels, got ${ch}`);
  for (const key of ['mean', 'std'] as const) {
    const v = c.normalization[key];
    if (v.length !== 1 && v.length !== ch) throw new MetadataInputError(`normalization ${key} needs 1 or ${ch} values, got ${v.length}`);
  }
  if (c.normalization.std.some((s) => !(s > 0))) throw new MetadataInputError('normalization std values must be > 0');
  if (c.labels.length !== c.numClasses) throw new MetadataInputError(`${c.labels.length} labels given for ${c.numClasses} classes`);
  const bad = c.labels.find((l) => l.length === 0 || /[\r\n]/.test(l));
  if (bad !== undefined) throw new MetadataInputError(`label ${JSON.stringify(bad)} is empty or holds a line break (labels.txt has one label a line)`);
  const { mean, std } = c.normalization;
  const at = (v: number[], i: number) => v[v.length === 1 ? 0 : i];
  const chans = Array.from({ length: ch }, (_, i) => i);
  const meta: ModelMeta = {
    name: c.name ?? 'mobile-nas image classifier',
    description: c.description ?? `Classifies ${c.input.height}x${c.input.width} ${ch === 3 ? 'RGB' : 'grayscale'} images into ${c.labels.length} classes.`,
    version: c.version,
    inputs: [{
      name: 'image',
      description: `Input image, ${c.input.height}x${c.input.width}x${ch}, pixels normalized as (p - mean) / std.`,
      content: { kind: 'image', colorSpace: ch === 3 ? ColorSpace.RGB : ColorSpace.GRAYSCALE, width: c.input.width, height: c.input.height },
      normalization: { mean: [...mean], std: [...std] },
      stats: { min: chans.map((i) => (0 - at(mean, i)) / at(std, i)), max: chans.map((i) => (255 - at(mean, i)) / at(std, i)) },
    }],
    outputs: [{
      name: 'probability',
      description: `Probabilities of the ${c.labels.length} labels.`,
      content: { kind: 'feature' },
      stats: { min: [0], max: [1] },
      associatedFiles: [{ name: LABELS_FILE, description: 'Labels for the output classes, one a line.', type: AssociatedFileType.TENSOR_AXIS_LABELS }],
    }],
  };
  return {
    meta,
    entries: { [TFLITE_METADATA_NAME]: buildModelMetadata(meta) },
    files: [{ name: LABELS_FILE, data: new TextEncoder().encode(c.labels.join('\n') + '\n') }],
  };
}

/** Packs the associated files after the flatbuffer (the result is a model and a ZIP). */
export function packAssociatedFiles(model: Uint8Array, files: ZipEntry[]): Uint8Array {
  return files.length ? appendStoredZip(model, files) : model;
}
