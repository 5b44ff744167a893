// The start-up latency check of `nas serve`: predicted and measured latency of
// one check network on a local device, both truths (reference-interleaved x
// the reference's wall time now, plain wall clock) with their ratios, and
// the table in force.

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

  it('node-tflite-wasm: predicts and measures the proxy-small check network and prints both truths with their ratios', async () => {
    const c = await checkHostLatency('node-tflite-wasm');
    assert.ok(c.predictedMs > 0 && Number.isFinite(c.predictedMs));
    assert.ok(c.measuredMs > 0 && Number.isFinite(c.measuredMs));
    assert.ok(c.referenceMs > 0 && Math.abs(c.measuredMs - c.measuredRatio * c.referenceMs) < 1e-12);
    assert.equal(c.ratio, c.measuredMs / c.predictedMs);
    assert.ok(c.wallMs === null ? typeof c.wallRefused === 'string' : c.wallRatio === c.wallMs / c.predictedMs);
    assert.equal(c.table.kind, 'shipped');
    const line = formatHostLatencyCheck(c);
    assert.match(line, /^latency check on node-tflite-wasm \(proxy-small 28x28x1; table: shipped \(measured .*\)\): predicted \d+\.\d{3} ms, measured \d+\.\d{3} ms \(\d+\.\d{3} x the reference network, interleaved; reference \d\.\d{4} ms now\), ratio \d+\.\d{3} \((NOT )?within 10%\); plain wall clock /);
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
