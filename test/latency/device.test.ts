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
