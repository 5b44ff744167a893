// Fake runtime with a deterministic cost, for tests only: each kernel costs
// a fixed function of its MACs and memory traffic, a network adds a fixed
// per-inference overhead, and repeats are identical. A `scale` per kernel op
// makes "another device" for few-shot tests.

import type { NetworkPlan } from '../../space/network.ts';
import { decomposePlan, kernelIoElems, kernelMacs, type Kernel, type KernelOp } from '../kernels.ts';
import type { LatencyRuntime, PreparedModel } from '../runtime.ts';

export interface FakeRuntimeOptions {
  /** ms per inference call, whatever the network (default 0.05) */
  overheadMs?: number;
  /** multiplier per kernel op (default 1) */
  scale?: Partial<Record<KernelOp, number>>;
  /** GMAC/s (default 2) */
  gmacPerS?: number;
}

export function fakeKernelMs(k: Kernel, opts: FakeRuntimeOptions = {}): number {
  const gmac = opts.gmacPerS ?? 2;
  const io = kernelIoElems(k);
  const base = kernelMacs(k) / (gmac * 1e6) + (io.inElems + io.outElems) * 4e-7 + 0.004;
  return base * (opts.scale?.[k.op] ?? 1);
}

export function fakePlanMs(plan: NetworkPlan, opts: FakeRuntimeOptions = {}): number {
  return decomposePlan(plan).reduce((s, d) => s + fakeKernelMs(d.kernel, opts), opts.overheadMs ?? 0.05);
}

export function createFakeRuntime(opts: FakeRuntimeOptions = {}): LatencyRuntime {
  return {
    id: 'fake',
    version: 'fake-1',
    threads: 1,
    async prepare(plan: NetworkPlan): Promise<PreparedModel> {
      const ms = fakePlanMs(plan, opts);
      return { timeBatch: () => ms, dispose() {} };
    },
    async close() {},
  };
}
