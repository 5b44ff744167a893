// TF.js layers format in a directory (model.json + weights.bin), and loading
// such a directory's weights into a model built from an ArchSpec with a
// check that names the first tensor that does not fit.
//
// Writing goes through tfjs `model.save` with the directory handler of
// src/train/weights_io.ts (the same on-disk layout the trainer writes), so
// exports and trained checkpoints are interchangeable.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { dirSaveHandler, MODEL_JSON } from '../train/weights_io.ts';
import { WeightsMismatchError } from './errors.ts';

export interface SavedTfjs {
  files: string[];
  weightBytes: number;
}

export async function saveTfjsModel(model: tf.LayersModel, dir: string): Promise<SavedTfjs> {
  const r = await model.save(dirSaveHandler(dir));
  return { files: [MODEL_JSON, 'weights.bin'], weightBytes: r.modelArtifactsInfo.weightDataBytes ?? 0 };
}

export interface NamedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

interface ModelJson {
  weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/** Reads every weight of a TF.js layers-format directory (model.json + its weight files). */
export function readTfjsWeights(dir: string): NamedWeight[] {
  const jsonPath = join(dir, MODEL_JSON);
  if (!existsSync(jsonPath)) throw new WeightsMismatchError(`weights directory ${dir} has no ${MODEL_JSON}`);
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as ModelJson;
  } catch (e) {
    throw new WeightsMismatchError(`${jsonPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(json.weightsManifest)) throw new WeightsMismatchError(`${jsonPath} has no weightsManifest`);
  const out: NamedWeight[] = [];
  for (const group of json.weightsManifest) {
    const buffers = group.paths.map((p) => {
      const f = join(dir, p);
      if (!existsSync(f)) throw new WeightsMismatchError(`weights file ${f} (listed in ${MODEL_JSON}) is missing`);
      return readFileSync(f);
    });
    const all = Buffer.concat(buffers);
    const expected = group.weights.reduce((s, w) => s + w.shape.reduce((a, d) => a * d, 1) * 4, 0);
    if (all.byteLength !== expected) {
      throw new WeightsMismatchError(`weights in ${dir}: ${all.byteLength} bytes, the manifest describes ${expected}`);
    }
    for (const w of group.weights) {
      if (w.dtype !== undefined && w.dtype !== 'float32') throw new WeightsMismatchError(`tensor ${w.name}: dtype ${w.dtype} (float32 expected)`);
      if (w.quantization) throw new WeightsMismatchError(`tensor ${w.name}: quantized weight files are not supported`);
    }
    const decoded = tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength), group.weights);
    for (const w of group.weights) {
      const t = decoded[w.name];
      out.push({ name: w.name, shape: w.shape.slice(), values: t.dataSync() as Float32Array });
      t.dispose();
    }
  }
  return out;
}

/**
 * Sets the model's weights from named tensors. Every model weight must be
 * present with the same shape and no extra tensor may remain; otherwise the
 * error names the first offending tensor (in the model's weight order).
 */
export function applyWeights(model: tf.LayersModel, weights: NamedWeight[]): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const values: tf.Tensor[] = [];
  const used = new Set<string>();
  try {
    for (const v of model.weights) {
      const name = v.originalName ?? v.name;
      const w = byName.get(name);
      if (!w) throw new WeightsMismatchError(`weights do not match the ArchSpec: tensor ${name} (shape [${v.shape.join(',')}]) is missing from the weights file`);
      if (w.shape.length !== v.shape.length || w.shape.some((d, i) => d !== v.shape[i])) {
        throw new WeightsMismatchError(`weights do not match the ArchSpec: tensor ${name} has shape [${w.shape.join(',')}] in the weights file, the ArchSpec needs [${v.shape.join(',')}]`);
      }
      used.add(name);
      values.push(tf.tensor(w.values, w.shape));
    }
    const extra = weights.find((w) => !used.has(w.name));
    if (extra) throw new WeightsMismatchError(`weights do not match the ArchSpec: tensor ${extra.name} in the weights file has no place in this network`);
    model.setWeights(values);
  } finally {
    values.forEach((t) => t.dispose());
  }
}
