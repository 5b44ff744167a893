// The export path: ArchSpec (+ weights) -> .tflite float32 / int8 or
// TF.js layers format in a directory, a model card beside it, and an
// optional verification in the TFLite interpreter. Used by `nas export`
// and by the service's final stage.

import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../space/builder.ts';
import { expandNetwork } from '../space/network.ts';
import { createRng } from '../space/rng.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { dirLoadHandler } from '../train/weights_io.ts';
import { archToString } from '../space/archspec.ts';
import { buildModelCard, defaultNormalization, type LatencyFigure, measuringMachine, type ModelCard, type ModelCardInput, writeModelCard } from './model-card.ts';
import { classifierMetadata, packAssociatedFiles } from './classifier-metadata.ts';
import { quantizeIr } from './quantize.ts';
import { applyWeights, readTfjsWeights, saveTfjsModel } from './tfjs-format.ts';
import { emitTflite, floatEncoder, lowerWithWeights } from './tflite-writer.ts';
import { loadTfliteModel, timeInvoke } from '../tflite/interpreter.ts';
import { argmax, type Comparison, compareWithReference, predictTfjs, runTflite } from './verify.ts';

export type ExportFormat = 'tflite' | 'tflite-int8' | 'tfjs';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['tflite', 'tflite-int8', 'tfjs'];

/** Inputs as the network sees them (normalized floats), with optional labels. */
export interface SampleSet {
  xs: Float32Array[];
  labels?: number[];
  /** where they come from, for the model card */
  source: string;
}

export interface ExportRequest {
  arch: ArchSpec;
  input: InputShape;
  numClasses: number;
  format: ExportFormat;
  outDir: string;
  /** TF.js layers-format directory with trained weights; absent = freshly initialized */
  weightsDir?: string;
  /** initializer seed when no weights are given (default 1) */
  seed?: number;
  /** int8: calibration inputs (default 64 random inputs in [-1, 1]) */
  representative?: SampleSet;
  /**
   * int8: graph input/output type instead of float32. true or 'int8': int8
   * I/O; 'uint8': uint8 I/O whose input takes raw 0..255 pixels (the
   * normalization folded into its quantization), as the TFLite Task Library
   * accepts.
   */
  int8Io?: boolean | 'int8' | 'uint8';
  /** run the result in the interpreter and compare (on these inputs, default 32 random ones) */
  verify?: boolean;
  /** tflite formats: time Invoke() in the local interpreter and record it as measured latency */
  measure?: { warmup: number; runs: number };
  validation?: SampleSet;
  labels?: string[];
  dataset?: ModelCardInput['dataset'];
  accuracy?: ModelCardInput['accuracy'];
  predictedLatency?: LatencyFigure;
  measuredLatency?: LatencyFigure;
  /** float32 .tflite verification: largest max abs difference from tfjs that passes (default FLOAT_TOLERANCE) */
  floatTolerance?: number;
  /** name this host in the card's measured latency (default: CPU model only) */
  cardHostname?: boolean;
}

export interface Verification extends Comparison {
  reference: string;
  /** the tolerance the comparison is held to, and whether it held */
  criterion: string;
  passed: boolean;
}

export interface ExportResult {
  files: string[];
  card: ModelCard;
  cardPath: string;
  verification?: Verification;
}

export const FLOAT_TOLERANCE = 1e-4;
export const INT8_MIN_AGREEMENT = 0.99;
/** with labelled inputs, int8 also passes at >= this agreement when its accuracy drops by at most INT8_MAX_ACCURACY_DROP */
export const INT8_MIN_AGREEMENT_LABELLED = 0.97;
export const INT8_MAX_ACCURACY_DROP = 0.005;

/**
 * The int8 export's verification against the float32 .tflite: top-1 agreement
 * >= 99%, or, when the inputs are labelled, agreement >= 97% with an accuracy
 * drop of at most 0.5 point (near-tied logits flip under quantization without
 * costing accuracy: MobileNetV2 agreed on 98.6% with no drop, bench:int8).
 */
