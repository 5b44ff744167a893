// Network plan + folded weights -> a flat list of TFLite-level ops over
// float tensors (the export IR). Both the float32 and the int8 writers emit
// from this list, so they agree on structure; the int8 writer only adds
// quantization parameters and QUANTIZE/DEQUANTIZE at the edges.
//
// Lowering rules:
//   conv2d  -> CONV_2D (SAME, bias = folded BN), relu/relu6 fused
//   dwconv2d-> DEPTHWISE_CONV_2D (multiplier 1), relu/relu6 fused
//   hswish  -> HARD_SWISH after the op; swish -> LOGISTIC + MUL(x, sigmoid(x))
//   se      -> MEAN(H,W keep_dims) -> CONV_2D 1x1 (bias) -> act -> CONV_2D 1x1 (bias)
//              -> LOGISTIC -> MUL(x, gate)
//   add     -> ADD(out, layer input); gap -> MEAN(H,W); dense -> FULLY_CONNECTED + SOFTMAX

import type { Activation } from '../space/types.ts';
import type { NetworkPlan, OpNode } from '../space/network.ts';
import { UnsupportedOpError, WeightsMismatchError } from './errors.ts';
import type { FoldedWeights } from './weights.ts';

export type FusedAct = 'NONE' | 'RELU' | 'RELU6';

export type ConstKind = 'conv_filter' | 'dw_filter' | 'fc_weights' | 'bias' | 'axes';

export interface IrTensor {
  id: number;
  name: string;
  shape: number[];
  /** constant contents; float values, except `axes` (int32 values stored as numbers) */
  constant?: { kind: ConstKind; values: Float32Array | Int32Array };
}

export type IrOpKind = 'conv' | 'dwconv' | 'fc' | 'add' | 'mul' | 'mean' | 'logistic' | 'hardswish' | 'softmax';

export interface IrOp {
  kind: IrOpKind;
  name: string;
  inputs: number[];
  outputs: number[];
  stride?: number;
  fused?: FusedAct;
  keepDims?: boolean;
}

export interface IrNet {
  tensors: IrTensor[];
  ops: IrOp[];
  input: number;
  output: number;
}

class IrBuilder {
  tensors: IrTensor[] = [];
  ops: IrOp[] = [];
  tensor(name: string, shape: number[], constant?: IrTensor['constant']): number {
    const id = this.tensors.length;
    this.tensors.push({ id, name, shape, ...(constant ? { constant } : {}) });
    return id;
  }
  op(o: IrOp): void {
    this.ops.push(o);
  }
}

function fusable(act: Activation | null): FusedAct | undefined {
  if (act === null) return 'NONE';
  if (act === 'relu') return 'RELU';
  if (act === 'relu6') return 'RELU6';
  return undefined;
}

/** Activation after an op whose activation could not be fused. */
function applyActivation(b: IrBuilder, act: Activation, x: number, name: string): number {
  const shape = b.tensors[x].shape;
  switch (act) {
    case 'hswish': {
      const y = b.tensor(`${name}_hswish`, shape);
      b.op({ kind: 'hardswish', name: `${name}_hswish`, inputs: [x], outputs: [y] });
      return y;
    }
    case 'swish': {
      const s = b.tensor(`${name}_sigmoid`, shape);
      b.op({ kind: 'logistic', name: `${name}_sigmoid`, inputs: [x], outputs: [s] });
      const y = b.tensor(`${name}_swish`, shape);
      b.op({ kind: 'mul', name: `${name}_swish`, inputs: [x, s], outputs: [y] });
      return y;
    }
    default:
      throw new UnsupportedOpError(`activation "${String(act)}" in ${name} is not supported by the TFLite exporter`);
  }
}

function weightsOf(w: FoldedWeights, key: string) {
  const f = w.get(key);
  if (!f) throw new WeightsMismatchError(`no weights for network node ${key}`);
  return f;
}

