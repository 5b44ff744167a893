// Export IR -> .tflite flatbuffer. `emitTflite` writes a graph whose tensor
// types/quantization come from an encoding (float32 here, int8 from
// ./quantize.ts); `exportTfliteFloat` is the float32 entry point from a
// network plan and a built tfjs model.

import type * as tf from '@tensorflow/tfjs';
import type { NetworkPlan } from '../space/network.ts';
import { BuiltinOperator, BuiltinOptions, bytesOf, type GraphDType, type OptionsWriter, type QuantParams, TfliteGraph } from '../tflite/graph.ts';
import { ActivationFunctionType } from '../tflite/schema/tflite/activation-function-type.ts';
import { AddOptions } from '../tflite/schema/tflite/add-options.ts';
import { Conv2DOptions } from '../tflite/schema/tflite/conv2doptions.ts';
import { DepthwiseConv2DOptions } from '../tflite/schema/tflite/depthwise-conv2doptions.ts';
import { FullyConnectedOptions } from '../tflite/schema/tflite/fully-connected-options.ts';
import { FullyConnectedOptionsWeightsFormat } from '../tflite/schema/tflite/fully-connected-options-weights-format.ts';
import { MulOptions } from '../tflite/schema/tflite/mul-options.ts';
import { Padding } from '../tflite/schema/tflite/padding.ts';
import { ReducerOptions } from '../tflite/schema/tflite/reducer-options.ts';
import { SoftmaxOptions } from '../tflite/schema/tflite/softmax-options.ts';
import { UnsupportedOpError } from './errors.ts';
import { type FusedAct, type IrNet, type IrOp, type IrTensor, lowerNetwork } from './lower.ts';
import { foldWeights, type LayerWeightSource, modelWeightSource } from './weights.ts';

/** How one IR tensor is stored: type, constant bytes, quantization. */
export interface TensorEncoding {
  dtype: GraphDType;
  data?: Uint8Array;
  quant?: QuantParams;
  /**
   * A float activation in a mixed-precision graph: the int8 quantization an
   * int8 consumer reads it with (a QUANTIZE op is inserted before that consumer).
   */
  int8Quant?: QuantParams;
}

export type Encoder = (t: IrTensor) => TensorEncoding;

export type GraphIoType = 'float32' | 'int8' | 'uint8';

export interface EmitOptions {
  encode: Encoder;
  /**
   * Graph input/output type. 'float32': QUANTIZE/DEQUANTIZE inserted where the
   * body is int8; 'int8': the body's own int8 tensors; 'uint8': uint8 tensors
   * with the body's scale and zero point + 128, requantized by QUANTIZE ops.
   */
  ioType: GraphIoType;
  description?: string;
  metadata?: Record<string, Uint8Array>;
  /** IR tensors to expose as extra graph outputs after the main one (calibration, tests) */
  extraOutputs?: number[];
}

const FUSED: Record<FusedAct, ActivationFunctionType> = {
  NONE: ActivationFunctionType.NONE,
  RELU: ActivationFunctionType.RELU,
  RELU6: ActivationFunctionType.RELU6,
};

/** Float32 encoding: constants as float32 (MEAN axes as int32), no quantization. */
export const floatEncoder: Encoder = (t) => {
  if (!t.constant) return { dtype: 'float32' };
  if (t.constant.kind === 'axes') return { dtype: 'int32', data: bytesOf(Int32Array.from(t.constant.values)) };
  return { dtype: 'float32', data: bytesOf(Float32Array.from(t.constant.values)) };
};

function builtinOf(op: IrOp): BuiltinOperator {
  switch (op.kind) {
    case 'conv': return BuiltinOperator.CONV_2D;
    case 'dwconv': return BuiltinOperator.DEPTHWISE_CONV_2D;
    case 'fc': return BuiltinOperator.FULLY_CONNECTED;
    case 'add': return BuiltinOperator.ADD;
    case 'mul': return BuiltinOperator.MUL;
    case 'mean': return BuiltinOperator.MEAN;
    case 'logistic': return BuiltinOperator.LOGISTIC;
    case 'hardswish': return BuiltinOperator.HARD_SWISH;
    case 'softmax': return BuiltinOperator.SOFTMAX;
    default: throw new UnsupportedOpError(`IR op "${String((op as IrOp).kind)}" has no TFLite builtin`);
  }
}

