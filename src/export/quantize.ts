// Full-integer int8 post-training quantization of the export IR.
//
// Calibration: the float32 graph is emitted with every activation tensor as
// an extra output, run in the TFLite interpreter over the representative
// samples, and each tensor's min/max recorded (so ranges are those of the
// exact tensors the int8 graph will hold, after fused activations).
//
// Scheme (TFLite's int8 spec):
//   weights  int8, symmetric (zero point 0), range [-127, 127];
//            per output channel for CONV_2D (axis 0, OHWI) and
//            DEPTHWISE_CONV_2D (axis 3, 1HWO); per tensor for FULLY_CONNECTED
//   biases   int32, zero point 0, scale = input_scale * weight_scale[c]
//   activations int8 per tensor, asymmetric, range widened to contain 0
//   fixed outputs: LOGISTIC and SOFTMAX -> scale 1/256, zero point -128
//   I/O      float32 (default): QUANTIZE in front, and the classifier head
//            (FULLY_CONNECTED + SOFTMAX) kept float32 on the DEQUANTIZEd
//            pooled features (see classifierHeadTensors); or full-integer
//            with int8 I/O, or uint8 I/O taking raw pixels (PIXEL_INPUT_QUANT)
//
// Sensitivity measured on trained nets (1 epoch, 5,000 Fashion-MNIST images):
// on MobileNetV2-0.5 every int8-vs-float top-1 disagreement was an exact tie
// of the int8 logits/softmax (the float head takes agreement from 90.8% to
// 98.4%, n=1000); on proxy-small the rest (about 1%) is spread over all op
// families (keeping any one family float changes at most 1-2 of 1000), and
// mostly activation rounding (weights alone: 3 of 1000).

import type * as tf from '@tensorflow/tfjs';
import type { NetworkPlan } from '../space/network.ts';
import { bytesOf, type QuantParams } from '../tflite/graph.ts';
import { loadTfliteModel } from '../tflite/interpreter.ts';
import type { IrNet, IrTensor } from './lower.ts';
import { emitTflite, type Encoder, floatEncoder, type GraphIoType, lowerWithWeights, type TensorEncoding } from './tflite-writer.ts';
import type { LayerWeightSource } from './weights.ts';

export interface TensorRange {
  min: number;
  max: number;
}

/** Per-tensor activation ranges keyed by IR tensor id. */
export type RangeTable = Map<number, TensorRange>;

const F = Math.fround;

function isActivation(t: IrTensor): boolean {
  return t.constant === undefined;
}

/** Runs the float graph over the samples and records every activation tensor's range. */
export async function calibrate(ir: IrNet, samples: ArrayLike<number>[]): Promise<RangeTable> {
  if (samples.length === 0) throw new RangeError('calibration needs at least one representative sample');
  const watched = ir.tensors.filter((t) => isActivation(t) && t.id !== ir.input && t.id !== ir.output).map((t) => t.id);
  const bytes = emitTflite(ir, { encode: floatEncoder, ioType: 'float32', extraOutputs: watched });
  const model = await loadTfliteModel(bytes);
  const ranges: RangeTable = new Map();
  const note = (id: number, data: ArrayLike<number>) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const r = ranges.get(id);
    ranges.set(id, r ? { min: Math.min(r.min, lo), max: Math.max(r.max, hi) } : { min: lo, max: hi });
  };
  try {
    for (const x of samples) {
      const outs = model.run([x]);
      note(ir.input, x);
      note(ir.output, outs[0]);
      watched.forEach((id, k) => note(id, outs[k + 1]));
    }
  } finally {
    model.dispose();
  }
  return ranges;
}

/** Asymmetric int8 parameters for a real range (widened to contain 0). */
/**
 * Smallest real range an activation tensor gets. A tensor that calibration saw
 * constant (e.g. all zeros after ReLU in a fresh network) would otherwise get
 * a near-zero scale, and TFLite rejects the model when a fused RELU6 bound
 * (6 / scale) overflows int32.
 */
export const MIN_ACTIVATION_RANGE = 1e-3;

export function activationQuant(r: TensorRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, r.min);
  let hi = Math.max(0, r.max);
  if (!(hi - lo >= MIN_ACTIVATION_RANGE)) hi = lo + MIN_ACTIVATION_RANGE;
  const scale = F((hi - lo) / 255);
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

const FIXED_SIGMOID_SOFTMAX = { scale: F(1 / 256), zeroPoint: -128 };

function quantizeSymmetric(values: Float32Array, channels: number, channelOf: (i: number) => number): { q: Int8Array; scales: number[] } {
  const absMax = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    absMax[c] = Math.max(absMax[c], Math.abs(values[i]));
  }
  // A channel of zeros still needs a positive scale; any value represents it.
  const scales = Array.from(absMax, (m) => F(m > 0 ? m / 127 : 1 / 127));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scales[channelOf(i)])));
  }
  return { q, scales };
}

