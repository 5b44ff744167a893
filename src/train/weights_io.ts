// Trained models on disk in the tfjs layers format, without tfjs-node:
//   <dir>/model.json   {modelTopology, format: 'layers-model', weightsManifest: [{paths: ['weights.bin'], weights}]}
//   <dir>/weights.bin  all weights, float32, concatenated in manifest order
// (what tf.io's browser/file handlers write). Load with loadTrainedModel(dir);
// the HardSwish layer class is registered by src/space/builder.ts.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '../space/builder.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export function dirSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      mkdirSync(dir, { recursive: true });
      const data = artifacts.weightData;
      const bytes = data === undefined ? new Uint8Array(0)
        : Array.isArray(data) ? Buffer.concat(data.map((b) => new Uint8Array(b))) : new Uint8Array(data);
      writeFileSync(join(dir, WEIGHTS_BIN), bytes);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileSync(join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs).length,
          weightDataBytes: bytes.byteLength,
        },
      };
    },
  };
}

export function dirLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8')) as {
        modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
        format?: string; generatedBy?: string; convertedBy?: string | null;
      };
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(readFileSync(join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

export async function saveTrainedModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(dirSaveHandler(dir));
}

export async function loadTrainedModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(dirLoadHandler(dir));
}
