// Reads a .tflite flatbuffer back into plain objects (tensors, operators,
// quantization) for tests, verification and the interpreter's I/O metadata.

import * as flatbuffers from 'flatbuffers';
import { BuiltinOperator } from './schema/tflite/builtin-operator.ts';
import { Model } from './schema/tflite/model.ts';
import { TensorType } from './schema/tflite/tensor-type.ts';

export interface ReadQuant {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

export interface ReadTensor {
  name: string;
  shape: number[];
  type: string;
  /** constant data bytes; undefined for activations */
  data?: Uint8Array;
  quant?: ReadQuant;
}

export interface ReadOperator {
  op: string;
  version: number;
  inputs: number[];
  outputs: number[];
}

export interface ReadModel {
  version: number;
  description: string;
  tensors: ReadTensor[];
  operators: ReadOperator[];
  inputs: number[];
  outputs: number[];
  metadata: Record<string, Uint8Array>;
}

export function readTfliteModel(buf: Uint8Array): ReadModel {
  const bb = new flatbuffers.ByteBuffer(buf);
  if (!Model.bufferHasIdentifier(bb)) throw new Error('not a TFLite flatbuffer (identifier TFL3 missing)');
  const m = Model.getRootAsModel(bb);
  const sg = m.subgraphs(0);
  if (!sg) throw new Error('model has no subgraph');
  const bufferData = (i: number): Uint8Array | undefined => {
    const d = m.buffers(i)?.dataArray();
    return d && d.length > 0 ? d.slice() : undefined;
  };
  const tensors: ReadTensor[] = [];
  for (let i = 0; i < sg.tensorsLength(); i++) {
    const t = sg.tensors(i)!;
    const q = t.quantization();
    let quant: ReadQuant | undefined;
    if (q && q.scaleLength() > 0) {
      quant = {
        scale: Array.from(q.scaleArray() ?? []),
        zeroPoint: Array.from({ length: q.zeroPointLength() }, (_, k) => Number(q.zeroPoint(k))),
        quantizedDimension: q.quantizedDimension(),
      };
    }
    const data = bufferData(t.buffer());
    tensors.push({
      name: t.name() ?? '', shape: Array.from(t.shapeArray() ?? []), type: TensorType[t.type()],
      ...(data ? { data } : {}), ...(quant ? { quant } : {}),
    });
  }
  const operators: ReadOperator[] = [];
  for (let i = 0; i < sg.operatorsLength(); i++) {
    const o = sg.operators(i)!;
    const code = m.operatorCodes(o.opcodeIndex())!;
    const builtin = Math.max(code.builtinCode(), code.deprecatedBuiltinCode());
    operators.push({ op: BuiltinOperator[builtin], version: code.version(), inputs: Array.from(o.inputsArray() ?? []), outputs: Array.from(o.outputsArray() ?? []) });
  }
  const metadata: Record<string, Uint8Array> = {};
  for (let i = 0; i < m.metadataLength(); i++) {
    const md = m.metadata(i)!;
    metadata[md.name() ?? `#${i}`] = bufferData(md.buffer()) ?? new Uint8Array();
  }
  return {
    version: m.version(), description: m.description() ?? '', tensors, operators,
    inputs: Array.from(sg.inputsArray() ?? []), outputs: Array.from(sg.outputsArray() ?? []), metadata,
  };
}
