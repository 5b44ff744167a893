// The profiling page's measuring loop (web/profile/profile.js, measureSuite) on a simulated device with a
// simulated clock: a device that, for a stretch, runs in another state (the reference twice as slow, a
// network's relative cost different) must not give that network the other state's ratio. The page sets
// aside the rounds whose reference ran off its usual speed and measures more rounds; with the gate off
// (referenceGate 0) the stretch's rounds decide the median.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import vm from 'node:vm';

interface FakeModel { name: string; costMs: number }
interface Stretch { model: string; lastsMs: number; refFactor: number; modelFactor: number }

/** A page context whose tf/tflite run fake models on a simulated clock; `stretch` starts when its model is loaded. */
function fakePage(costs: Record<string, number>, stretch?: Stretch, loads: string[] = []) {
  let clock = 0;
  let oddUntil = -1;
  class Tensor { dataSync() { return [0]; } }
  const tf = {
    Tensor,
    randomUniform: () => ({ dispose() {} }),
    dispose() {},
  };
  const tflite = {
    loadTFLiteModel: async (buf: ArrayBuffer) => {
      const name = new TextDecoder().decode(buf);
      loads.push(name);
      if (stretch && name === stretch.model) oddUntil = clock + stretch.lastsMs;
      const m: FakeModel = { name, costMs: costs[name] };
      return {
        predict: () => {
          const odd = clock < oddUntil;
          clock += m.costMs * (odd ? (m.name === 'reference' ? stretch!.refFactor : stretch!.modelFactor) : 1);
          return new Tensor();
        },
      };
    },
  };
  const elements = new Map<string, Record<string, unknown>>();
  const el = (id: string) => {
    if (!elements.has(id)) elements.set(id, { textContent: '', dataset: {}, value: '', checked: false, hidden: false, addEventListener() {} });
    return elements.get(id)!;
  };
  const ctx: Record<string, unknown> = {
    tf, tflite, URLSearchParams, TextDecoder,
    performance: { now: () => clock },
    document: { getElementById: el, querySelector: () => null },
    location: { search: '', pathname: '/profile/' },
    history: { replaceState() {} },
    navigator: { userAgent: 'test', hardwareConcurrency: 2, platform: 'test' },
    fetch: async (url: string) => ({ ok: true, status: 200, arrayBuffer: async () => new TextEncoder().encode(url).buffer }),
  };
  ctx.window = ctx;
  ctx.self = ctx;
  vm.createContext(ctx);
  vm.runInContext(readFileSync(new URL('../../web/profile/profile.js', import.meta.url), 'utf8'), ctx);
  return (ctx.window as { nasProfile: { measureSuite: (m: unknown, o: unknown) => Promise<Suite> } }).nasProfile;
}

interface Suite {
  models: Record<string, { samplesMs: number[]; referenceMs?: number[] }>;
  setAside: number;
  remeasured: number;
  unsteady: number;
}

const COSTS: Record<string, number> = { reference: 0.25, baseline: 0.01, k1: 0.5, k2: 1.0, k3: 2.0, k4: 0.75, k5: 1.5 };
const model = (id: string) => ({ id, file: id, input: [1, 1, 1] });
const manifest = (referenceGate?: number) => ({
  measure: { warmup: 5, repeats: 7, batchMs: 40, reference: 'reference', ...(referenceGate === undefined ? {} : { referenceGate }) },
  reference: model('reference'), baseline: model('baseline'),
  kernels: ['k1', 'k2', 'k3', 'k4', 'k5'].map(model), networks: [],
});
const ratioOf = (s: Suite, id: string) => {
  const r = s.models[id].samplesMs.map((x, i) => x / s.models[id].referenceMs![i]).sort((a, b) => a - b);
  return r[r.length >> 1];
};
// k3 loads, then for 1.5 s (about 12 rounds of a 40 ms batch of k3 and a 40 ms one of the reference, both slower) the
// reference runs 2x slower and k3 1.2x: longer than the 7 rounds a model gets, shorter than the 21 it may get
const STRETCH: Stretch = { model: 'k3', lastsMs: 1500, refFactor: 2, modelFactor: 1.2 };

