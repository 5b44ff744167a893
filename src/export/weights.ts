// Trained tfjs weights -> constants in TFLite layouts, batch norm folded.
//
// Layer names follow src/space/builder.ts. For a conv/dwconv node N with
// BN (gamma, beta, mean, var, epsilon 1e-3):
//   s[o] = gamma[o] / sqrt(var[o] + eps)
//   filter'[o,...] = filter[o,...] * s[o],   bias'[o] = beta[o] - mean[o] * s[o]
// Layouts: tfjs Conv2D kernel HWIO -> TFLite OHWI; tfjs DepthwiseConv2D
// kernel [kh,kw,C,1] -> TFLite [1,kh,kw,C] (same memory order); tfjs Dense
// kernel [in,out] -> TFLite FULLY_CONNECTED weights [out,in].

import type * as tf from '@tensorflow/tfjs';
import { BN_EPSILON } from '../space/builder.ts';
import type { NetworkPlan } from '../space/network.ts';
import { allOps } from '../space/network.ts';
import { WeightsMismatchError } from './errors.ts';

/** A linear op's constants in TFLite layout: filter (OHWI / 1HWO / [out,in]) and bias. */
export interface FoldedLinear {
  filter: Float32Array;
  filterShape: number[];
  bias: Float32Array;
}

/** Keyed by plan node name; SE nodes give `${N}_reduce` and `${N}_expand`. */
export type FoldedWeights = Map<string, FoldedLinear>;

/** A tfjs weight tensor by layer name: values and shape, in the layer's weight order. */
export interface LayerTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

export type LayerWeightSource = (layerName: string) => LayerTensor[];

/** Weights of a built tfjs model, read layer by layer. */
export function modelWeightSource(model: tf.LayersModel): LayerWeightSource {
  return (layerName) => {
    let layer: tf.layers.Layer;
    try {
      layer = model.getLayer(layerName);
    } catch {
      throw new WeightsMismatchError(`layer ${layerName} is missing from the model`);
    }
    return layer.weights.map((w) => ({ name: w.originalName ?? w.name, shape: w.shape as number[], values: w.read().dataSync() as Float32Array }));
  };
}

function expectShapes(layerName: string, got: LayerTensor[], want: number[][]): void {
  if (got.length !== want.length) {
    throw new WeightsMismatchError(`layer ${layerName}: expected ${want.length} weight tensors, found ${got.length}`);
  }
  got.forEach((t, i) => {
    if (t.shape.length !== want[i].length || t.shape.some((d, k) => d !== want[i][k])) {
      throw new WeightsMismatchError(`tensor ${t.name}: expected shape [${want[i].join(',')}], found [${t.shape.join(',')}]`);
    }
  });
}

function bnScaleShift(src: LayerWeightSource, name: string, channels: number): { scale: Float32Array; shift: Float32Array } {
  const bn = src(`${name}_bn`);
  expectShapes(`${name}_bn`, bn, [[channels], [channels], [channels], [channels]]);
  const [gamma, beta, mean, variance] = bn.map((t) => t.values);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = gamma[c] / Math.sqrt(variance[c] + BN_EPSILON);
    scale[c] = s;
    shift[c] = beta[c] - mean[c] * s;
  }
  return { scale, shift };
}

/** HWIO kernel (with per-output scale) -> OHWI. */
function hwioToOhwi(k: Float32Array, kh: number, kw: number, ci: number, co: number, scale?: Float32Array): Float32Array {
  const out = new Float32Array(k.length);
  for (let o = 0; o < co; o++) {
    const s = scale ? scale[o] : 1;
    for (let h = 0; h < kh; h++) {
      for (let w = 0; w < kw; w++) {
        for (let i = 0; i < ci; i++) {
          out[((o * kh + h) * kw + w) * ci + i] = k[((h * kw + w) * ci + i) * co + o] * s;
        }
      }
    }
  }
  return out;
}

export function foldWeights(plan: NetworkPlan, src: LayerWeightSource): FoldedWeights {
  const out: FoldedWeights = new Map();
  for (const op of allOps(plan)) {
    switch (op.kind) {
      case 'conv2d': {
        const k = src(`${op.name}_conv`);
        expectShapes(`${op.name}_conv`, k, [[op.kernel, op.kernel, op.inC, op.outC]]);
        const { scale, shift } = bnScaleShift(src, op.name, op.outC);
        out.set(op.name, {
          filter: hwioToOhwi(k[0].values, op.kernel, op.kernel, op.inC, op.outC, scale),
          filterShape: [op.outC, op.kernel, op.kernel, op.inC], bias: shift,
        });
        break;
      }
      case 'dwconv2d': {
        const k = src(`${op.name}_dwconv`);
        expectShapes(`${op.name}_dwconv`, k, [[op.kernel, op.kernel, op.channels, 1]]);
        const { scale, shift } = bnScaleShift(src, op.name, op.channels);
        const filter = new Float32Array(k[0].values.length);
        for (let i = 0; i < filter.length; i++) filter[i] = k[0].values[i] * scale[i % op.channels];
        out.set(op.name, { filter, filterShape: [1, op.kernel, op.kernel, op.channels], bias: shift });
        break;
      }
      case 'se': {
        const r = src(`${op.name}_reduce`);
        expectShapes(`${op.name}_reduce`, r, [[1, 1, op.channels, op.reducedChannels], [op.reducedChannels]]);
        const e = src(`${op.name}_expand`);
        expectShapes(`${op.name}_expand`, e, [[1, 1, op.reducedChannels, op.channels], [op.channels]]);
        out.set(`${op.name}_reduce`, {
          filter: hwioToOhwi(r[0].values, 1, 1, op.channels, op.reducedChannels),
          filterShape: [op.reducedChannels, 1, 1, op.channels], bias: r[1].values.slice(),
        });
        out.set(`${op.name}_expand`, {
          filter: hwioToOhwi(e[0].values, 1, 1, op.reducedChannels, op.channels),
          filterShape: [op.channels, 1, 1, op.reducedChannels], bias: e[1].values.slice(),
        });
        break;
      }
      case 'dense': {
        const d = src(op.name);
        expectShapes(op.name, d, [[op.inC, op.outC], [op.outC]]);
        // [in,out] -> [out,in] is HWIO -> OHWI with h = w = 1.
        out.set(op.name, { filter: hwioToOhwi(d[0].values, 1, 1, op.inC, op.outC), filterShape: [op.outC, op.inC], bias: d[1].values.slice() });
        break;
      }
      case 'add':
      case 'gap':
        break;
      default:
        // Unknown node kinds are rejected by the lowering with a clear message.
        break;
    }
  }
  return out;
}
