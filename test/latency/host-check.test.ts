// The start-up latency check of `nas serve`: predicted and measured latency of
// one check network on a local device, side by side with their ratio.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setDataDir } from '../../src/config/paths.ts';
import { checkHostLatency, formatHostLatencyCheck } from '../../src/latency/host-check.ts';

describe('host latency check (nas serve start-up)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nas-hostcheck-'));
  setDataDir(dir);
  after(() => {
    setDataDir(undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('node-tflite-wasm: predicts and measures the proxy-small check network and prints both with the ratio', async () => {
    const c = await checkHostLatency('node-tflite-wasm');
    assert.ok(c.predictedMs > 0 && Number.isFinite(c.predictedMs));
    assert.ok(c.measuredMs > 0 && Number.isFinite(c.measuredMs));
    assert.equal(c.ratio, c.measuredMs / c.predictedMs);
    const line = formatHostLatencyCheck(c);
    assert.match(line, /^latency check on node-tflite-wasm \(proxy-small 28x28x1\): predicted \d+\.\d{3} ms, measured \d+\.\d{3} ms, ratio \d+\.\d{3} /);
    // the suite runs with NAS_HOST_CALIBRATION=cached and a fresh data dir: no calibration, and the line says so
    if (process.env.NAS_HOST_CALIBRATION === 'cached') assert.match(line, /calibration: NONE/);
  });

  it('an unknown device is a 4xx error naming it', async () => {
    await assert.rejects(checkHostLatency('no-such-phone'), (e: Error & { status?: number }) => {
      assert.ok(e.status !== undefined && e.status >= 400 && e.status < 500);
      assert.match(e.message, /no-such-phone/);
      return true;
    });
  });
});
