import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listDevices, loadDevice, validateDeviceProfile } from '../../src/latency/device.ts';

describe('device profiles', () => {
  it('the committed profiles validate', () => {
    const ids = listDevices().map((d) => d.id);
    assert.ok(ids.includes('node-tflite-wasm'));
    assert.ok(ids.includes('node-tfjs-wasm'));
    assert.equal(loadDevice('node-tflite-wasm').runtime, 'tflite-wasm');
  });

  it('unknown device: error lists the known ones, status 404', () => {
    assert.throws(() => loadDevice('pixel-9'), (e: Error & { status?: number }) => /unknown device "pixel-9" \(known: .*node-tflite-wasm/.test(e.message) && e.status === 404);
    assert.throws(() => loadDevice('../etc/passwd'), /unknown device/);
  });

  it('rejects bad fields with a message naming them', () => {
    const ok = { id: 'p', name: 'P', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 1, cpu: 'arm' };
    assert.deepEqual(validateDeviceProfile(ok), ok);
    assert.throws(() => validateDeviceProfile({ ...ok, runtime: 'coreml' }), /unknown runtime "coreml"/);
    assert.throws(() => validateDeviceProfile({ ...ok, threads: 0 }), /"threads"/);
    assert.throws(() => validateDeviceProfile({ ...ok, id: 'Bad Id' }), /id "Bad Id"/);
    assert.throws(() => validateDeviceProfile({ ...ok, color: 'red' }), /unknown field\(s\) color/);
  });
});

describe('committed tables', () => {
  it('every local device has a table that validates and predicts the mnasnet-style presets', async () => {
    const { loadPredictor } = await import('../../src/latency/index.ts');
    const { getPreset } = await import('../../src/space/presets.ts');
    const { createRng } = await import('../../src/space/rng.ts');
    const { sampleArch } = await import('../../src/space/sampler.ts');
    const { SKELETON_SMALL } = await import('../../src/space/skeleton.ts');
    const { existsSync } = await import('node:fs');
    for (const id of ['node-tflite-wasm', 'node-tfjs-wasm']) {
      if (!existsSync(`latency-tables/${id}.json`)) continue;
      const p = loadPredictor(id);
      const r = p.predict(sampleArch(SKELETON_SMALL, createRng(8)), { height: 28, width: 28, channels: 1 }, 10);
      assert.equal(r.coverage, 1, `${id}: a network of the space is fully covered`);
      assert.ok(r.latencyMs > 0);
      const m = p.predict(getPreset('mobilenet-v2'), { height: 32, width: 32, channels: 3 }, 10);
      assert.ok(m.latencyMs > 0 && m.coverage > 0 && m.coverage < 1);
    }
    assert.throws(() => loadPredictor('no-such-device'), /unknown device/);
  });
});
