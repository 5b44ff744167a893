import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceProfile } from '../../src/latency/device.ts';
import { createPredictor } from '../../src/latency/predictor.ts';
import { profileDevice } from '../../src/latency/profile.ts';
import { createMeasurer } from '../../src/latency/runtime.ts';
import { createFakeRuntime, fakePlanMs } from '../../src/latency/runtimes/fake.ts';
import { loadTable, saveTable, TableError, type LatencyTable } from '../../src/latency/table.ts';
import { expandNetwork } from '../../src/space/network.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

const input = { height: 28, width: 28, channels: 1 };
const device: DeviceProfile = { id: 'fake-dev', name: 'fake', runtime: 'fake', runtimeVersion: 'fake-1', threads: 1, cpu: 'none' };

async function fakeTable(maxKernels?: number): Promise<LatencyTable> {
  const measurer = await createMeasurer(createFakeRuntime(), { repeats: 5, warmup: 0 });
  return profileDevice({ device, measurer, targets: [{ skeleton: SKELETON_SMALL, input }], numClasses: 10, calibrationNetworks: 12, maxKernelsPerTarget: maxKernels });
}

describe('predictor on the fake runtime', async () => {
  const full = await fakeTable();

  it('full table: coverage 1 and predictions within 1% of the deterministic cost', () => {
    const p = createPredictor(full);
    const rng = createRng(42);
    for (let i = 0; i < 25; i++) {
      const spec = sampleArch(SKELETON_SMALL, rng);
      const r = p.predict(spec, input, 10);
      const truth = fakePlanMs(expandNetwork(spec, input, 10));
      assert.equal(r.coverage, 1);
      assert.ok(Math.abs(r.latencyMs / truth - 1) < 0.01, `predicted ${r.latencyMs} vs ${truth}`);
      assert.ok(r.kernels.every((k) => k.source === 'table' && k.latencyMs > 0));
    }
  });

  it('partial table: misses come from the regression (never 0 ms), coverage says so', async () => {
    const part = await fakeTable(600);
    const p = createPredictor(part);
    const rng = createRng(7);
    let sawMiss = false;
    for (let i = 0; i < 15; i++) {
      const spec = sampleArch(SKELETON_SMALL, rng);
      const r = p.predict(spec, input, 10);
      const misses = r.kernels.filter((k) => k.source === 'regression');
      assert.ok(Math.abs(r.coverage - (1 - misses.length / r.kernels.length)) < 1e-12);
      assert.ok(misses.every((k) => k.latencyMs > 0 && Number.isFinite(k.latencyMs)));
      sawMiss ||= misses.length > 0;
      const truth = fakePlanMs(expandNetwork(spec, input, 10));
      assert.ok(Math.abs(r.latencyMs / truth - 1) < 0.25, `predicted ${r.latencyMs} vs ${truth}`);
    }
    assert.ok(sawMiss);
  });

  it('odd channel counts (NetAdapt) are predicted by the regression, close to the cost', () => {
    const spec = sampleArch(SKELETON_SMALL, createRng(5));
    spec.blocks[3] = { ...spec.blocks[3], channels: spec.blocks[3].channels - 3 };
    const r = createPredictor(full).predict(spec, input, 10);
    assert.ok(r.coverage < 1);
    const truth = fakePlanMs(expandNetwork(spec, input, 10));
    assert.ok(Math.abs(r.latencyMs / truth - 1) < 0.1, `predicted ${r.latencyMs} vs ${truth}`);
  });

  it('tables: saved atomically, reloaded; a bad table never replaces a good one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lat-'));
    const path = saveTable(full, dir);
    const before = readFileSync(path, 'utf8');
    const t = loadTable('fake-dev', dir);
    assert.equal(Object.keys(t.entries).length, Object.keys(full.entries).length);
    const bad = structuredClone(full);
    bad.entries[Object.keys(bad.entries)[0]].latencyMs = -1;
    assert.throws(() => saveTable(bad, dir), /not a positive number/);
    const nan = structuredClone(full);
    nan.entries[Object.keys(nan.entries)[0]].latencyMs = Number.NaN;
    assert.throws(() => saveTable(nan, dir), TableError);
    assert.throws(() => saveTable({ ...full, entries: {} }, dir), /no entries/);
    assert.equal(readFileSync(path, 'utf8'), before);
  });

  it('rejects a table of another search space version and unknown devices', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lat-'));
    writeFileSync(join(dir, 'fake-dev.json'), JSON.stringify({ ...full, spaceVersion: 'mnas-arch-v0' }));
    assert.throws(() => loadTable('fake-dev', dir), /search space version "mnas-arch-v0"/);
    assert.throws(() => loadTable('nope', dir), /no latency table for device "nope"/);
    assert.ok(!existsSync(join(dir, 'nope.json')));
  });
});
