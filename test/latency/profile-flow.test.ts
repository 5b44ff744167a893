// The remote profiling flow's library parts: the bundle and the upload's
// bad-input rules, for the full suite and the quick one (a stratified subset
// whose upload becomes a table transferred from a measured table, refused
// when a class has no measured kernel). The served flow (page in headless
// Chromium -> API -> table version) is tested in test/http/profile-page.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { shippedPaths } from '../../src/config/paths.ts';
import { writeBundle, type BundleManifest } from '../../src/latency/bundle.ts';
import { tableHash } from '../../src/latency/calibration.ts';
import { parseKernelKey } from '../../src/latency/kernels.ts';
import { kernelClass } from '../../src/latency/strata.ts';
import { loadTable } from '../../src/latency/table.ts';
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

  const fakeUploadAll = (): ProfileResults => fakeUpload(() => 0.5);
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

  describe('quick suite', () => {
    const transferFrom = loadTable('node-tflite-wasm', shippedPaths.latencyTables);
    let qdir: string;
    let quick: BundleManifest;
    before(() => {
      qdir = mkdtempSync(join(tmpdir(), 'bundle-quick-'));
      quick = writeBundle(qdir, { targets: [{ skeleton: SKELETON_SMALL, input }], numClasses: 10, calibrationNetworks: 6, repeats: 5, quick: { transferFrom, maxKernels: 14, presets: false } });
    });
    const quickUpload = (keep: (id: string) => boolean = () => true): ProfileResults => {
      const models: ProfileResults['models'] = {};
      for (const m of [quick.reference, quick.baseline, ...quick.kernels, ...quick.networks]) {
        if (!keep(m.id)) continue;
        // a device 2x slower than the transfer table, relative to its reference
        const ms = m.id === 'reference' ? 0.2 : m.id === 'baseline' ? 0.01 : 0.2 * (transferFrom.entries[m.id] ? 2 * transferFrom.entries[m.id].latencyMs / transferFrom.measure.referenceMs : 3 + m.id.length % 7);
        models[m.id] = { samplesMs: [ms, ms * 1.01, ms, ms * 0.99, ms], ...(m.id === 'reference' ? {} : { referenceMs: [0.2, 0.2, 0.2, 0.2, 0.2] }) };
      }
      return { format: 'nas-profile-results', formatVersion: 1, bundleId: quick.bundleId, device: { id: 'phone-q', name: 'x', runtime: 'tflite-browser', runtimeVersion: 'b', threads: 1, cpu: 'arm' }, models, elapsedS: 321 };
    };

    it('the manifest names the transfer table and every class; its first kernels reach every class', () => {
      assert.equal(quick.mode, 'quick');
      assert.deepEqual(quick.transfer, { deviceId: 'node-tflite-wasm', tableHash: tableHash(transferFrom) });
      assert.deepEqual(quick.classes, ['add@28x28x1', 'conv1x1@28x28x1', 'conv@28x28x1', 'dense@28x28x1', 'dwconv@28x28x1', 'gap@28x28x1', 'se@28x28x1']);
      assert.equal(quick.kernels.length, 14);
      const cls = (id: string) => `${kernelClass(parseKernelKey(id))}@28x28x1`;
      assert.deepEqual(new Set(quick.kernels.slice(0, 7).map((k) => cls(k.id))), new Set(quick.classes));
      assert.equal(quick.networks.length, 6);
    });

    it('an upload becomes a transferred table: measured kernels as measured, every other kernel mapped, coverage per class, expected accuracy', () => {
      const t = resultsToTable(quick, quickUpload(), { transferFrom });
      const p = t.provenance!;
      assert.equal(p.kind, 'transferred');
      assert.equal(p.measuredKernels, 14);
      assert.equal(p.totalKernels, Object.keys(t.entries).length);
      assert.ok(p.totalKernels > 2000, `${p.totalKernels} kernels`);
      assert.ok(p.classes.every((c) => c.measured >= 1), JSON.stringify(p.classes));
      assert.equal(p.source?.deviceId, 'node-tflite-wasm');
      assert.equal(p.measuredS, 321);
      assert.ok(p.expectedAccuracy && p.expectedAccuracy.networks === 6 && p.expectedAccuracy.within10 >= 0 && p.expectedAccuracy.within10 <= 1);
      // a mapped kernel: about twice its transfer-table time relative to the reference (the device's ratio)
      const mapped = Object.keys(t.entries).find((k) => !quick.kernels.some((q) => q.id === k) && k.startsWith('conv_k3'))!;
      const ratio = (t.entries[mapped].latencyMs / t.measure.referenceMs) / (transferFrom.entries[mapped].latencyMs / transferFrom.measure.referenceMs);
      assert.ok(ratio > 1.5 && ratio < 2.6, `mapped ${mapped}: ${ratio}`);
      assert.ok(t.overhead && Number.isFinite(t.overhead.slope));
    });

    it('an upload that leaves a class out is refused naming the missing classes; kernels left out otherwise are fine', () => {
      const seKeys = quick.kernels.filter((k) => k.id.startsWith('se_')).map((k) => k.id);
      assert.throws(() => resultsToTable(quick, quickUpload((id) => !seKeys.includes(id)), { transferFrom }), /quick results do not cover every class: no kernel measured for se@28x28x1 \(6 of 7 classes measured\); no table written/);
      assert.throws(() => resultsToTable(quick, quickUpload((id) => !id.startsWith('se_') && !id.startsWith('gap_')), { transferFrom }), /no kernel measured for gap@28x28x1, se@28x28x1 \(5 of 7/);
      // one kernel of each class is enough
      const second = new Set(quick.kernels.slice(7).map((k) => k.id));
      assert.equal(resultsToTable(quick, quickUpload((id) => !second.has(id)), { transferFrom }).provenance!.measuredKernels, 7);
      // a kernel whose repeats disagree is left out (named in the provenance); its class's only one is kept, named as noisy
      const wild = (u: ProfileResults, id: string) => ((u.models[id].samplesMs = [0.1, 5, 0.1, 9, 7]), u);
      const dense = quick.kernels.filter((k) => k.id.startsWith('dense_')).map((k) => k.id);
      const conv = quick.kernels.filter((k) => k.id.startsWith('conv_k3')).map((k) => k.id);
      assert.ok(dense.length === 1 && conv.length >= 2, `${dense} / ${conv}`);
      assert.deepEqual(resultsToTable(quick, wild(quickUpload(), conv[0]), { transferFrom }).provenance!.dropped, [conv[0]]);
      const kept = resultsToTable(quick, wild(quickUpload(), dense[0]), { transferFrom }).provenance!;
      assert.deepEqual([kept.keptNoisy, kept.dropped, kept.measuredKernels], [[dense[0]], undefined, quick.kernels.length]);
      // ... and a class with no kernel measured at all is still refused, naming the kernels left out for disagreeing
      assert.throws(() => resultsToTable(quick, wild(quickUpload((id) => !seKeys.includes(id)), conv[0]), { transferFrom }),
        new RegExp(`no kernel measured for se@28x28x1 .*; left out for repeats that disagree: ${conv[0]}; no table written`));
      // the empty model's rounds may disagree (a call of nothing on a coarse clock): its median is kept
      assert.equal(resultsToTable(quick, wild(quickUpload(), 'baseline'), { transferFrom }).provenance!.kind, 'transferred');
      assert.throws(() => resultsToTable(manifest, wild(fakeUploadAll(), 'baseline')), /model baseline: repeats are inconsistent/, 'the full suite keeps the limit');
      // networks too, while 6 remain (this suite has 6: refused; a suite of 8 keeps 7)
      assert.throws(() => resultsToTable(quick, wild(quickUpload(), 'net2'), { transferFrom }), /model net2: repeats are inconsistent/);
      const eight = writeBundle(mkdtempSync(join(tmpdir(), 'bundle-quick8-')), { targets: [{ skeleton: SKELETON_SMALL, input }], numClasses: 10, calibrationNetworks: 8, repeats: 5, quick: { transferFrom, maxKernels: 7, presets: false } });
      const saved = quick;
      quick = eight;
      try {
        const t8 = resultsToTable(eight, wild(quickUpload(), 'net2'), { transferFrom });
        assert.deepEqual(t8.provenance!.dropped, ['net2']);
        assert.equal(t8.provenance!.expectedAccuracy!.networks, 7);
      } finally {
        quick = saved;
      }
      assert.throws(() => resultsToTable(quick, quickUpload((id) => id !== 'net3'), { transferFrom }), /results are partial: 1 of 8 reference, baseline and network models missing \(e\.g\. net3\)/);
      assert.throws(() => resultsToTable(quick, quickUpload(), { transferFrom: { ...transferFrom, createdAt: 'changed' } }), /transfers from node-tflite-wasm \(table [0-9a-f]{16}\), which this service no longer has/);
    });
  });
});
