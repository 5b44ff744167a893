// A single-subgraph TFLite model under construction: tensors (with constant
// data and quantization), operators, graph inputs/outputs, and serialization
// to the flatbuffer defined by ../shared/specs/tflite_schema.fbs (through the
// flatc-generated code in ./schema). It knows nothing about networks; the
// exporters in src/export/ fill it.

import * as flatbuffers from 'flatbuffers';
import { Buffer as FbBuffer } from './schema/tflite/buffer.ts';
import { BuiltinOperator } from './schema/tflite/builtin-operator.ts';
import { BuiltinOptions } from './schema/tflite/builtin-options.ts';
import { Metadata } from './schema/tflite/metadata.ts';
import { Model } from './schema/tflite/model.ts';
import { Operator } from './schema/tflite/operator.ts';
import { OperatorCode } from './schema/tflite/operator-code.ts';
import { QuantizationParameters } from './schema/tflite/quantization-parameters.ts';
import { SubGraph } from './schema/tflite/sub-graph.ts';
import { Tensor } from './schema/tflite/tensor.ts';
import { TensorType } from './schema/tflite/tensor-type.ts';

export { BuiltinOperator, BuiltinOptions, TensorType };

/** The schema version TFLite runtimes expect in Model.version. */
export const TFLITE_SCHEMA_VERSION = 3;
export const TFLITE_FILE_IDENTIFIER = 'TFL3';

export type GraphDType = 'float32' | 'int8' | 'uint8' | 'int32';

const TENSOR_TYPE: Record<GraphDType, TensorType> = {
  float32: TensorType.FLOAT32,
  int8: TensorType.INT8,
  uint8: TensorType.UINT8,
  int32: TensorType.INT32,
};

/** Affine quantization: real = scale * (q - zeroPoint), per tensor or per channel. */
export interface QuantParams {
  scale: number[];
  zeroPoint: number[];
  /** axis of per-channel parameters (0 for OHWI conv filters, 3 for 1HWO depthwise) */
  quantizedDimension?: number;
  min?: number[];
  max?: number[];
}

export interface TensorDef {
  name: string;
  shape: number[];
  dtype: GraphDType;
  /** constant contents (little-endian bytes of `dtype`); absent for activations */
  data?: Uint8Array;
  quant?: QuantParams;
}

/** Builds an operator's builtin options table; returns its union type and offset. */
export type OptionsWriter = (b: flatbuffers.Builder) => { type: BuiltinOptions; offset: flatbuffers.Offset };

export interface OpDef {
  op: BuiltinOperator;
  version: number;
  inputs: number[];
  outputs: number[];
  options?: OptionsWriter;
}

export interface SerializeOptions {
  description?: string;
  /** named metadata buffers (e.g. min_runtime_version) */
  metadata?: Record<string, Uint8Array>;
}

/** Byte alignment of constant buffers (the schema asks 16 for `Buffer.data`). */
const BUFFER_ALIGN = 16;

export class TfliteGraph {
  readonly tensors: TensorDef[] = [];
  readonly ops: OpDef[] = [];
  inputs: number[] = [];
  outputs: number[] = [];