describe('profiling page: rounds taken while the device ran off its usual speed', () => {
  it('a steady device: every model gets its rounds, nothing set aside, the ratios are the true relative costs', async () => {
    const page = fakePage(COSTS);
    const s = await page.measureSuite(manifest(0.05), { fileUrl: (m: { file: string }) => m.file });
    assert.equal(s.setAside, 0, 'a steady device has no round off its usual speed');
    assert.equal(s.remeasured, 0, 'a steady device needs no extra rounds');
    for (const k of ['k1', 'k2', 'k3', 'k4', 'k5']) {
      assert.equal(s.models[k].samplesMs.length, 7, `${k}: 7 rounds`);
      assert.ok(Math.abs(ratioOf(s, k) / (COSTS[k] / COSTS.reference) - 1) < 0.02, `${k}: ratio ${ratioOf(s, k)} vs ${COSTS[k] / COSTS.reference}`);
    }
  });

  it('a stretch in another state: its rounds are set aside and more are measured, so the ratio is the usual state\'s; without the gate it is the stretch\'s', async () => {
    const truth = COSTS.k3 / COSTS.reference;
    const gated = await fakePage(COSTS, STRETCH).measureSuite(manifest(0.05), { fileUrl: (m: { file: string }) => m.file });
    assert.ok(gated.setAside >= 4, `the stretch's rounds are set aside (${gated.setAside})`);
    assert.ok(gated.remeasured >= 1, 'k3 is given more rounds');
    assert.equal(gated.unsteady, 0, 'k3 has rounds at the usual speed');
    assert.ok(gated.models.k3.samplesMs.length >= 4, `k3 uploads only its kept rounds (${gated.models.k3.samplesMs.length})`);
    assert.ok(Math.abs(ratioOf(gated, 'k3') / truth - 1) < 0.02, `gated k3 ratio ${ratioOf(gated, 'k3')} vs ${truth}`);
    for (const k of ['k1', 'k2', 'k4', 'k5']) assert.ok(Math.abs(ratioOf(gated, k) / (COSTS[k] / COSTS.reference) - 1) < 0.02, `${k} unaffected`);

    const open = await fakePage(COSTS, STRETCH).measureSuite(manifest(0.05), { fileUrl: (m: { file: string }) => m.file, referenceGate: 0 });
    assert.equal(open.setAside, 0, 'referenceGate 0 keeps every round');
    assert.ok(Math.abs(ratioOf(open, 'k3') / truth - 1) > 0.3, `without the gate k3 takes the stretch's ratio (${ratioOf(open, 'k3')} vs ${truth})`);
  });

  it('a manifest without a gate (an older bundle) keeps every round', async () => {
    const s = await fakePage(COSTS, STRETCH).measureSuite(manifest(), { fileUrl: (m: { file: string }) => m.file });
    assert.equal(s.setAside, 0, 'no referenceGate in the manifest: no round set aside');
  });

  it('a device that never returns to its usual speed during a model: all its rounds count, and it is counted as unsteady', async () => {
    const s = await fakePage(COSTS, { ...STRETCH, lastsMs: 60_000 }).measureSuite(manifest(0.05), { fileUrl: (m: { file: string }) => m.file });
    assert.ok(s.unsteady >= 1, `unsteady models counted (${s.unsteady})`);
    assert.equal(s.models.k3.samplesMs.length, 21, 'k3 got 3 x 7 rounds, all of them uploaded');
  });

  it('the quick suite spreads its networks evenly through the kernels, so a drift during the run reaches both alike', async () => {
    const costs: Record<string, number> = { reference: 0.25, baseline: 0.01 };
    const kernels = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const networks = ['n0', 'n1', 'n2'];
    for (const id of [...kernels, ...networks]) costs[id] = 0.5;
    const loads: string[] = [];
    const m = { ...manifest(0.05), kernels: kernels.map(model), networks: networks.map(model) };
    await fakePage(costs, undefined, loads).measureSuite(m, { fileUrl: (x: { file: string }) => x.file, spreadNetworks: true });
    assert.deepEqual(loads, ['reference', 'baseline', 'n0', 'k0', 'k1', 'k2', 'k3', 'n1', 'k4', 'k5', 'k6', 'k7', 'n2', 'k8', 'k9', 'k10', 'k11'], 'kernels in their order, a network every 4 kernels');
    const plain: string[] = [];
    await fakePage(costs, undefined, plain).measureSuite(m, { fileUrl: (x: { file: string }) => x.file });
    assert.deepEqual(plain.slice(-3), networks, 'without spreadNetworks the networks come last');
  });
});
