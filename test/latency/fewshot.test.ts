import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceProfile } from '../../src/latency/device.ts';
import { fewShotTable } from '../../src/latency/fewshot.ts';
import { createPredictor } from '../../src/latency/predictor.ts';
import { profileDevice, shuffled } from '../../src/latency/profile.ts';
import { createMeasurer } from '../../src/latency/runtime.ts';
import { createFakeRuntime, fakeKernelMs, fakePlanMs } from '../../src/latency/runtimes/fake.ts';
import { parseKernelKey } from '../../src/latency/kernels.ts';
import { kendallTau } from '../../src/latency/stats.ts';
import { expandNetwork } from '../../src/space/network.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

const input = { height: 28, width: 28, channels: 1 };
const refDevice: DeviceProfile = { id: 'fake-ref', name: 'ref', runtime: 'fake', runtimeVersion: 'fake-1', threads: 1, cpu: 'none' };
const newDevice: DeviceProfile = { ...refDevice, id: 'fake-new', name: 'new' };
// The "new device": 3x slower overall, depthwise relatively slower still.
const newCost = { gmacPerS: 0.7, scale: { dwconv: 1.6 }, overheadMs: 0.05 };

describe('few-shot transfer (fake devices)', async () => {
  const reference = await profileDevice({
    device: refDevice, measurer: await createMeasurer(createFakeRuntime(), { repeats: 3, warmup: 0 }),
    targets: [{ skeleton: SKELETON_SMALL, input }], numClasses: 10, calibrationNetworks: 8,
  });
  const keys = Object.keys(reference.entries);
  const nets = Array.from({ length: 30 }, (_, i) => sampleArch(SKELETON_SMALL, createRng(500 + i)));
  const truth = nets.map((s) => fakePlanMs(expandNetwork(s, input, 10), newCost));

  const scoreWith = (k: number) => {
    const measured = Object.fromEntries(shuffled(keys, k).slice(0, k).map((key) => [key, fakeKernelMs(parseKernelKey(key), newCost)]));
    const p = createPredictor(fewShotTable({ reference, device: newDevice, measured }));
    const pred = nets.map((s) => p.predict(s, input, 10).latencyMs);
    return { tau: kendallTau(pred, truth), ratio: pred.reduce((a, v, i) => a + v / truth[i], 0) / pred.length };
  };

  it('10 kernels: ranks the new device\'s networks well and lands near its scale', () => {
    const r = scoreWith(10);
    assert.ok(r.tau > 0.8, `tau ${r.tau}`);
    assert.ok(r.ratio > 0.7 && r.ratio < 1.4, `mean predicted/true ${r.ratio}`);
  });

  it('rejects kernels unknown to the reference and non-positive times', () => {
    assert.throws(() => fewShotTable({ reference, device: newDevice, measured: { 'conv_k3_s1_i1_o7_h9x9_e1_relu': 1 } }), /not in the reference table/);
    assert.throws(() => fewShotTable({ reference, device: newDevice, measured: { [keys[0]]: -1 } }), /positive/);
    assert.throws(() => fewShotTable({ reference, device: newDevice, measured: {} }), /at least one/);
  });
});
