// NamedWeights <-> one binary file (a run's stage checkpoint artifact):
//   uint32 LE header length | UTF-8 JSON header [{layer, shapes}] | float32 LE data
// in header order. Self-describing, so a restarted run rebuilds the exact
// weights of the checkpointed spec.

import * as tf from '@tensorflow/tfjs';
import type { NamedWeights } from './prune.ts';

interface HeaderEntry { layer: string; shapes: number[][] }

export function encodeWeights(w: NamedWeights): Uint8Array {
  const header: HeaderEntry[] = [...w].map(([layer, ts]) => ({ layer, shapes: ts.map((t) => t.shape) }));
  const head = new TextEncoder().encode(JSON.stringify(header));
  const total = [...w.values()].flat().reduce((s, t) => s + t.size, 0);
  const out = new Uint8Array(4 + head.length + total * 4);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  const data = new DataView(out.buffer, 4 + head.length);
  let off = 0;
  for (const ts of w.values()) {
    for (const t of ts) {
      for (const v of t.dataSync()) { data.setFloat32(off, v, true); off += 4; }
    }
  }
  return out;
}

export function decodeWeights(bytes: Uint8Array): NamedWeights {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw new Error('weights file is truncated');
  const hl = view.getUint32(0, true);
  if (4 + hl > bytes.byteLength) throw new Error('weights file header is truncated');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as HeaderEntry[];
  if (!Array.isArray(header)) throw new Error('weights file header is not a list of layers');
  let off = 4 + hl;
  const out: NamedWeights = new Map();
  try {
    for (const e of header) {
      if (typeof e?.layer !== 'string' || !Array.isArray(e.shapes)) throw new Error('weights file header has a malformed layer entry');
      if (out.has(e.layer)) throw new Error(`weights file names layer ${e.layer} twice`);
      const ts: tf.Tensor[] = [];
      out.set(e.layer, ts);
      for (const shape of e.shapes) {
        if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`weights file has a malformed shape at layer ${e.layer}`);
        const n = shape.reduce((a, b) => a * b, 1);
        if (off + n * 4 > bytes.byteLength) throw new Error(`weights file is truncated at layer ${e.layer}`);
        const vals = new Float32Array(n);
        for (let i = 0; i < n; i++) vals[i] = view.getFloat32(off + i * 4, true);
        off += n * 4;
        ts.push(tf.tensor(vals, shape, 'float32'));
      }
    }
    if (off !== bytes.byteLength) throw new Error(`weights file has ${bytes.byteLength - off} trailing bytes`);
  } catch (e) {
    // what was decoded before the error is released, not leaked
    for (const ts of out.values()) for (const t of ts) t.dispose();
    throw e;
  }
  return out;
}