/** Symmetric int8 weights: per output channel for conv (axis 0) and depthwise (axis 3), per tensor for FC. */
export function quantizeFilter(kind: 'conv' | 'dwconv' | 'fc', values: Float32Array, shape: number[]): { q: Int8Array; scales: number[]; axis: number } {
  if (kind === 'conv') {
    const outC = shape[0];
    const per = values.length / outC;
    return { ...quantizeSymmetric(values, outC, (i) => Math.floor(i / per)), axis: 0 };
  }
  if (kind === 'dwconv') {
    const c = shape[3];
    return { ...quantizeSymmetric(values, c, (i) => i % c), axis: 3 };
  }
  return { ...quantizeSymmetric(values, 1, () => 0), axis: 0 };
}

export interface Int8Plan {
  encode: Encoder;
  /** activation quantization per IR tensor id (after fixed-output rules) */
  activations: Map<number, { scale: number; zeroPoint: number }>;
}

export interface PlanOptions {
  /**
   * Activation tensors kept float32: the ops producing them run in float with
   * float weights; int8 consumers read them through a QUANTIZE op.
   */
  floatTensors?: ReadonlySet<number>;
  /** quantization of the graph input tensor instead of the calibrated one */
  inputQuant?: { scale: number; zeroPoint: number };
}

/** Builds the int8 encoding of every IR tensor from calibrated ranges. */
export function planInt8(ir: IrNet, ranges: RangeTable, opts: PlanOptions = {}): Int8Plan {
  const floatTensors = opts.floatTensors ?? new Set<number>();
  const act = new Map<number, { scale: number; zeroPoint: number }>();
  for (const t of ir.tensors) {
    if (!isActivation(t)) continue;
    const r = ranges.get(t.id);
    if (!r) throw new Error(`no calibration range for tensor ${t.name}`);
    act.set(t.id, activationQuant(r));
  }
  for (const op of ir.ops) {
    if (op.kind === 'logistic' || op.kind === 'softmax') act.set(op.outputs[0], FIXED_SIGMOID_SOFTMAX);
  }
  if (opts.inputQuant) act.set(ir.input, opts.inputQuant);

  // Weights and biases, keyed by tensor id; the bias scale needs the op's input scale.
  const consts = new Map<number, TensorEncoding>();
  for (const op of ir.ops) {
    if (op.kind !== 'conv' && op.kind !== 'dwconv' && op.kind !== 'fc') continue;
    if (floatTensors.has(op.outputs[0])) {
      for (const c of op.inputs.slice(1)) consts.set(c, floatEncoder(ir.tensors[c]));
      continue;
    }
    const [xId, wId, bId] = op.inputs;
    const w = ir.tensors[wId];
    const { q, scales, axis } = quantizeFilter(op.kind, w.constant!.values as Float32Array, w.shape);
    consts.set(wId, { dtype: 'int8', data: bytesOf(q), quant: { scale: scales, zeroPoint: scales.map(() => 0), quantizedDimension: axis } });
    const inScale = act.get(xId)!.scale;
    const bias = ir.tensors[bId].constant!.values as Float32Array;
    // One bias scale per weight scale: a per-tensor weight needs a per-tensor bias
    // (TFLite reads a single legacy scale there; a vector would read as 0).
    const biasScales = scales.map((ws) => F(inScale * ws));
    const perChannel = biasScales.length > 1;
    const qb = Int32Array.from(bias, (v, c) => Math.max(-2147483647, Math.min(2147483647, Math.round(v / biasScales[perChannel ? c : 0]))));
    consts.set(bId, { dtype: 'int32', data: bytesOf(qb), quant: { scale: biasScales, zeroPoint: biasScales.map(() => 0), quantizedDimension: 0 } });
  }

  const encode: Encoder = (t) => {
    if (t.constant) {
      if (t.constant.kind === 'axes') return floatEncoder(t);
      const e = consts.get(t.id);
      if (!e) throw new Error(`constant ${t.name} is not an input of a quantizable op`);
      return e;
    }
    const a = act.get(t.id)!;
    const r = ranges.get(t.id)!;
    const quant: QuantParams = { scale: [a.scale], zeroPoint: [a.zeroPoint], min: [r.min], max: [r.max] };
    return floatTensors.has(t.id) ? { dtype: 'float32', int8Quant: quant } : { dtype: 'int8', quant };
  };
  return { encode, activations: act };
}

/**
 * The classifier head (FULLY_CONNECTED logits and SOFTMAX) of a float-I/O
 * graph: kept float32 on the dequantized pooled features. With int8 logits
 * (one step is (max - min) / 255 of the calibrated logit range) the top two
 * classes of a low-margin sample often round to the same value, and the
 * argmax of the tied int8 scores picks the lower class index; measured on
 * trained nets this was most of the int8-vs-float top-1 disagreements (all 39
 * of 39 on a 1-epoch MobileNetV2-0.5). The float head costs a DEQUANTIZE and
 * C x K float MACs (C pooled features, K classes).
 */