/** An op runs in int8 when its output is int8 (its activation inputs are converted to match). */
function isInt8Op(op: IrOp, enc: TensorEncoding[]): boolean {
  return enc[op.outputs[0]].dtype === 'int8';
}

/** uint8 twin of int8 quantization parameters (same scale, zero point + 128). */
export function uint8Quant(q: QuantParams): QuantParams {
  return { scale: q.scale, zeroPoint: q.zeroPoint.map((z) => z + 128) };
}

/**
 * Operator version as TFLite's op_version.cc assigns it for the tensor types
 * used here (float32: 1 everywhere; int8 kernels are later versions).
 */
function versionOf(op: IrOp, enc: TensorEncoding[]): number {
  if (!isInt8Op(op, enc)) return 1;
  const scaleOf = (id: number) => (enc[id].dtype === 'int8' ? enc[id].quant! : enc[id].int8Quant!).scale[0];
  switch (op.kind) {
    case 'conv': return 3;
    case 'dwconv': return 3;
    case 'fc': return 4;
    case 'mul': {
      const s1 = scaleOf(op.inputs[0]);
      const s2 = scaleOf(op.inputs[1]);
      const so = scaleOf(op.outputs[0]);
      return (s1 * s2) / so >= 1 ? 3 : 2;
    }
    case 'add': case 'mean': case 'logistic': case 'softmax': return 2;
    case 'hardswish': return 1;
    default: return 1;
  }
}

function optionsOf(op: IrOp): OptionsWriter | undefined {
  const fused = FUSED[op.fused ?? 'NONE'];
  const s = op.stride ?? 1;
  switch (op.kind) {
    case 'conv':
      return (b) => ({ type: BuiltinOptions.Conv2DOptions, offset: Conv2DOptions.createConv2DOptions(b, Padding.SAME, s, s, fused, 1, 1, 0) });
    case 'dwconv':
      return (b) => ({ type: BuiltinOptions.DepthwiseConv2DOptions, offset: DepthwiseConv2DOptions.createDepthwiseConv2DOptions(b, Padding.SAME, s, s, 1, fused, 1, 1) });
    case 'fc':
      return (b) => ({
        type: BuiltinOptions.FullyConnectedOptions,
        offset: FullyConnectedOptions.createFullyConnectedOptions(b, fused, FullyConnectedOptionsWeightsFormat.DEFAULT, false, false, 0),
      });
    case 'add':
      return (b) => ({ type: BuiltinOptions.AddOptions, offset: AddOptions.createAddOptions(b, fused, false) });
    case 'mul':
      return (b) => ({ type: BuiltinOptions.MulOptions, offset: MulOptions.createMulOptions(b, fused) });
    case 'mean':
      return (b) => ({ type: BuiltinOptions.ReducerOptions, offset: ReducerOptions.createReducerOptions(b, op.keepDims ?? false) });
    case 'softmax':
      return (b) => ({ type: BuiltinOptions.SoftmaxOptions, offset: SoftmaxOptions.createSoftmaxOptions(b, 1.0) });
    default:
      return undefined;
  }
}

/** Minimum TFLite runtime for the ops/versions used (coarse: HARD_SWISH and int8 kernels need 1.15). */
function minRuntimeVersion(graph: TfliteGraph): string {
  const needs115 = graph.ops.some((o) => o.op === BuiltinOperator.HARD_SWISH || o.version > 1);
  return needs115 ? '1.15.0' : '1.5.0';
}

function runtimeVersionBytes(v: string): Uint8Array {
  const out = new Uint8Array(16);
  out.set(new TextEncoder().encode(v));
  return out;
}

