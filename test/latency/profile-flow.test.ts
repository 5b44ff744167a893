// The remote profiling flow's library parts: the bundle and the upload's
// bad-input rules. The served flow (page in headless Chromium -> API ->
// table version) is tested in test/http/profile-page.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { writeBundle, type BundleManifest } from '../../src/latency/bundle.ts';
import { resultsToTable, type ProfileResults } from '../../src/latency/upload.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

const input = { height: 28, width: 28, channels: 1 };

describe('remote profiling flow', () => {
  let dir: string;
  let manifest: BundleManifest;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    manifest = writeBundle(dir, { targets: [{ skeleton: SKELETON_SMALL, input }], numClasses: 10, maxKernelsPerTarget: 10, calibrationNetworks: 5, repeats: 5 });
  });

  const fakeUpload = (ms: (id: string, round: number) => number): ProfileResults => {
    const models: ProfileResults['models'] = {};
    const all = [manifest.reference, manifest.baseline, ...manifest.kernels, ...manifest.networks];
    for (const m of all) {
      models[m.id] = { samplesMs: [0, 1, 2, 3, 4].map((r) => ms(m.id, r)), ...(m.id === 'reference' ? {} : { referenceMs: [0.2, 0.2, 0.21, 0.2, 0.19] }) };
    }
    return { format: 'nas-profile-results', formatVersion: 1, bundleId: manifest.bundleId, device: { id: 'up-dev', name: 'x', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 1, cpu: 'arm' }, models };
  };

  it('bundle: manifest lists reference, baseline, kernels and networks, each a .tflite file', () => {
    assert.equal(manifest.kernels.length, 10);
    assert.equal(manifest.networks.length, 5);
    for (const m of [manifest.reference, manifest.baseline, ...manifest.kernels, ...manifest.networks]) {
      const bytes = readFileSync(join(dir, m.file));
      assert.equal(bytes.subarray(4, 8).toString('latin1'), 'TFL3', m.file);
    }
  });

  it('upload: a complete, consistent upload becomes a table', () => {
    const t = resultsToTable(manifest, fakeUpload((id, r) => 0.5 + 0.01 * r));
    assert.equal(Object.keys(t.entries).length, 10);
    assert.ok(Object.values(t.entries).every((e) => e.latencyMs > 0));
  });

  it('upload: partial, negative, NaN, inconsistent, foreign bundle are rejected with the reason', () => {
    const ok = fakeUpload(() => 0.5);
    const partial = structuredClone(ok);
    delete partial.models[manifest.kernels[3].id];
    assert.throws(() => resultsToTable(manifest, partial), /partial: 1 of 17 models missing/);
    assert.throws(() => resultsToTable(manifest, fakeUpload((id) => (id === manifest.kernels[0].id ? -1 : 0.5))), /negative/);
    assert.throws(() => resultsToTable(manifest, fakeUpload((id) => (id === manifest.kernels[1].id ? Number.NaN : 0.5))), /not finite/);
    assert.throws(() => resultsToTable(manifest, fakeUpload((id, r) => (id === manifest.kernels[2].id ? [0.1, 5, 0.1, 9, 7][r] : 0.5))), /inconsistent/);
    assert.throws(() => resultsToTable(manifest, { ...ok, bundleId: 'other' }), /not [0-9a-f]{16}/);
    assert.throws(() => resultsToTable(manifest, { ...ok, device: { ...ok.device, runtime: 'nope' } }), /unknown runtime/);
  });
});