export function classifierHeadTensors(ir: IrNet): Set<number> {
  const out = new Set<number>();
  const soft = ir.ops.find((o) => o.kind === 'softmax' && o.outputs[0] === ir.output);
  if (!soft) return out;
  out.add(soft.outputs[0]);
  const fc = ir.ops.find((o) => o.kind === 'fc' && o.outputs[0] === soft.inputs[0]);
  if (fc) out.add(fc.outputs[0]);
  return out;
}

export interface Int8ExportOptions {
  /** representative inputs (HWC float arrays), e.g. 100-500 training images */
  representative: ArrayLike<number>[];
  /**
   * graph input/output type: float32 (default; QUANTIZE in front, float
   * classifier head), int8 or uint8 (full integer, int8 softmax output)
   */
  ioType?: GraphIoType;
  /** float I/O only: keep the classifier head (FC + softmax) float32 (default true) */
  floatHead?: boolean;
  description?: string;
  metadata?: Record<string, Uint8Array>;
}

export interface Int8Export {
  bytes: Uint8Array;
  ranges: RangeTable;
  /**
   * quantization of the graph input and output as the graph's I/O tensors
   * carry it (uint8 I/O: uint8 zero points); outputQuant is absent when the
   * output is float32 from a float classifier head
   */
  inputQuant: { scale: number; zeroPoint: number };
  outputQuant?: { scale: number; zeroPoint: number };
}

/**
 * uint8 graph input that takes raw pixels p = 0..255 for a model normalized
 * as x = p / 127.5 - 1: scale 1 / 127.5 and uint8 zero point 127 (int8 -1),
 * i.e. real = (p - 127) / 127.5 = x + 1 / 255. The half-step offset (the
 * normalization's zero point 127.5 is not an integer) is taken out of the
 * bias of the ops reading the input, exactly except where a filter tap reads
 * SAME padding.
 */
export const PIXEL_INPUT_QUANT = { scale: F(1 / 127.5), zeroPoint: -1 };
const PIXEL_INPUT_OFFSET = 1 / 255;

/** Copy of the IR whose input convs see x + offset: bias[o] -= offset * sum(filter[o]). */
function compensateInputOffset(ir: IrNet, offset: number): IrNet {
  const tensors = ir.tensors.slice();
  for (const op of ir.ops) {
    if (op.inputs[0] !== ir.input) continue;
    if (op.kind !== 'conv') throw new Error(`uint8 input needs a CONV_2D reading the input, found ${op.kind}`);
    const [, wId, bId] = op.inputs;
    const w = ir.tensors[wId].constant!.values as Float32Array;
    const b = Float32Array.from(ir.tensors[bId].constant!.values as Float32Array);
    const per = w.length / b.length;
    for (let o = 0; o < b.length; o++) {
      let sum = 0;
      for (let i = 0; i < per; i++) sum += w[o * per + i];
      b[o] -= offset * sum;
    }
    tensors[bId] = { ...ir.tensors[bId], constant: { kind: 'bias', values: b } };
  }
  return { ...ir, tensors };
}

export async function quantizeIr(ir: IrNet, opts: Int8ExportOptions): Promise<Int8Export> {
  const ranges = await calibrate(ir, opts.representative);
  const ioType = opts.ioType ?? 'float32';
  const floatHead = ioType === 'float32' && (opts.floatHead ?? true);
  const pixels = ioType === 'uint8';
  if (pixels) ir = compensateInputOffset(ir, PIXEL_INPUT_OFFSET);
  const plan = planInt8(ir, ranges, {
    floatTensors: floatHead ? classifierHeadTensors(ir) : undefined,
    inputQuant: pixels ? PIXEL_INPUT_QUANT : undefined,
  });
  const bytes = emitTflite(ir, {
    encode: plan.encode, ioType,
    description: opts.description ?? 'mobile-nas int8 export (full-integer PTQ)', metadata: opts.metadata,
  });
  const io = (q: { scale: number; zeroPoint: number }) => (pixels ? { scale: q.scale, zeroPoint: q.zeroPoint + 128 } : q);
  return {
    bytes, ranges, inputQuant: io(plan.activations.get(ir.input)!),
    outputQuant: floatHead ? undefined : io(plan.activations.get(ir.output)!),
  };
}

/** int8 .tflite from a network plan, weights and a representative dataset. */
export async function exportTfliteInt8(plan: NetworkPlan, weights: tf.LayersModel | LayerWeightSource, opts: Int8ExportOptions): Promise<Int8Export> {
  return quantizeIr(lowerWithWeights(plan, weights), opts);
}