export function int8Verdict(cmp: Pick<Comparison, 'top1Agreement' | 'accuracyDrop'>): { criterion: string; passed: boolean } {
  const labelled = cmp.accuracyDrop !== undefined && Number.isFinite(cmp.accuracyDrop);
  const criterion = `top-1 agreement >= ${INT8_MIN_AGREEMENT * 100}%` +
    (labelled ? `, or >= ${INT8_MIN_AGREEMENT_LABELLED * 100}% with an accuracy drop <= ${INT8_MAX_ACCURACY_DROP * 100} point` : '');
  const passed = cmp.top1Agreement >= INT8_MIN_AGREEMENT ||
    (labelled && cmp.top1Agreement >= INT8_MIN_AGREEMENT_LABELLED && cmp.accuracyDrop! <= INT8_MAX_ACCURACY_DROP + 1e-12);
  return { criterion, passed };
}

export function randomSamples(input: InputShape, count: number, seed: number): SampleSet {
  const rng = createRng(seed);
  const n = input.height * input.width * input.channels;
  return {
    xs: Array.from({ length: count }, () => Float32Array.from({ length: n }, () => rng.next() * 2 - 1)),
    source: `${count} random inputs uniform in [-1, 1] (seed ${seed})`,
  };
}

function fileInfo(dir: string, name: string): { name: string; sizeBytes: number } {
  return { name, sizeBytes: statSync(join(dir, name)).size };
}

