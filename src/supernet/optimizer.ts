// AdamW for weight-shared training: state and bias correction per variable,
// updating only the variables a step produced gradients for. tfjs' own Adam
// indexes its moment estimates by the POSITION of a gradient in the list it
// is given, which assumes the same variables at every step; a supernet step
// touches a different subset each time (one operator type per layer, a
// subnet's depth), so that bookkeeping would mix moments across variables.
// A variable a step did not use is left exactly as it was (as PyTorch does
// for parameters whose .grad is None), rather than drifting on stale momentum.
//
// The update runs as one plain loop per variable over its values (moments
// kept as Float32Arrays): a few hundred variables x a dozen tfjs ops each
// cost more in dispatch than the arithmetic. The new values are written back
// with assign() (see writable()).

import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** decoupled weight decay, applied to variables `decay(name)` selects */
  weightDecay: number;
  decay: (name: string) => boolean;
}

interface Slot { m: Float32Array; v: Float32Array; t: number }

export interface AdamWState {
  /** per variable (by key): update count */
  steps: Record<string, number>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/**
 * The variable's values as a copy and how to commit them: assign() of a new
 * tensor. Never write a variable's memory in place: the WASM backend caches
 * XNNPACK operators (with a packed copy of the weights) per filter tensor,
 * so a convolution would keep using the old weights until that tensor is
 * disposed.
 */
function writable(v: tf.Variable): { values: Float32Array; commit: () => void } {
  const values = v.dataSync().slice() as Float32Array;
  return { values, commit: () => tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32'))) };
}

export class SparseAdamW {
  private readonly slots = new Map<string, Slot>();
  constructor(private readonly o: AdamWOptions) {}

  /** grads: variable key -> gradient; vars: key -> variable */
  apply(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): void {
    const { beta1: b1, beta2: b2, epsilon } = this.o;
    for (const [key, gt] of grads) {
      const w = vars.get(key);
      if (!w) throw new Error(`gradient for unknown variable ${key}`);
      if (gt.size !== w.size) throw new Error(`gradient of ${key} has ${gt.size} values, the variable ${w.size}`);
      let s = this.slots.get(key);
      if (!s) this.slots.set(key, (s = { m: new Float32Array(w.size), v: new Float32Array(w.size), t: 0 }));
      s.t++;
      const g = gt.dataSync() as Float32Array;
      const c1 = 1 / (1 - b1 ** s.t), c2 = 1 / (1 - b2 ** s.t);
      const decay = this.o.weightDecay > 0 && this.o.decay(key) ? lr * this.o.weightDecay : 0;
      const { values, commit } = writable(w);
      const { m, v } = s;
      for (let i = 0; i < values.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
        const wi = values[i]!;
        values[i] = wi - lr * (mi * c1) / (Math.sqrt(vi * c2) + epsilon) - decay * wi;
      }
      commit();
    }
  }

  getState(): AdamWState {
    const out: AdamWState = { steps: {}, m: new Map(), v: new Map() };
    for (const [k, s] of this.slots) {
      out.steps[k] = s.t;
      out.m.set(k, s.m);
      out.v.set(k, s.v);
    }
    return out;
  }

  setState(st: AdamWState): void {
    this.slots.clear();
    for (const [k, t] of Object.entries(st.steps)) {
      const m = st.m.get(k), v = st.v.get(k);
      if (!m || !v || m.length !== v.length) throw new Error(`optimizer state for ${k} is incomplete`);
      this.slots.set(k, { m: Float32Array.from(m), v: Float32Array.from(v), t });
    }
  }

  dispose(): void {
    this.slots.clear();
  }
}