/** A linear op (conv/dwconv) with its activation: fused when TFLite allows it, else a separate op. */
function linear(b: IrBuilder, w: FoldedWeights, o: { kind: 'conv' | 'dwconv'; key: string; name: string; x: number; outShape: number[]; stride: number; act: Activation | null }): number {
  const f = weightsOf(w, o.key);
  const filter = b.tensor(`${o.name}/filter`, f.filterShape, { kind: o.kind === 'conv' ? 'conv_filter' : 'dw_filter', values: f.filter });
  const bias = b.tensor(`${o.name}/bias`, [f.bias.length], { kind: 'bias', values: f.bias });
  const fused = fusable(o.act);
  const y = b.tensor(o.name, o.outShape);
  b.op({ kind: o.kind, name: o.name, inputs: [o.x, filter, bias], outputs: [y], stride: o.stride, fused: fused ?? 'NONE' });
  return fused ? y : applyActivation(b, o.act as Activation, y, o.name);
}

function lowerNode(b: IrBuilder, w: FoldedWeights, op: OpNode, x: number, layerIn: number): number {
  switch (op.kind) {
    case 'conv2d':
      return linear(b, w, { kind: 'conv', key: op.name, name: op.name, x, outShape: [1, op.outH, op.outW, op.outC], stride: op.stride, act: op.activation });
    case 'dwconv2d':
      return linear(b, w, { kind: 'dwconv', key: op.name, name: op.name, x, outShape: [1, op.outH, op.outW, op.channels], stride: op.stride, act: op.activation });
    case 'se': {
      const axes = b.tensor(`${op.name}_pool/axes`, [2], { kind: 'axes', values: Int32Array.of(1, 2) });
      const pooled = b.tensor(`${op.name}_pool`, [1, 1, 1, op.channels]);
      b.op({ kind: 'mean', name: `${op.name}_pool`, inputs: [x, axes], outputs: [pooled], keepDims: true });
      const r = linear(b, w, { kind: 'conv', key: `${op.name}_reduce`, name: `${op.name}_reduce`, x: pooled, outShape: [1, 1, 1, op.reducedChannels], stride: 1, act: op.activation });
      const e = linear(b, w, { kind: 'conv', key: `${op.name}_expand`, name: `${op.name}_expand`, x: r, outShape: [1, 1, 1, op.channels], stride: 1, act: null });
      const gate = b.tensor(`${op.name}_gate`, [1, 1, 1, op.channels]);
      b.op({ kind: 'logistic', name: `${op.name}_gate`, inputs: [e], outputs: [gate] });
      const y = b.tensor(`${op.name}_mul`, [1, op.h, op.w, op.channels]);
      b.op({ kind: 'mul', name: `${op.name}_mul`, inputs: [x, gate], outputs: [y] });
      return y;
    }
    case 'add': {
      const y = b.tensor(op.name, [1, op.h, op.w, op.channels]);
      b.op({ kind: 'add', name: op.name, inputs: [x, layerIn], outputs: [y], fused: 'NONE' });
      return y;
    }
    case 'gap': {
      const axes = b.tensor(`${op.name}/axes`, [2], { kind: 'axes', values: Int32Array.of(1, 2) });
      const y = b.tensor(op.name, [1, op.channels]);
      b.op({ kind: 'mean', name: op.name, inputs: [x, axes], outputs: [y], keepDims: false });
      return y;
    }
    case 'dense': {
      const f = weightsOf(w, op.name);
      const wt = b.tensor(`${op.name}/weights`, f.filterShape, { kind: 'fc_weights', values: f.filter });
      const bias = b.tensor(`${op.name}/bias`, [op.outC], { kind: 'bias', values: f.bias });
      const logits = b.tensor(`${op.name}_logits`, [1, op.outC]);
      b.op({ kind: 'fc', name: op.name, inputs: [x, wt, bias], outputs: [logits], fused: 'NONE' });
      const y = b.tensor('probabilities', [1, op.outC]);
      b.op({ kind: 'softmax', name: `${op.name}_softmax`, inputs: [logits], outputs: [y] });
      return y;
    }
    default: {
      const k = (op as { kind?: unknown; name?: unknown }).kind;
      throw new UnsupportedOpError(`op kind "${String(k)}" (${String((op as { name?: unknown }).name)}) is not supported by the TFLite exporter`);
    }
  }
}

export function lowerNetwork(plan: NetworkPlan, weights: FoldedWeights): IrNet {
  const b = new IrBuilder();
  const input = b.tensor('input', [1, plan.input.height, plan.input.width, plan.input.channels]);
  let x = input;
  for (const layer of plan.layers) {
    const layerIn = x;
    for (const op of layer.ops) x = lowerNode(b, weights, op, x, layerIn);
  }
  return { tensors: b.tensors, ops: b.ops, input, output: x };
}