export async function exportModel(req: ExportRequest): Promise<ExportResult> {
  const plan = expandNetwork(req.arch, req.input, req.numClasses);
  const seed = req.seed ?? 1;
  const model = buildModel(req.arch, { inputShape: req.input, numClasses: req.numClasses, seed });
  try {
    if (req.weightsDir) applyWeights(model, readTfjsWeights(req.weightsDir));
    mkdirSync(req.outDir, { recursive: true });
    const validation = req.validation ?? randomSamples(req.input, 32, seed + 1000);
    const cardBase: Omit<ModelCardInput, 'files'> = {
      arch: req.arch, input: req.input, numClasses: req.numClasses, format: req.format,
      labels: req.labels, weightsSource: req.weightsDir ?? `initial (seed ${seed})`,
      dataset: req.dataset, accuracy: req.accuracy,
      predictedLatency: req.predictedLatency, measuredLatency: req.measuredLatency,
    };
    let files: { name: string; sizeBytes: number }[];
    let verification: Verification | undefined;
    let quantization: ModelCardInput['quantization'];
    let measured: LatencyFigure | undefined;

    if (req.format === 'tfjs') {
      const saved = await saveTfjsModel(model, req.outDir);
      files = saved.files.map((f) => fileInfo(req.outDir, f));
      if (req.verify) {
        const reloaded = await tf.loadLayersModel(dirLoadHandler(req.outDir));
        const ref = predictTfjs(model, req.input, validation.xs);
        const got = predictTfjs(reloaded, req.input, validation.xs);
        reloaded.dispose();
        let maxAbs = 0;
        let agree = 0;
        got.forEach((g, i) => {
          g.forEach((v, k) => { maxAbs = Math.max(maxAbs, Math.abs(v - ref[i][k])); });
          if (argmax(g) === argmax(ref[i])) agree++;
        });
        verification = {
          samples: validation.xs.length, maxAbsDiff: maxAbs, meanAbsDiff: NaN, top1Agreement: agree / validation.xs.length,
          medianInvokeMs: NaN, reference: 'in-memory tfjs model', criterion: 'reloaded model.json predicts identically (max abs diff 0)', passed: maxAbs === 0,
        };
      }
    } else {
      const ir = lowerWithWeights(plan, model);
      // Labels and input normalization travel inside the .tflite twice: as the
      // standard TFLite metadata (TFLITE_METADATA + labels.txt in an appended
      // ZIP, read by the Task Library / Android Studio) and as a JSON entry
      // (`mobile_nas_info`, read by this project's tools).
      const labels = req.labels ?? Array.from({ length: req.numClasses }, (_, i) => `class_${i}`);
      const normalization = defaultNormalization(req.input.channels);
      const info = { arch: archToString(req.arch), labels, normalization };
      const standard = classifierMetadata({
        input: req.input, numClasses: req.numClasses, labels, normalization,
        description: `mobile-nas ${req.format} export of ${archToString(req.arch)}`,
      });
      const metadata = { mobile_nas_info: new TextEncoder().encode(JSON.stringify(info)), ...standard.entries };
      let bytes: Uint8Array;
      let name: string;
      if (req.format === 'tflite') {
        bytes = emitTflite(ir, { encode: floatEncoder, ioType: 'float32', description: 'mobile-nas float32 export', metadata });
        name = 'model.tflite';
      } else {
        const rep = req.representative ?? randomSamples(req.input, 64, seed + 2000);
        const ioType = req.int8Io === 'uint8' ? 'uint8' : req.int8Io ? 'int8' : 'float32';
        const q = await quantizeIr(ir, { representative: rep.xs, ioType, metadata });
        bytes = q.bytes;
        name = 'model_int8.tflite';
        quantization = {
          scheme: ioType === 'float32'
            ? 'int8 PTQ: int8 body (per-channel symmetric int8 conv weights, int32 biases, per-tensor asymmetric int8 activations, min/max calibration) ' +
              'with float32 input (QUANTIZE) and a float32 classifier head (DEQUANTIZE of the pooled features, float FULLY_CONNECTED + SOFTMAX)'
            : `full-integer int8 PTQ with ${ioType} graph I/O: per-channel symmetric int8 conv weights, per-tensor symmetric FC weights, int32 biases, ` +
              'per-tensor asymmetric int8 activations (min/max calibration), int8 softmax output (scale 1/256)' +
              (ioType === 'uint8' ? '; uint8 input takes raw 0..255 pixels (scale 1/127.5, zero point 127; the normalization is folded in)' : ''),
          ioType, representativeSamples: rep.xs.length, representativeSource: rep.source, input: q.inputQuant, output: q.outputQuant,
        };
      }
      bytes = packAssociatedFiles(bytes, standard.files);
      writeFileSync(join(req.outDir, name), bytes);
      files = [fileInfo(req.outDir, name)];
      if (req.measure) measured = await measureLatency(bytes, req.measure, req.cardHostname === true);
      if (req.verify) {
        if (req.format === 'tflite') {
          const ref = predictTfjs(model, req.input, validation.xs);
          const cmp = await compareWithReference(bytes, validation.xs, ref, { labels: validation.labels });
          const tolerance = req.floatTolerance ?? FLOAT_TOLERANCE;
          verification = {
            ...cmp, reference: 'tfjs model.predict', criterion: `max abs diff <= ${tolerance}`, passed: cmp.maxAbsDiff <= tolerance,
          };
        } else {
          const floatBytes = emitTflite(ir, { encode: floatEncoder, ioType: 'float32' });
          const ref = await runTflite(floatBytes, validation.xs);
          const cmp = await compareWithReference(bytes, validation.xs, ref, { labels: validation.labels });
          verification = { ...cmp, reference: 'float32 .tflite in the same interpreter', ...int8Verdict(cmp) };
        }
      }
    }
    const card = buildModelCard({
      ...cardBase, files, quantization, measuredLatency: measured ?? req.measuredLatency,
      verification: verification ? { ...verification, reference: `${verification.reference}; inputs: ${validation.source}` } : undefined,
    });
    const cardPath = writeModelCard(req.outDir, card);
    return { files: files.map((f) => join(req.outDir, f.name)), card, cardPath, verification };
  } finally {
    model.dispose();
  }
}


/** Median Invoke() time in this process's interpreter (TFLite WASM, XNNPACK, 1 thread). */
async function measureLatency(bytes: Uint8Array, m: { warmup: number; runs: number }, includeHostname: boolean): Promise<LatencyFigure> {
  const model = await loadTfliteModel(bytes, { numThreads: 1 });
  try {
    const n = model.inputs[0].shape.reduce((a, d) => a * d, 1);
    const times = timeInvoke(model, { warmup: m.warmup, runs: m.runs, inputs: [new Float32Array(n)] }).sort((a, b) => a - b);
    return {
      latencyMs: times[Math.floor(times.length / 2)],
      device: measuringMachine({ includeHostname }),
      runtime: `tflite-wasm (XNNPACK, 1 thread), median of ${m.runs} after ${m.warmup} warm-up`,
    };
  } finally {
    model.dispose();
  }
}