export function emitTflite(ir: IrNet, opts: EmitOptions): Uint8Array {
  const g = new TfliteGraph();
  const enc = ir.tensors.map((t) => opts.encode(t));
  const inEnc = enc[ir.input];
  const outEnc = enc[ir.output];
  if (opts.ioType !== 'float32' && (inEnc.dtype !== 'int8' || outEnc.dtype !== 'int8')) {
    throw new Error(`${opts.ioType} graph I/O needs an int8 graph input and output`);
  }
  // Graph I/O keep the plain names; body tensors of another type get a suffix.
  const edgeSuffix = opts.ioType === 'int8' ? '' : '_int8';
  const nameOf = (t: IrTensor, e: TensorEncoding) => ((t.id === ir.input || t.id === ir.output) && e.dtype === 'int8' ? `${t.name}${edgeSuffix}` : t.name);
  const ids = ir.tensors.map((t, i) => g.addTensor({ name: nameOf(t, enc[i]), shape: t.shape, dtype: enc[i].dtype, data: enc[i].data, quant: enc[i].quant }));
  let graphIn = ids[ir.input];
  let graphOut = ids[ir.output];
  if (inEnc.dtype === 'int8' && opts.ioType !== 'int8') {
    const inT = ir.tensors[ir.input];
    const dtype = opts.ioType;
    graphIn = g.addTensor({ name: inT.name, shape: inT.shape, dtype, quant: dtype === 'uint8' ? uint8Quant(inEnc.quant!) : undefined });
    g.addOp({ op: BuiltinOperator.QUANTIZE, version: 1, inputs: [graphIn], outputs: [ids[ir.input]] });
  }
  // Mixed precision: an activation read by an op of the other type is converted once.
  const converted = new Map<string, number>();
  const asType = (id: number, dtype: 'float32' | 'int8'): number => {
    if (enc[id].dtype === dtype || ir.tensors[id].constant) return ids[id];
    const key = `${id}:${dtype}`;
    let c = converted.get(key);
    if (c === undefined) {
      const t = ir.tensors[id];
      if (dtype === 'float32') {
        c = g.addTensor({ name: `${t.name}_dequantized`, shape: t.shape, dtype: 'float32' });
        g.addOp({ op: BuiltinOperator.DEQUANTIZE, version: 2, inputs: [ids[id]], outputs: [c] });
      } else {
        if (!enc[id].int8Quant) throw new Error(`float tensor ${t.name} is read by an int8 op but has no int8 quantization`);
        c = g.addTensor({ name: `${t.name}_quantized`, shape: t.shape, dtype: 'int8', quant: enc[id].int8Quant });
        g.addOp({ op: BuiltinOperator.QUANTIZE, version: 1, inputs: [ids[id]], outputs: [c] });
      }
      converted.set(key, c);
    }
    return c;
  };
  for (const op of ir.ops) {
    const dtype = isInt8Op(op, enc) ? 'int8' : 'float32';
    g.addOp({ op: builtinOf(op), version: versionOf(op, enc), inputs: op.inputs.map((i) => asType(i, dtype)), outputs: op.outputs.map((i) => ids[i]), options: optionsOf(op) });
  }
  if (outEnc.dtype === 'int8' && opts.ioType !== 'int8') {
    const outT = ir.tensors[ir.output];
    if (opts.ioType === 'uint8') {
      graphOut = g.addTensor({ name: outT.name, shape: outT.shape, dtype: 'uint8', quant: uint8Quant(outEnc.quant!) });
      g.addOp({ op: BuiltinOperator.QUANTIZE, version: 1, inputs: [ids[ir.output]], outputs: [graphOut] });
    } else {
      graphOut = g.addTensor({ name: outT.name, shape: outT.shape, dtype: 'float32' });
      g.addOp({ op: BuiltinOperator.DEQUANTIZE, version: 2, inputs: [ids[ir.output]], outputs: [graphOut] });
    }
  }
  g.inputs = [graphIn];
  g.outputs = [graphOut, ...(opts.extraOutputs ?? []).map((i) => ids[i])];
  return g.serialize({
    description: opts.description,
    metadata: { min_runtime_version: runtimeVersionBytes(minRuntimeVersion(g)), ...(opts.metadata ?? {}) },
  });
}

/** Lowers a plan with weights from a tfjs model (or any layer weight source). */
export function lowerWithWeights(plan: NetworkPlan, weights: tf.LayersModel | LayerWeightSource): IrNet {
  const src = typeof weights === 'function' ? weights : modelWeightSource(weights);
  return lowerNetwork(plan, foldWeights(plan, src));
}

export interface FloatExportOptions {
  description?: string;
  metadata?: Record<string, Uint8Array>;
}

/** Float32 .tflite from a network plan and a built tfjs model with the plan's layer names. */
export function exportTfliteFloat(plan: NetworkPlan, weights: tf.LayersModel | LayerWeightSource, opts: FloatExportOptions = {}): Uint8Array {
  const ir = lowerWithWeights(plan, weights);
  return emitTflite(ir, { encode: floatEncoder, ioType: 'float32', description: opts.description ?? 'mobile-nas float32 export', metadata: opts.metadata });
}
