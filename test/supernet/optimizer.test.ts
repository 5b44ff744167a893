// The supernet's AdamW: the same steps as tfjs' Adam on a fixed variable
// set; a variable without a gradient in a step stays exactly as it was; the
// decoupled decay applies to the variables it selects; its state round-trips.

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SparseAdamW } from '../../src/supernet/optimizer.ts';

const opts = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0, decay: () => false };

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

describe('SparseAdamW', () => {
  it('matches tfjs Adam step for step when every variable has a gradient', () => {
    const init = [0.5, -1.2, 3.0, 0.01];
    const mine = tf.variable(tf.tensor1d(init));
    const ref = tf.variable(tf.tensor1d(init));
    const opt = new SparseAdamW(opts);
    const tfAdam = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    for (const g of [[0.1, -0.2, 0.3, 0.0], [1.5, 0.01, -0.7, 2.0], [-0.3, 0.3, 0.3, -0.3]]) {
      const gt = tf.tensor1d(g);
      opt.apply(new Map([['w', mine]]), new Map([['w', gt]]), 0.01);
      tfAdam.applyGradients({ [ref.name]: gt } as unknown as Parameters<typeof tfAdam.applyGradients>[0]);
      gt.dispose();
    }
    close(mine.dataSync(), ref.dataSync(), 1e-5, 'weights');
    mine.dispose(); ref.dispose(); tfAdam.dispose();
  });

  it('leaves a variable without a gradient untouched, decays only selected ones, and restores its state exactly', () => {
    const a = tf.variable(tf.tensor1d([1, 2])), b = tf.variable(tf.tensor1d([3, 4])), kernel = tf.variable(tf.tensor1d([1, 1]));
    const vars = new Map([['a', a], ['b', b], ['x/kernel', kernel]]);
    const opt = new SparseAdamW({ ...opts, weightDecay: 0.5, decay: (k) => k.endsWith('kernel') });
    const g = () => tf.tensor1d([0.5, -0.5]);
    let ga = g(), gb = g();
    opt.apply(vars, new Map([['a', ga], ['b', gb]]), 0.1);
    ga.dispose(); gb.dispose();
    const bAfter = Array.from(b.dataSync());
    ga = g();
    opt.apply(vars, new Map([['a', ga]]), 0.1); // b has no gradient in this step
    ga.dispose();
    assert.deepEqual(Array.from(b.dataSync()), bAfter, 'no gradient, no change (no drift on stale momentum)');
    const zero = tf.tensor1d([0, 0]);
    opt.apply(vars, new Map([['x/kernel', zero]]), 0.1);
    // zero gradient: the Adam part is 0, the decay shrinks by lr * wd
    close(kernel.dataSync(), [1 - 0.05, 1 - 0.05], 1e-6, 'decayed kernel');
    const st = opt.getState();
    assert.deepEqual(st.steps, { a: 2, b: 1, 'x/kernel': 1 });
    const twin = new SparseAdamW(opts);
    twin.setState(st);
    assert.deepEqual(twin.getState().steps, st.steps);
    assert.deepEqual(Array.from(twin.getState().m.get('a')!), Array.from(st.m.get('a')!));
    assert.throws(() => opt.apply(vars, new Map([['nope', zero]]), 0.1), /unknown variable nope/);
    zero.dispose(); a.dispose(); b.dispose(); kernel.dispose();
  });
});
