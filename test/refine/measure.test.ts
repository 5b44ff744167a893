import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadPredictor } from '../../src/latency/index.ts';
import { measureOnDevice } from '../../src/refine/measure.ts';
import { parseArchString } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

// An odd-channel network (NetAdapt output): every kernel goes through the predictor's regression.
const spec = parseArchString('stem_k3_s1_c13 ir_r1_k3_s1_e1_c13 ir_r2_k3_s2_e6_c19 ir_r2_k5_s2_e6_c37_se0.25 head_c101', { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head });
const input = { height: 28, width: 28, channels: 1 };

describe('measurement on the device runtime', () => {
  it('odd channels c13/c19/c37/c101 at 28x28x1 on node-tflite-wasm: table-unit measurement near the regression prediction', async () => {
    const p = loadPredictor('node-tflite-wasm', { calibration: 'off' }).predict(spec, input, 10);
    assert.equal(p.coverage, 0, 'the odd-channel kernels are not in the table');
    const m = await measureOnDevice('node-tflite-wasm', spec, input, 10, { unit: 'table' });
    assert.ok(m.measured);
    if (!m.measured) return;
    assert.match(m.runtime, /table unit/);
    // bench/refine-odd-channels.ts: median |error| 4.1%, max 8.4% over 10 networks; a loose bound here
    assert.ok(Math.abs(p.latencyMs - m.latencyMs) / m.latencyMs < 0.5, `predicted ${p.latencyMs}, measured ${m.latencyMs}`);
  });

  it('host-ms unit measures wall clock with the calibration method', async () => {
    const m = await measureOnDevice('node-tflite-wasm', spec, input, 10, { unit: 'host-ms' });
    assert.ok(m.measured && m.latencyMs > 0 && /wall clock/.test(m.runtime));
  });
});
