// A supernet checkpoint as one self-describing binary (stored as an artifact):
//   uint32 LE meta length | UTF-8 JSON meta | weights blob (refine/weights-blob.ts)
// The weights blob holds every master tensor under "w/<name>" and the
// optimizer's moment estimates under "m/<name>" and "v/<name>"; the meta holds
// the step, the optimizer's per-variable update counts and the identity of the
// supernet (skeleton, input, classes), which a loader checks before use.

import * as tf from '@tensorflow/tfjs';
import { decodeWeights, encodeWeights } from '../refine/weights-blob.ts';
import type { NamedWeights } from '../refine/prune.ts';
import type { InputShape } from '../space/types.ts';
import type { SparseAdamW } from './optimizer.ts';
import type { MasterWeights } from './weights.ts';

export const CHECKPOINT_FORMAT = 'nas-supernet-checkpoint-1';

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  supernetId: string;
  skeleton: string;
  input: InputShape;
  numClasses: number;
  dataset: string;
  /** steps completed */
  step: number;
  totalSteps: number;
  optimizerSteps: Record<string, number>;
}

export function encodeCheckpoint(meta: Omit<CheckpointMeta, 'format' | 'optimizerSteps'>, w: MasterWeights, opt: SparseAdamW): Uint8Array {
  const st = opt.getState();
  const named: NamedWeights = new Map();
  const temp: tf.Tensor[] = [];
  const asTensor = (k: string, a: Float32Array) => { const t = tf.tensor(a, w.get(k)!.shape, 'float32'); temp.push(t); return t; };
  for (const [k, v] of w) named.set(`w/${k}`, [v]);
  for (const [k, a] of st.m) named.set(`m/${k}`, [asTensor(k, a)]);
  for (const [k, a] of st.v) named.set(`v/${k}`, [asTensor(k, a)]);
  const head = new TextEncoder().encode(JSON.stringify({ ...meta, format: CHECKPOINT_FORMAT, optimizerSteps: st.steps } satisfies CheckpointMeta));
  let body: Uint8Array;
  try {
    body = encodeWeights(named);
  } finally {
    for (const t of temp) t.dispose();
  }
  return frame(head, body);
}

/** uint32 LE meta length | meta | weights blob */
function frame(head: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + head.length + body.length);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  out.set(body, 4 + head.length);
  return out;
}

export function readCheckpointMeta(bytes: Uint8Array): CheckpointMeta {
  if (bytes.byteLength < 4) throw new Error('supernet checkpoint is truncated');
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + hl > bytes.byteLength) throw new Error('supernet checkpoint header is truncated');
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as CheckpointMeta;
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`not a supernet checkpoint (format ${JSON.stringify(meta.format)})`);
  return meta;
}

/**
 * Load a checkpoint into existing master weights (and optimizer): every master
 * must be present with its shape; a checkpoint of another layout is refused
 * naming the first tensor that differs.
 */
export function loadCheckpoint(bytes: Uint8Array, w: MasterWeights, opt?: SparseAdamW): CheckpointMeta {
  const meta = readCheckpointMeta(bytes);
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const named = decodeWeights(bytes.subarray(4 + hl));
  try {
    for (const [k, v] of w) {
      const t = named.get(`w/${k}`)?.[0];
      if (!t) throw new Error(`supernet checkpoint has no weight "${k}": it was made for another layout`);
      if (t.shape.join('x') !== v.shape.join('x')) throw new Error(`supernet checkpoint weight "${k}" is ${t.shape.join('x')}, this supernet's is ${v.shape.join('x')}`);
      v.assign(t);
    }
    if (opt) {
      const m = new Map<string, Float32Array>(), vv = new Map<string, Float32Array>();
      for (const k of Object.keys(meta.optimizerSteps)) {
        const a = named.get(`m/${k}`)?.[0], b = named.get(`v/${k}`)?.[0];
        if (!a || !b) throw new Error(`supernet checkpoint lacks the optimizer state of "${k}"`);
        m.set(k, a.dataSync() as Float32Array);
        vv.set(k, b.dataSync() as Float32Array);
      }
      opt.setState({ steps: meta.optimizerSteps, m, v: vv });
    }
  } finally {
    for (const ts of named.values()) for (const t of ts) t.dispose();
  }
  return meta;
}

/**
 * The checkpoint without the optimizer's moment estimates (they are up to
 * two thirds of it): all a trained supernet needs to score architectures, extract
 * weights or warm-start another; only an unfinished training resumes from
 * the moments.
 */
export function weightsOnlyCheckpoint(bytes: Uint8Array, o: { dataset?: string } = {}): Uint8Array {
  const meta = { ...readCheckpointMeta(bytes), ...(o.dataset !== undefined ? { dataset: o.dataset } : {}) };
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const named = decodeWeights(bytes.subarray(4 + hl));
  try {
    const kept: NamedWeights = new Map([...named].filter(([k]) => k.startsWith('w/')));
    const head = new TextEncoder().encode(JSON.stringify({ ...meta, optimizerSteps: {} } satisfies CheckpointMeta));
    return frame(head, encodeWeights(kept));
  } finally {
    for (const ts of named.values()) for (const t of ts) t.dispose();
  }
}
