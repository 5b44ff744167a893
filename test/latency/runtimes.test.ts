// One conformance suite over every local latency runtime: a kernel and a
// whole network are measured (warm-up, reference-ratio rounds) and give
// positive, finite medians; a bigger kernel of the same kind is slower.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelPlan, type Kernel } from '../../src/latency/kernels.ts';
import { createMeasurer, type LatencyRuntime, type RuntimeId } from '../../src/latency/runtime.ts';
import { createRuntime } from '../../src/latency/runtimes/index.ts';
import { referencePlan } from '../../src/latency/runtime.ts';

const small: Kernel = { op: 'conv', kernel: 3, stride: 1, inC: 8, outC: 8, inH: 8, inW: 8, expansion: 1, activation: 'relu' };
const big: Kernel = { ...small, inC: 64, outC: 64, inH: 28, inW: 28 };

for (const id of ['fake', 'tflite-wasm', 'tfjs-wasm'] as RuntimeId[]) {
  describe(`latency runtime ${id}`, () => {
    let rt: LatencyRuntime;
    it('measures a conv k3 s1 c8->c8 8x8 kernel and a c64->c64 28x28 one (bigger is slower)', async () => {
      rt = await createRuntime(id);
      const m = await createMeasurer(rt, { repeats: 5, warmup: 2 });
      try {
        const a = await m.measure(kernelPlan(small));
        const b = await m.measure(kernelPlan(big));
        for (const r of [a, b]) {
          assert.ok(r.medianMs > 0 && Number.isFinite(r.medianMs));
          assert.equal(r.samplesMs.length >= 5, true);
        }
        assert.ok(b.medianMs > a.medianMs * 3, `${b.medianMs} vs ${a.medianMs}`);
        const net = await m.measure(referencePlan());
        assert.ok(net.medianMs > 0);
        assert.equal(rt.threads, 1);
        assert.match(rt.version, /\S/);
      } finally {
        m.close();
        await rt.close();
      }
    });
  });
}