  addTensor(def: TensorDef): number {
    if (def.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`tensor ${def.name}: bad shape [${def.shape.join(',')}]`);
    }
    if (def.data) {
      const count = def.shape.reduce((a, d) => a * d, 1);
      const bytes = count * (def.dtype === 'float32' || def.dtype === 'int32' ? 4 : 1);
      if (def.data.byteLength !== bytes) {
        throw new Error(`tensor ${def.name}: ${def.data.byteLength} data bytes for shape [${def.shape.join(',')}] ${def.dtype} (needs ${bytes})`);
      }
    }
    this.tensors.push(def);
    return this.tensors.length - 1;
  }

  addConstFloat(name: string, shape: number[], values: Float32Array): number {
    return this.addTensor({ name, shape, dtype: 'float32', data: bytesOf(values) });
  }

  addOp(def: OpDef): void {
    for (const t of [...def.inputs, ...def.outputs]) {
      if (t !== -1 && (t < 0 || t >= this.tensors.length)) throw new Error(`operator ${BuiltinOperator[def.op]}: no tensor ${t}`);
    }
    this.ops.push(def);
  }

  serialize(opts: SerializeOptions = {}): Uint8Array {
    const b = new flatbuffers.Builder(1024 * 64);

    // Operator codes, deduplicated by (op, version).
    const codeIndex = new Map<string, number>();
    const codes: { op: BuiltinOperator; version: number }[] = [];
    for (const o of this.ops) {
      const key = `${o.op}/${o.version}`;
      if (!codeIndex.has(key)) {
        codeIndex.set(key, codes.length);
        codes.push({ op: o.op, version: o.version });
      }
    }

    // Buffers: 0 is the empty sentinel; one per constant tensor.
    const bufferOffsets: flatbuffers.Offset[] = [];
    FbBuffer.startBuffer(b);
    bufferOffsets.push(FbBuffer.endBuffer(b));
    const tensorBuffer: number[] = [];
    for (const t of this.tensors) {
      if (!t.data) {
        tensorBuffer.push(0);
        continue;
      }
      b.startVector(1, t.data.byteLength, BUFFER_ALIGN);
      for (let i = t.data.byteLength - 1; i >= 0; i--) b.addInt8(t.data[i]);
      const vec = b.endVector();
      FbBuffer.startBuffer(b);
      FbBuffer.addData(b, vec);
      tensorBuffer.push(bufferOffsets.length);
      bufferOffsets.push(FbBuffer.endBuffer(b));
    }
    const metaEntries = Object.entries(opts.metadata ?? {});
    const metaBuffer: number[] = [];
    for (const [, bytes] of metaEntries) {
      const vec = FbBuffer.createDataVector(b, bytes);
      FbBuffer.startBuffer(b);
      FbBuffer.addData(b, vec);
      metaBuffer.push(bufferOffsets.length);
      bufferOffsets.push(FbBuffer.endBuffer(b));
    }

    const tensorOffsets = this.tensors.map((t, i) => {
      const name = b.createString(t.name);
      const shape = Tensor.createShapeVector(b, t.shape);
      const quant = t.quant ? writeQuant(b, t.quant) : 0;
      Tensor.startTensor(b);
      Tensor.addShape(b, shape);
      Tensor.addType(b, TENSOR_TYPE[t.dtype]);
      Tensor.addBuffer(b, tensorBuffer[i]);
      Tensor.addName(b, name);
      if (quant) Tensor.addQuantization(b, quant);
      return Tensor.endTensor(b);
    });

    const opOffsets = this.ops.map((o) => {
      const ins = Operator.createInputsVector(b, o.inputs);
      const outs = Operator.createOutputsVector(b, o.outputs);
      const opt = o.options?.(b);
      Operator.startOperator(b);
      Operator.addOpcodeIndex(b, codeIndex.get(`${o.op}/${o.version}`)!);
      Operator.addInputs(b, ins);
      Operator.addOutputs(b, outs);
      if (opt) {
        Operator.addBuiltinOptionsType(b, opt.type);
        Operator.addBuiltinOptions(b, opt.offset);
      }
      return Operator.endOperator(b);
    });

    const sgTensors = SubGraph.createTensorsVector(b, tensorOffsets);
    const sgIn = SubGraph.createInputsVector(b, this.inputs);
    const sgOut = SubGraph.createOutputsVector(b, this.outputs);
    const sgOps = SubGraph.createOperatorsVector(b, opOffsets);
    const sgName = b.createString('main');
    SubGraph.startSubGraph(b);
    SubGraph.addTensors(b, sgTensors);
    SubGraph.addInputs(b, sgIn);
    SubGraph.addOutputs(b, sgOut);
    SubGraph.addOperators(b, sgOps);
    SubGraph.addName(b, sgName);
    const subgraph = SubGraph.endSubGraph(b);

    const codeOffsets = codes.map((c) => {
      OperatorCode.startOperatorCode(b);
      // deprecated_builtin_code is an int8; codes above 127 use the placeholder.
      OperatorCode.addDeprecatedBuiltinCode(b, Math.min(c.op, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES));
      OperatorCode.addBuiltinCode(b, c.op);
      OperatorCode.addVersion(b, c.version);
      return OperatorCode.endOperatorCode(b);
    });
    const metaOffsets = metaEntries.map(([name], i) => Metadata.createMetadata(b, b.createString(name), metaBuffer[i]));

    const codesVec = Model.createOperatorCodesVector(b, codeOffsets);
    const subgraphsVec = Model.createSubgraphsVector(b, [subgraph]);
    const buffersVec = Model.createBuffersVector(b, bufferOffsets);
    const description = b.createString(opts.description ?? 'mobile-nas export');
    const metaVec = metaOffsets.length ? Model.createMetadataVector(b, metaOffsets) : 0;
    Model.startModel(b);
    Model.addVersion(b, TFLITE_SCHEMA_VERSION);
    Model.addOperatorCodes(b, codesVec);
    Model.addSubgraphs(b, subgraphsVec);
    Model.addDescription(b, description);
    Model.addBuffers(b, buffersVec);
    if (metaVec) Model.addMetadata(b, metaVec);
    const model = Model.endModel(b);
    b.finish(model, TFLITE_FILE_IDENTIFIER);
    return b.asUint8Array().slice();
  }
}

function writeQuant(b: flatbuffers.Builder, q: QuantParams): flatbuffers.Offset {
  if (q.scale.length !== q.zeroPoint.length) throw new Error('quantization: scale and zeroPoint lengths differ');
  const scale = QuantizationParameters.createScaleVector(b, q.scale);
  const zp = QuantizationParameters.createZeroPointVector(b, q.zeroPoint.map((z) => BigInt(z)));
  const min = q.min ? QuantizationParameters.createMinVector(b, q.min) : 0;
  const max = q.max ? QuantizationParameters.createMaxVector(b, q.max) : 0;
  QuantizationParameters.startQuantizationParameters(b);
  if (min) QuantizationParameters.addMin(b, min);
  if (max) QuantizationParameters.addMax(b, max);
  QuantizationParameters.addScale(b, scale);
  QuantizationParameters.addZeroPoint(b, zp);
  QuantizationParameters.addQuantizedDimension(b, q.quantizedDimension ?? 0);
  return QuantizationParameters.endQuantizationParameters(b);
}

/** Little-endian bytes of a typed array (a copy). */
export function bytesOf(a: Float32Array | Int32Array | Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
