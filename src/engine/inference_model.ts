// Inference runner with batch norm folded into the convolutions. In a
// functional tfjs LayersModel, every Conv2D / DepthwiseConv2D whose only
// consumer is a BatchNormalization layer (channels last), itself optionally
// followed by a relu/relu6 Activation layer as its only consumer, runs as ONE
// fused op: tf.fused.conv2d / tf.fused.depthwiseConv2d with the folded filter
// w * s and bias beta + (b - movingMean) * s, s = gamma / sqrt(movingVar + eps),
// and the activation. On the fast path these fused ops run natively with a
// bias/activation epilogue (wasm_overrides.ts), which saves two full passes
// over each activation tensor (batch norm, activation) per conv. All other
// layers run through layer.apply in inference mode, in the model's
// topological order; intermediate tensors are disposed as soon as their last
// consumer has run (as model.predict does).
//
// The folded weights are computed when the runner is created (the weights
// of that moment: create a new runner after training further) and freed by
// dispose(). Models the runner does not understand (several inputs/outputs,
// shared layers) fall back to model.predict with one pass per batch. Results
// equal model.predict's up to float rounding (test/engine/inference_parity.test.ts).

import * as tf from '@tensorflow/tfjs';
import { inferenceKernelsEnabled } from './inference_kernels.ts';

export interface InferenceRunner {
  /** model output for a batch, inference mode; the caller disposes it */
  predict(x: tf.Tensor): tf.Tensor;
  /** frees the folded weights */
  dispose(): void;
  /** conv + batch-norm (+ activation) groups fused; 0 = plain model.predict */
  fusedGroups: number;
}

interface LayerLike {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  weights: Array<{ name: string; originalName?: string; read(): tf.Tensor }>;
  inboundNodes: Array<{ inboundLayers: LayerLike[]; nodeIndices: number[]; tensorIndices: number[] }>;
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

interface FusedStep {
  kind: 'conv' | 'dwconv';
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  strides: [number, number];
  pad: 'same' | 'valid';
  dilations: [number, number];
  activation: 'linear' | 'relu' | 'relu6';
}

interface Step {
  /** name under which the output is stored (the last layer of a fused group) */
  out: string;
  inputs: string[];
  layer?: LayerLike;
  fused?: FusedStep;
}

function plainRunner(model: tf.LayersModel): InferenceRunner {
  return {
    predict: (x) => model.predict(x, { batchSize: x.shape[0] }) as tf.Tensor,
    dispose: () => {},
    fusedGroups: 0,
  };
}

function pair(v: unknown, dflt: number): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return a.length === 1 ? [a[0], a[0]] : [a[0], a[1]];
}

function weightByName(layer: LayerLike, suffix: string): tf.Tensor | undefined {
  const w = layer.weights.find((v) => (v.originalName ?? v.name).endsWith(suffix));
  return w?.read();
}

/** The folded op for conv -> bn (-> act), or null when the group does not qualify. */
function foldGroup(conv: LayerLike, bn: LayerLike, act: LayerLike | null): FusedStep | null {
  const cc = conv.getConfig();
  const bc = bn.getConfig();
  const kind = conv.getClassName() === 'Conv2D' ? 'conv' : 'dwconv';
  if ((cc.dataFormat ?? 'channelsLast') !== 'channelsLast' || (cc.activation ?? 'linear') !== 'linear') return null;
  if (cc.padding !== 'same' && cc.padding !== 'valid') return null;
  if (kind === 'dwconv' && (cc.depthMultiplier ?? 1) !== 1) return null;
  const axis = bc.axis as number;
  if (axis !== -1 && axis !== 3) return null;
  let activation: FusedStep['activation'] = 'linear';
  if (act) {
    const a = act.getConfig().activation;
    if (a !== 'relu' && a !== 'relu6') return null;
    activation = a;
  }
  const kernel = weightByName(conv, kind === 'conv' ? 'kernel' : 'depthwise_kernel');
  const convBias = cc.useBias ? weightByName(conv, 'bias') : undefined;
  const mean = weightByName(bn, 'moving_mean');
  const variance = weightByName(bn, 'moving_variance');
  if (!kernel || kernel.rank !== 4 || (cc.useBias && !convBias) || !mean || !variance) return null;
  const gamma = bc.scale !== false ? weightByName(bn, 'gamma') : undefined;
  const beta = bc.center !== false ? weightByName(bn, 'beta') : undefined;
  if ((bc.scale !== false && !gamma) || (bc.center !== false && !beta)) return null;
  const eps = bc.epsilon as number;
  const { filter, bias } = tf.tidy(() => {
    let s = tf.rsqrt(tf.add(variance, eps));
    if (gamma) s = tf.mul(s, gamma);
    const shift = tf.mul(tf.sub(convBias ?? tf.zerosLike(mean), mean), s);
    // conv filters are [kh, kw, in, out]; depthwise [kh, kw, C, 1]: the channel axis is the one before last
    const sf = kind === 'conv' ? s : tf.reshape(s, [-1, 1]);
    return { filter: tf.mul(kernel, sf) as tf.Tensor4D, bias: (beta ? tf.add(beta, shift) : shift) as tf.Tensor1D };
  });
  return {
    kind, filter, bias, activation, strides: pair(cc.strides, 1), dilations: pair(cc.dilationRate, 1), pad: cc.padding as 'same' | 'valid',
  };
}

