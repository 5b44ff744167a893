// ArchSpec -> tfjs LayersModel, built from the network plan so that layer
// names follow one convention that the exporter and trainer rely on:
//   conv2d node N   -> `${N}_conv` (Conv2D, no bias), `${N}_bn`, `${N}_act`
//   dwconv2d node N -> `${N}_dwconv` (DepthwiseConv2D, no bias), `${N}_bn`, `${N}_act`
//   se node N       -> `${N}_pool`, `${N}_reshape`, `${N}_reduce` (Conv2D 1x1, bias),
//                      `${N}_reduce_act`, `${N}_expand` (Conv2D 1x1, bias, sigmoid), `${N}_mul`
//   add node N      -> `${N}` (Add)
//   gap node N      -> `${N}` (GlobalAveragePooling2D)
//   dense node N    -> `${N}_dropout` (when dropout > 0), `${N}` (Dense, bias, softmax)
// Only the `@tensorflow/tfjs` API is used, so any registered backend runs it.

import * as tf from '@tensorflow/tfjs';
import { expandNetwork, type NetworkPlan, type OpNode } from './network.ts';
import type { Activation, ArchSpec, InputShape } from './types.ts';

/** Batch-norm epsilon used everywhere (the exporter folds with the same value). */
export const BN_EPSILON = 1e-3;
export const BN_MOMENTUM = 0.99;

/** h-swish: x * relu6(x + 3) / 6 (MobileNetV3). */
export class HardSwish extends tf.layers.Layer {
  static className = 'HardSwish';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
    });
  }
  override computeOutputShape(shape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return shape;
  }
}
tf.serialization.registerClass(HardSwish);

export function activationLayer(act: Activation, name: string): tf.layers.Layer {
  switch (act) {
    case 'relu':
      return tf.layers.activation({ activation: 'relu', name });
    case 'relu6':
      return tf.layers.activation({ activation: 'relu6', name });
    case 'swish':
      return tf.layers.activation({ activation: 'swish', name });
    case 'hswish':
      return new HardSwish({ name });
  }
}

export interface BuildOptions {
  inputShape: InputShape;
  numClasses: number;
  /** seed for weight initializers (reproducible initial weights) */
  seed?: number;
}

export function buildModel(spec: ArchSpec, opts: BuildOptions): tf.LayersModel {
  const plan = expandNetwork(spec, opts.inputShape, opts.numClasses);
  return buildFromPlan(plan, opts.seed);
}

export function buildFromPlan(plan: NetworkPlan, seed?: number): tf.LayersModel {
  let seedCounter = seed ?? Math.floor(Math.random() * 2 ** 31);
  const nextSeed = () => seedCounter++;
  const input = tf.input({ shape: [plan.input.height, plan.input.width, plan.input.channels], name: 'input' });
  let x: tf.SymbolicTensor = input;
  for (const layer of plan.layers) {
    const layerInput = x;
    for (const op of layer.ops) {
      x = applyOp(op, x, layerInput, nextSeed);
    }
  }
  return tf.model({ inputs: input, outputs: x, name: 'nas_model' });
}

function bnAct(x: tf.SymbolicTensor, name: string, act: Activation | null): tf.SymbolicTensor {
  let y = tf.layers.batchNormalization({ name: `${name}_bn`, epsilon: BN_EPSILON, momentum: BN_MOMENTUM }).apply(x) as tf.SymbolicTensor;
  if (act) y = activationLayer(act, `${name}_act`).apply(y) as tf.SymbolicTensor;
  return y;
}

function applyOp(op: OpNode, x: tf.SymbolicTensor, layerInput: tf.SymbolicTensor, nextSeed: () => number): tf.SymbolicTensor {
  switch (op.kind) {
    case 'conv2d': {
      const y = tf.layers.conv2d({
        name: `${op.name}_conv`, filters: op.outC, kernelSize: op.kernel, strides: op.stride, padding: 'same', useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
      }).apply(x) as tf.SymbolicTensor;
      return bnAct(y, op.name, op.activation);
    }
    case 'dwconv2d': {
      const y = tf.layers.depthwiseConv2d({
        name: `${op.name}_dwconv`, kernelSize: op.kernel, strides: op.stride, padding: 'same', useBias: false, depthMultiplier: 1,
        depthwiseInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
      }).apply(x) as tf.SymbolicTensor;
      return bnAct(y, op.name, op.activation);
    }
    case 'se': {
      let s = tf.layers.globalAveragePooling2d({ name: `${op.name}_pool` }).apply(x) as tf.SymbolicTensor;
      s = tf.layers.reshape({ name: `${op.name}_reshape`, targetShape: [1, 1, op.channels] }).apply(s) as tf.SymbolicTensor;
      s = tf.layers.conv2d({
        name: `${op.name}_reduce`, filters: op.reducedChannels, kernelSize: 1, useBias: true,
        kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
      }).apply(s) as tf.SymbolicTensor;
      s = activationLayer(op.activation, `${op.name}_reduce_act`).apply(s) as tf.SymbolicTensor;
      s = tf.layers.conv2d({
        name: `${op.name}_expand`, filters: op.channels, kernelSize: 1, useBias: true, activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      }).apply(s) as tf.SymbolicTensor;
      return tf.layers.multiply({ name: `${op.name}_mul` }).apply([x, s]) as tf.SymbolicTensor;
    }
    case 'add':
      return tf.layers.add({ name: op.name }).apply([x, layerInput]) as tf.SymbolicTensor;
    case 'gap':
      return tf.layers.globalAveragePooling2d({ name: op.name }).apply(x) as tf.SymbolicTensor;
    case 'dense': {
      let y = x;
      if (op.dropout > 0) y = tf.layers.dropout({ name: `${op.name}_dropout`, rate: op.dropout, seed: nextSeed() }).apply(y) as tf.SymbolicTensor;
      return tf.layers.dense({
        name: op.name, units: op.outC, activation: 'softmax', useBias: true,
        kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      }).apply(y) as tf.SymbolicTensor;
    }
  }
}
