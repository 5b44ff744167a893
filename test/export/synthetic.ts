// A small classification task for the int8 tests: oriented stripe and
// checker textures with random period, phase, contrast and noise; and a
// classifier head fitted in closed form (ridge regression on the pooled
// features of a fixed random backbone) so the float network is genuinely
// accurate without gradient training.

import type * as tf from '@tensorflow/tfjs';
import * as tfl from '@tensorflow/tfjs';
import { exportTfliteFloat, emitTflite, floatEncoder, lowerWithWeights } from '../../src/export/tflite-writer.ts';
import { runTflite } from '../../src/export/verify.ts';
import { buildModel } from '../../src/space/builder.ts';
import { expandNetwork, type NetworkPlan } from '../../src/space/network.ts';
import { createRng, type Rng } from '../../src/space/rng.ts';
import type { ArchSpec, InputShape } from '../../src/space/types.ts';
import { loadTfliteModel } from '../../src/tflite/interpreter.ts';
import { calibrateBatchNorm } from './helpers.ts';

const LEVEL_SPACING = 0.6;
export const TEXTURE_CLASSES = ['horizontal', 'vertical', 'diagonal', 'antidiagonal', 'checker'] as const;

export function textureSample(input: InputShape, label: number, rng: Rng): Float32Array {
  const { height: H, width: W, channels: C } = input;
  const period = 3 + rng.next() * 4;
  const phase = rng.next() * Math.PI * 2;
  const contrast = 0.5 + rng.next() * 0.5;
  // Each class also has its own mean level (with jitter), so that an untrained
  // backbone's pooled features separate the classes.
  const level = (label - (TEXTURE_CLASSES.length - 1) / 2) * LEVEL_SPACING + (rng.next() - 0.5) * 0.3;
  const out = new Float32Array(H * W * C);
  const w = (2 * Math.PI) / period;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v: number;
      switch (label) {
        case 0: v = Math.sin(w * y + phase); break;
        case 1: v = Math.sin(w * x + phase); break;
        case 2: v = Math.sin((w * (x + y)) / Math.SQRT2 + phase); break;
        case 3: v = Math.sin((w * (x - y)) / Math.SQRT2 + phase); break;
        default: v = Math.sin(w * x + phase) * Math.sin(w * y + phase); break;
      }
      for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = contrast * v + level + (rng.next() - 0.5) * 0.6;
    }
  }
  return out;
}

export function textureSet(input: InputShape, count: number, rng: Rng): { xs: Float32Array[]; labels: number[] } {
  const xs: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const label = i % TEXTURE_CLASSES.length;
    xs.push(textureSample(input, label, rng));
    labels.push(label);
  }
  return { xs, labels };
}

/** Solves (A + lambda I) x = b for symmetric positive definite A (Gaussian elimination). */
function solve(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...b[i]]);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
    [m[col], m[piv]] = [m[piv], m[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let k = col; k < m[r].length; k++) m[r][k] -= f * m[col][k];
    }
  }
  return m.map((row, i) => row.slice(n).map((v) => v / m[i][i]));
}

/**
 * Fits the Dense classifier by ridge regression on one-hot targets from
 * pooled features (standardized), scaled so the softmax is confident, and
 * writes it into the tfjs model's classifier layer.
 */
export function fitClassifier(model: tf.LayersModel, feats: Float32Array[], labels: number[], numClasses: number, sharpness = 8, maxFeatures = 48): void {
  const dAll = feats[0].length;
  const meanAll = new Float64Array(dAll);
  const stdAll = new Float64Array(dAll);
  for (const f of feats) for (let j = 0; j < dAll; j++) meanAll[j] += f[j] / feats.length;
  for (const f of feats) for (let j = 0; j < dAll; j++) stdAll[j] += (f[j] - meanAll[j]) ** 2 / feats.length;
  // Fit on the most variable features only: fewer unknowns than samples (no
  // overfitting with 1280-wide heads) and signals well above int8 steps.
  const chosen = Array.from({ length: dAll }, (_, j) => j).sort((a, b) => stdAll[b] - stdAll[a]).slice(0, Math.min(maxFeatures, dAll));
  const d = chosen.length;
  const mean = chosen.map((j) => meanAll[j]);
  const std = chosen.map((j) => Math.max(Math.sqrt(stdAll[j]), 1e-6));
  const z = feats.map((f) => [...chosen.map((j, k) => (f[j] - mean[k]) / std[k]), 1]);
  const n1 = d + 1;
  const ata = Array.from({ length: n1 }, (_, i) => Array.from({ length: n1 }, (_, j) => z.reduce((s, r) => s + r[i] * r[j], 0) + (i === j && i < d ? 1e-2 * feats.length : 0)));
  const atb = Array.from({ length: n1 }, (_, i) => Array.from({ length: numClasses }, (_, k) => z.reduce((s, r, t) => s + (labels[t] === k ? r[i] : 0), 0)));
  const wz = solve(ata, atb); // (d+1) x K on standardized features
  // Undo standardization: logit_k = sum_j w[j,k] (f_j - mean_j)/std_j + w[d,k]
  const kernel = new Float32Array(dAll * numClasses);
  const bias = new Float32Array(numClasses);
  for (let k = 0; k < numClasses; k++) {
    let b = wz[d][k];
    chosen.forEach((j, c) => {
      kernel[j * numClasses + k] = (sharpness * wz[c][k]) / std[c];
      b -= (wz[c][k] * mean[c]) / std[c];
    });
    bias[k] = sharpness * b;
  }
  const layer = model.getLayer('classifier');
  const ws = [tfl.tensor2d(kernel, [dAll, numClasses]), tfl.tensor1d(bias)];
  layer.setWeights(ws);
  ws.forEach((w) => w.dispose());
}

export interface TrainedNet {
  model: tf.LayersModel;
  plan: NetworkPlan;
  train: { xs: Float32Array[]; labels: number[] };
  val: { xs: Float32Array[]; labels: number[] };
  floatBytes: Uint8Array;
  /** float .tflite outputs on val.xs */
  floatRef: Float32Array[];
}

/**
 * A network that classifies the texture task well without gradient training:
 * data-dependent BN statistics, then the classifier fitted on pooled features.
 */
export async function trainedTextureNet(spec: ArchSpec, input: InputShape, opts: { seed: number; trainCount?: number; valCount?: number }): Promise<TrainedNet> {
  const numClasses = TEXTURE_CLASSES.length;
  const plan = expandNetwork(spec, input, numClasses);
  const model = buildModel(spec, { inputShape: input, numClasses, seed: opts.seed });
  const train = textureSet(input, opts.trainCount ?? 300, createRng(opts.seed + 1));
  const val = textureSet(input, opts.valCount ?? 300, createRng(opts.seed + 2));
  calibrateBatchNorm(model, input, train.xs.slice(0, 32), createRng(opts.seed + 3));
  const ir = lowerWithWeights(plan, model);
  const pool = ir.tensors.find((t) => t.name === 'head_pool')!;
  const featBytes = emitTflite(ir, { encode: floatEncoder, ioType: 'float32', extraOutputs: [pool.id] });
  const fm = await loadTfliteModel(featBytes);
  const feats = train.xs.map((x) => fm.run([x])[1] as Float32Array);
  fm.dispose();
  fitClassifier(model, feats, train.labels, numClasses);
  const floatBytes = exportTfliteFloat(plan, model);
  const floatRef = await runTflite(floatBytes, val.xs);
  return { model, plan, train, val, floatBytes, floatRef };
}