/**
 * A runner for `model` in inference mode with conv + batch norm (+ relu/relu6)
 * groups fused; plain model.predict (one pass per batch) when switched off
 * (NAS_FAST_INFERENCE=0) or when the model's graph is not a simple
 * single-input single-output functional graph.
 */
export function createInferenceRunner(model: tf.LayersModel): InferenceRunner {
  if (!inferenceKernelsEnabled() || model.inputs.length !== 1 || model.outputs.length !== 1) return plainRunner(model);
  const layers = model.layers as unknown as LayerLike[];
  const consumers = new Map<string, number>();
  const inputsOf = new Map<string, string[]>();
  for (const l of layers) {
    if (l.getClassName() === 'InputLayer') continue;
    const nodes = l.inboundNodes;
    if (nodes.length !== 1 || nodes[0].tensorIndices.some((i) => i !== 0) || nodes[0].nodeIndices.some((i) => i !== 0)) return plainRunner(model);
    const ins = nodes[0].inboundLayers.map((p) => p.name);
    inputsOf.set(l.name, ins);
    for (const n of ins) consumers.set(n, (consumers.get(n) ?? 0) + 1);
  }
  const outputName = (model.outputLayers[0] as unknown as LayerLike).name;
  const inputName = (model.inputLayers[0] as unknown as LayerLike).name;
  const byName = new Map(layers.map((l) => [l.name, l]));
  // the only consumer of `name`, if it has exactly one and is not the model output
  const soleConsumer = (name: string): LayerLike | null => {
    if (name === outputName || consumers.get(name) !== 1) return null;
    return layers.find((l) => inputsOf.get(l.name)?.includes(name)) ?? null;
  };

  const steps: Step[] = [];
  const absorbed = new Set<string>();
  const folded: FusedStep[] = [];
  try {
    for (const l of layers) {
      const cls = l.getClassName();
      if (cls === 'InputLayer' || absorbed.has(l.name)) continue;
      if (cls === 'Conv2D' || cls === 'DepthwiseConv2D') {
        const bn = soleConsumer(l.name);
        if (bn && bn.getClassName() === 'BatchNormalization') {
          const next = soleConsumer(bn.name);
          const act = next && next.getClassName() === 'Activation' && ['relu', 'relu6'].includes(next.getConfig().activation as string) ? next : null;
          const f = foldGroup(l, bn, act);
          if (f) {
            folded.push(f);
            absorbed.add(bn.name);
            if (act) absorbed.add(act.name);
            steps.push({ out: (act ?? bn).name, inputs: inputsOf.get(l.name)!, fused: f });
            continue;
          }
        }
      }
      steps.push({ out: l.name, inputs: inputsOf.get(l.name)!, layer: byName.get(l.name) });
    }
  } catch (e) {
    tf.dispose(folded.flatMap((f) => [f.filter, f.bias]));
    throw e;
  }
  if (folded.length === 0) return plainRunner(model);

  // remaining uses of each stored output within one forward pass
  const uses = new Map<string, number>();
  for (const s of steps) for (const n of s.inputs) uses.set(n, (uses.get(n) ?? 0) + 1);

  const predict = (x: tf.Tensor): tf.Tensor => {
    const live = new Map<string, tf.Tensor>([[inputName, x]]);
    const left = new Map(uses);
    let result: tf.Tensor | undefined;
    try {
      for (const s of steps) {
        const ins = s.inputs.map((n) => {
          const t = live.get(n);
          if (!t) throw new Error(`inference runner: input ${n} of ${s.out} not computed`);
          return t;
        });
        let y: tf.Tensor;
        if (s.fused) {
          const f = s.fused;
          const args = { x: ins[0] as tf.Tensor4D, filter: f.filter, strides: f.strides, pad: f.pad, dilations: f.dilations, bias: f.bias, activation: f.activation };
          y = f.kind === 'conv' ? tf.fused.conv2d(args) : tf.fused.depthwiseConv2d(args);
        } else {
          y = tf.tidy(() => s.layer!.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor);
        }
        live.set(s.out, y);
        for (const n of s.inputs) {
          const k = left.get(n)! - 1;
          left.set(n, k);
          if (k === 0 && n !== inputName) {
            live.get(n)!.dispose();
            live.delete(n);
          }
        }
      }
      result = live.get(outputName);
      if (!result) throw new Error(`inference runner: output ${outputName} not computed`);
      return result;
    } finally {
      for (const [n, t] of live) if (n !== inputName && t !== result) t.dispose();
    }
  };
  return {
    predict,
    dispose: () => tf.dispose(folded.flatMap((f) => [f.filter, f.bias])),
    fusedGroups: folded.length,
  };
}
