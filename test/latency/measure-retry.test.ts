// The measurer's answer to load: repeats that disagree are measured again,
// longer, a bounded number of times; a model whose repeats never agree is
// rejected with a 422 naming the problem, not given a made-up median.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelPlan, type Kernel } from '../../src/latency/kernels.ts';
import { createMeasurer, MAX_ATTEMPTS, MeasurementError, type LatencyRuntime, type PreparedModel } from '../../src/latency/runtime.ts';
import { createFakeRuntime } from '../../src/latency/runtimes/fake.ts';

const k: Kernel = { op: 'conv', kernel: 3, stride: 1, inC: 8, outC: 8, inH: 8, inW: 8, expansion: 1, activation: 'relu' };

/** The fake runtime, but the target model's (or the reference network's) batches are noisy while `noisy(callIndex, count)` says so. */
function burstyRuntime(noisy: (call: number, count: number) => boolean, counts: number[], which: 'target' | 'reference' = 'target'): LatencyRuntime {
  const base = createFakeRuntime();
  let prepared = 0;
  return {
    ...base,
    async prepare(plan) {
      const m = await base.prepare(plan);
      const isTarget = prepared++ > 0; // the first prepare is the reference network
      let call = 0;
      const out: PreparedModel = {
        timeBatch(count, clock) {
          const ms = m.timeBatch(count, clock) as number;
          if (isTarget !== (which === 'target') || clock === 'wall') return ms;
          counts.push(count);
          const i = call++;
          return noisy(i, count) ? ms * (i % 3 === 0 ? 20 : 1) : ms;
        },
        dispose: () => m.dispose(),
      };
      return out;
    },
  };
}

describe('measurer retries', () => {
  it('a burst of load in the first rounds: measured again with longer batches, median of the clean attempt', async () => {
    const counts: number[] = [];
    const rt = burstyRuntime((call) => call < 5, counts);
    const m = await createMeasurer(rt, { repeats: 5, warmup: 0 });
    const r = await m.measure(kernelPlan(k));
    const clean = await (await createMeasurer(createFakeRuntime(), { repeats: 5, warmup: 0 })).measure(kernelPlan(k));
    assert.ok(Math.abs(r.medianMs - clean.medianMs) / clean.medianMs < 1e-9, `${r.medianMs} vs ${clean.medianMs}`);
    assert.equal(r.samplesMs.length, 10, 'the second attempt runs twice the rounds');
    assert.equal(counts[5], counts[0] * 2, 'the second attempt times batches twice as long');
  });

  it('repeats that never agree: MeasurementError 422 after a bounded number of attempts', async () => {
    const counts: number[] = [];
    const rt = burstyRuntime(() => true, counts);
    const m = await createMeasurer(rt, { repeats: 5, warmup: 0 });
    await assert.rejects(m.measure(kernelPlan(k)), (e: unknown) => e instanceof MeasurementError && e.status === 422 && /inconsistent/.test(e.message));
    assert.equal(counts.length, 5 + (MAX_ATTEMPTS - 1) * 10, 'bounded: one short attempt and MAX_ATTEMPTS-1 longer ones');
  });

  it('a burst of load while the reference network is measured: measured again with longer batches, not refused', async () => {
    const counts: number[] = [];
    const rt = burstyRuntime((call) => call < 31, counts, 'reference');
    const m = await createMeasurer(rt, { repeats: 5, warmup: 0 });
    const clean = await createMeasurer(createFakeRuntime(), { repeats: 5, warmup: 0 });
    assert.ok(Math.abs(m.referenceMs - clean.referenceMs) / clean.referenceMs < 1e-9, `${m.referenceMs} vs ${clean.referenceMs}`);
    assert.equal(counts[31], counts[0] * 2, 'the second attempt times reference batches twice as long');
  });

  it('a reference network whose repeats never agree: MeasurementError 422 after a bounded number of attempts', async () => {
    const counts: number[] = [];
    const rt = burstyRuntime(() => true, counts, 'reference');
    await assert.rejects(createMeasurer(rt, { repeats: 5, warmup: 0 }), (e: unknown) => e instanceof MeasurementError && e.status === 422 && /reference network.*inconsistent/.test(e.message));
    assert.equal(counts.length, MAX_ATTEMPTS * 31, 'bounded: MAX_ATTEMPTS attempts of 31 rounds');
  });
});
