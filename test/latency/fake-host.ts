// Fake hosts for the latency tests: a deterministic "table machine" (the
// fake runtime, profiled with the reference network like a real table) and
// fake hosts whose per-call time differs from it by a scale, a per-call
// overhead, per-class distortions of relative costs (a foreign CPU), phases
// where the whole host runs 2x slower (a shared machine's speed swings), or
// noise. Times are reported, not spent, so tests stay fast and exact.

import type { DeviceProfile } from '../../src/latency/device.ts';
import { decomposePlan } from '../../src/latency/kernels.ts';
import { profileDevice } from '../../src/latency/profile.ts';
import { createMeasurer, type LatencyRuntime } from '../../src/latency/runtime.ts';
import { createFakeRuntime, fakeKernelMs } from '../../src/latency/runtimes/fake.ts';
import { kernelClass, type KernelClass } from '../../src/latency/strata.ts';
import type { LatencyTable } from '../../src/latency/table.ts';
import type { NetworkPlan } from '../../src/space/network.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

export const input28 = { height: 28, width: 28, channels: 1 };
export const fakeDevice: DeviceProfile = { id: 'fake-host', name: 'fake', runtime: 'fake', runtimeVersion: 'fake (built in)', threads: 1, cpu: 'none' };

/** A table of the fake runtime measured like a real one (ratios to the reference network x its latency). */
export async function fakeTable(o: { maxKernels?: number; device?: DeviceProfile } = {}): Promise<LatencyTable> {
  return profileDevice({
    device: o.device ?? fakeDevice, measurer: await createMeasurer(createFakeRuntime(), { repeats: 3, warmup: 0 }),
    targets: [{ skeleton: SKELETON_SMALL, input: input28 }], numClasses: 10, maxKernelsPerTarget: o.maxKernels ?? 2000, calibrationNetworks: 8, seed: 3,
  });
}

export interface HostOptions {
  /** host ms per fake ms (default 1) */
  scale?: number;
  /** ms per call on top (default 0) */
  overheadMs?: number;
  /** per-class factor on kernel times: a CPU whose relative costs differ from the table's */
  distort?: Partial<Record<KernelClass, number>>;
  /** the whole host runs 2x slower during every other phase of this many simulated ms */
  phaseMs?: number;
  /** per prepared model (1-based count): a factor on its time (a network hit by load while it was measured) */
  perModel?: (prepared: number, plan: NetworkPlan) => number;
  /** per call of a model: a factor on its time (e.g. inconsistent repeats) */
  perCall?: (call: number, prepared: number) => number;
  /** a network's base cost (default: its kernels by fakeKernelMs, each distorted by class) */
  planMs?: (plan: NetworkPlan) => number;
}

export type FakeHost = LatencyRuntime & { prepared: number; simMs: number; calls: number };

/** The host's own time for a plan before phases: scale x distorted kernel sum + overhead. */
export function hostPlanMs(plan: NetworkPlan, o: HostOptions = {}): number {
  const base = o.planMs?.(plan) ?? decomposePlan(plan).reduce((s, d) => s + fakeKernelMs(d.kernel) * (o.distort?.[kernelClass(d.kernel)] ?? 1), 0.05);
  return (o.scale ?? 1) * base + (o.overheadMs ?? 0);
}

export function fakeHost(o: HostOptions = {}): FakeHost {
  const host: FakeHost = {
    id: 'fake', version: 'fake-host', threads: 1, prepared: 0, simMs: 0, calls: 0,
    async prepare(plan) {
      const n = ++host.prepared;
      const ms = hostPlanMs(plan, o) * (o.perModel?.(n, plan) ?? 1);
      let call = 0;
      return {
        timeBatch: (count: number) => {
          const phase = o.phaseMs !== undefined && Math.floor(host.simMs / o.phaseMs) % 2 === 1 ? 2 : 1;
          const per = ms * phase * (o.perCall?.(call++, n) ?? 1);
          host.simMs += per * count;
          host.calls++;
          return per;
        },
        dispose() {},
      };
    },
    async close() {},
  };
  return host;
}
