// The model card written beside every export: what the file is, what it
// expects as input, how good and how fast it is (when known), and how it
// was checked. Plain JSON, `model-card.json`.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { archId, archToString, toWire } from '../space/archspec.ts';
import { archCost } from '../space/cost.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import type { Comparison } from './verify.ts';

export const MODEL_CARD_FILE = 'model-card.json';
export const MODEL_CARD_SCHEMA = 'mobile-nas/model-card@1';

/** Input normalization: model input = (pixel - mean) / std, per channel. */
export interface InputNormalization {
  mean: number[];
  std: number[];
  /** range of the normalized values */
  range: [number, number];
  description: string;
}

/** x / 127.5 - 1, as the trainer feeds images (src/train/augment.ts). */
export function defaultNormalization(channels: number): InputNormalization {
  return {
    mean: Array(channels).fill(127.5), std: Array(channels).fill(127.5), range: [-1, 1],
    description: 'uint8 pixels p -> p / 127.5 - 1 (NHWC, channels last)',
  };
}

export interface LatencyFigure {
  latencyMs: number;
  device: string;
  /** runtime and threads, e.g. "tflite-wasm xnnpack 1 thread" */
  runtime?: string;
}

/**
 * The machine a latency was measured on, as the card records it: CPU model
 * and load. The host name identifies a machine (and often its owner) and is
 * left out unless asked for (`includeHostname`, `nas export --card-hostname`).
 */
export function measuringMachine(opts: { includeHostname?: boolean } = {}): string {
  const cpu = os.cpus()[0]?.model?.trim() || 'unknown CPU';
  const load = `load average ${os.loadavg()[0].toFixed(1)}`;
  return opts.includeHostname ? `${os.hostname()} (${cpu}, ${load})` : `${cpu} (${load})`;
}

export interface ModelCardInput {
  arch: ArchSpec;
  input: InputShape;
  numClasses: number;
  format: 'tflite' | 'tflite-int8' | 'tfjs';
  files: { name: string; sizeBytes: number }[];
  labels?: string[];
  normalization?: InputNormalization;
  /** where the weights came from: a weights directory, or "initial (seed N)" */
  weightsSource: string;
  /** name: a built-in set, `dataset:<id>` for an upload to the service (never its server folder), or a CLI user's folder:<path> */
  dataset?: { name: string; split?: string; samples?: number };
  accuracy?: { top1: number; split: string };
  predictedLatency?: LatencyFigure;
  measuredLatency?: LatencyFigure;
  quantization?: {
    scheme: string;
    ioType: 'float32' | 'int8' | 'uint8';
    representativeSamples: number;
    representativeSource: string;
    input?: { scale: number; zeroPoint: number };
    output?: { scale: number; zeroPoint: number };
  };
  verification?: Comparison & { reference: string };
}

/** Set when the model input is larger than the dataset's images (compound scaling's resolution). */
export interface InputResize {
  from: { height: number; width: number };
  to: { height: number; width: number };
  method: 'bilinear (half-pixel centres)';
}

/** What `nas run` adds to the cards of the model it delivers. */
export interface RunCardInfo {
  modelId: string;
  /** the search the base architecture came from (null: a base architecture was given) */
  searchId: string | null;
  baseArchId: string;
  target: { latencyMs: number; device: string; mode: 'hard' | 'soft' };
  refinement: { method: 'netadapt' | 'compound-scaling' | 'none'; detail: Record<string, unknown> };
  predictedLatencyMs: number;
  /** on the device's runtime, in its latency table's unit; null when the runtime is remote */
  measuredLatencyMs: number | null;
  metTarget: boolean;
  testAccuracy: number | null;
  validationAccuracy: number;
}

export interface ModelCard extends Omit<ModelCardInput, 'arch' | 'labels' | 'normalization'> {
  inputResize?: InputResize;
  run?: RunCardInfo;
  schema: typeof MODEL_CARD_SCHEMA;
  createdAt: string;
  archId: string;
  arch: ReturnType<typeof toWire>;
  archString: string;
  blocks: string[];
  params: number;
  trainableParams: number;
  macs: number;
  labels: string[];
  normalization: InputNormalization;
  output: { name: string; shape: number[]; activation: 'softmax' };
}

export function buildModelCard(c: ModelCardInput): ModelCard {
  const cost = archCost(c.arch, c.input, c.numClasses);
  const wire = toWire(c.arch);
  const labels = c.labels ?? Array.from({ length: c.numClasses }, (_, i) => `class_${i}`);
  if (labels.length !== c.numClasses) throw new RangeError(`${labels.length} labels for ${c.numClasses} classes`);
  const { arch: _arch, labels: _labels, normalization, ...rest } = c;
  return {
    schema: MODEL_CARD_SCHEMA,
    createdAt: new Date().toISOString(),
    archId: archId(c.arch),
    arch: wire,
    archString: archToString(c.arch),
    blocks: wire.blocks,
    params: cost.params,
    trainableParams: cost.trainableParams,
    macs: cost.macs,
    ...rest,
    labels,
    normalization: normalization ?? defaultNormalization(c.input.channels),
    output: { name: 'probabilities', shape: [1, c.numClasses], activation: 'softmax' },
  };
}

export function writeModelCard(dir: string, card: ModelCard): string {
  const path = join(dir, MODEL_CARD_FILE);
  writeFileSync(path, JSON.stringify(card, null, 2) + '\n');
  return path;
}
