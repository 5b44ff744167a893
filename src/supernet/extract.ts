// Subnet extraction: an architecture of the supernet's space -> the weights
// of the stand-alone network (src/space/builder.ts layer names, getWeights()
// order), computed by the same accessors the supernet's forward pass uses.
// Batch-norm moving statistics are not part of the supernet (each subnet's
// are re-estimated on training images before it is used, see evaluator.ts):
// they come out as mean 0, variance 1.

import * as tf from '@tensorflow/tfjs';
import type { NamedWeights } from '../refine/prune.ts';
import type { ArchSpec } from '../space/types.ts';
import { subnetConfig, type SupernetLayout } from './layout.ts';
import { type BnParams, layerParams, MasterReader, stemHeadParams } from './subnet.ts';
import type { MasterWeights } from './weights.ts';

const bnWeights = (p: BnParams): tf.Tensor[] => [p.gamma.clone(), p.beta.clone(), tf.zerosLike(p.gamma), tf.onesLike(p.gamma)];

/** The stand-alone network's weights for `spec` (the caller disposes them). */
export function extractSubnet(w: MasterWeights, layout: SupernetLayout, spec: ArchSpec): NamedWeights {
  const cfg = subnetConfig(layout, spec);
  const out: NamedWeights = new Map();
  tf.tidy(() => {
    const r = new MasterReader(w);
    const put = (name: string, ts: tf.Tensor[]) => out.set(name, ts.map((t) => tf.keep(t.clone())));
    const sh = stemHeadParams(r, layout, cfg);
    put('stem_conv', [sh.stem.kernel]);
    put('stem_bn', bnWeights(sh.stem.bn));
    for (const l of cfg.layers) {
      const n = `b${l.block}_l${l.layer}`;
      const p = layerParams(r, l);
      const se = () => {
        if (!p.se) return;
        put(`${n}_se_reduce`, [p.se.reduceKernel, p.se.reduceBias]);
        put(`${n}_se_expand`, [p.se.expandKernel, p.se.expandBias]);
      };
      if (l.op === 'conv') {
        put(`${n}_conv_conv`, [p.main!.kernel]);
        put(`${n}_conv_bn`, bnWeights(p.main!.bn));
        se();
        continue;
      }
      if (p.expand) {
        put(`${n}_expand_conv`, [p.expand.kernel]);
        put(`${n}_expand_bn`, bnWeights(p.expand.bn));
      }
      put(`${n}_dw_dwconv`, [p.dw!.kernel]);
      put(`${n}_dw_bn`, bnWeights(p.dw!.bn));
      se();
      const main = l.op === 'ds' ? 'pw' : 'project';
      put(`${n}_${main}_conv`, [p.main!.kernel]);
      put(`${n}_${main}_bn`, bnWeights(p.main!.bn));
    }
    if (sh.head) {
      put('head_conv_conv', [sh.head.kernel]);
      put('head_conv_bn', bnWeights(sh.head.bn));
    }
    put('classifier', [sh.classifier.kernel, sh.classifier.bias]);
  });
  return out;
}
