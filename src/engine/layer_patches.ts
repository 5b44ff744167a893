// Routes the hot training-time layers onto the fused ops of fused_ops.ts
// while the fast path ('wasm' backend) is active; on any other backend, in
// inference, or for configurations the fused ops do not cover, the original
// tfjs-layers code runs unchanged. Patched (prototype methods, once):
//   - tf.layers BatchNormalization.call in training mode (channels-last axis,
//     center and scale on): fused statistics/normalisation and gradient;
//     moving mean/variance updated exactly as tfjs-layers does;
//   - the 'relu' and 'relu6' activations: one-pass gradient;
//   - the builder's HardSwish layer (src/space/builder.ts): one-pass gradient.
// Same maths as the stock layers; test/engine/model_parity.test.ts compares
// training against the tfjs cpu backend, which never takes these paths.

import * as tf from '@tensorflow/tfjs';
import { HardSwish } from '../space/builder.ts';
import { batchNormTrain, hardSwishFast, relu6Fast, reluFast } from './fused_ops.ts';

let patched = false;
let enabled = true;

/** Turn the patched paths off/on (e.g. to compare with the stock layers on the fast path). */
export function setLayerPatchesEnabled(on: boolean): void {
  enabled = on;
}

function active(): boolean {
  return enabled && tf.getBackend() === 'wasm';
}

interface BnLayer {
  axis: number;
  center: boolean;
  scale: boolean;
  epsilon: number;
  momentum: number;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

type CallFn = (this: unknown, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

export function installLayerPatches(): void {
  if (patched) return;
  patched = true;

  const bnProto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as { call: CallFn };
  const bnCall = bnProto.call;
  bnProto.call = function (this: unknown, inputs, kwargs) {
    const self = this as BnLayer;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const training = kwargs?.['training'] === true;
    const lastAxis = self.axis === -1 || self.axis === x.rank - 1;
    if (!active() || !training || !lastAxis || !self.center || !self.scale || x.dtype !== 'float32' || x.rank < 2 ||
        (Array.isArray(inputs) && inputs.length !== 1)) {
      return bnCall.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const [y, mean, variance] = batchNormTrain(x, self.gamma.read(), self.beta.read(), self.epsilon);
      for (const [variable, value] of [[self.movingMean, mean], [self.movingVariance, variance]] as const) {
        tf.tidy(() => {
          const orig = variable.read();
          variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - self.momentum)));
        });
      }
      return y;
    });
  };

  const actProto = (name: string) =>
    Object.getPrototypeOf((tf.layers.activation({ activation: name as 'relu' }) as unknown as { activation: object }).activation) as {
      apply: (x: tf.Tensor, alpha?: number) => tf.Tensor;
    };
  for (const [name, fast] of [['relu', reluFast], ['relu6', relu6Fast]] as const) {
    const proto = actProto(name);
    const orig = proto.apply;
    proto.apply = function (this: unknown, x: tf.Tensor, alpha?: number) {
      return active() && x.dtype === 'float32' ? fast(x) : orig.call(this, x, alpha);
    };
  }

  const hsProto = HardSwish.prototype as unknown as { call: CallFn };
  const hsCall = hsProto.call;
  hsProto.call = function (this: unknown, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return active() && x.dtype === 'float32' ? hardSwishFast(x) : hsCall.call(this, inputs, kwargs);
  };
}
