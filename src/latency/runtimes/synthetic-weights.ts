// Deterministic random weights for a network plan, served as a tfjs-style
// layer weight source (names and shapes as src/space/builder.ts makes them),
// so the TFLite writer can export a plan without building a tfjs model.
// Latency does not depend on the values; they are finite and non-zero.

import type { LayerTensor, LayerWeightSource } from '../../export/weights.ts';
import { allOps, type NetworkPlan } from '../../space/network.ts';
import { createRng } from '../../space/rng.ts';

export function syntheticWeightSource(plan: NetworkPlan, seed = 1): LayerWeightSource {
  const rng = createRng(seed);
  const rand = (n: number, lo: number, hi: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.next();
    return a;
  };
  const t = (name: string, shape: number[], lo = -0.1, hi = 0.1): LayerTensor => ({
    name, shape, values: rand(shape.reduce((a, b) => a * b, 1), lo, hi),
  });
  const bn = (name: string, c: number): LayerTensor[] => [
    t(`${name}/gamma`, [c], 0.5, 1.5), t(`${name}/beta`, [c], -0.1, 0.1),
    t(`${name}/moving_mean`, [c], -0.1, 0.1), t(`${name}/moving_variance`, [c], 0.5, 1.5),
  ];
  const layers = new Map<string, LayerTensor[]>();
  for (const op of allOps(plan)) {
    switch (op.kind) {
      case 'conv2d':
        layers.set(`${op.name}_conv`, [t(`${op.name}_conv/kernel`, [op.kernel, op.kernel, op.inC, op.outC])]);
        layers.set(`${op.name}_bn`, bn(`${op.name}_bn`, op.outC));
        break;
      case 'dwconv2d':
        layers.set(`${op.name}_dwconv`, [t(`${op.name}_dwconv/depthwise_kernel`, [op.kernel, op.kernel, op.channels, 1])]);
        layers.set(`${op.name}_bn`, bn(`${op.name}_bn`, op.channels));
        break;
      case 'se':
        layers.set(`${op.name}_reduce`, [t(`${op.name}_reduce/kernel`, [1, 1, op.channels, op.reducedChannels]), t(`${op.name}_reduce/bias`, [op.reducedChannels])]);
        layers.set(`${op.name}_expand`, [t(`${op.name}_expand/kernel`, [1, 1, op.reducedChannels, op.channels]), t(`${op.name}_expand/bias`, [op.channels])]);
        break;
      case 'dense':
        layers.set(op.name, [t(`${op.name}/kernel`, [op.inC, op.outC]), t(`${op.name}/bias`, [op.outC])]);
        break;
      default:
        break;
    }
  }
  return (layerName) => {
    const w = layers.get(layerName);
    if (!w) throw new Error(`synthetic weights: no layer ${layerName}`);
    return w;
  };
}
