import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nas-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function nas(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NAS_THREADS: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const ARCH = 'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 ir_r1_k5_s2_e3_c12_se0.25_hswish ds_r1_k3_s2_c16_relu6 head_c32';

describe('nas pipeline (main job, end to end on tiny data)', () => {
  it('predicts latency, trains, exports float32/int8/TF.js verified in the interpreter, writes a summary', () => {
    const out = join(dir, 'ok');
    const r = nas('pipeline', '--arch', ARCH, '--dataset', 'synthetic', '--epochs', '1', '--device', 'node-tflite-wasm', '--latency-target-ms', '1000', '--out', out);
    assert.equal(r.code, 0, r.err + r.out);
    const ids = readdirSync(out);
    assert.equal(ids.length, 1);
    const s = JSON.parse(readFileSync(join(out, ids[0], 'pipeline.json'), 'utf8'));
    assert.equal(s.archId, ids[0]);
    assert.ok(s.predictedLatency.latencyMs > 0);
    assert.ok(s.accuracy.validation >= 0 && s.accuracy.validation <= 1);
    for (const f of ['tflite', 'tflite-int8', 'tfjs']) {
      assert.equal(s.exports[f].verification.passed, true, f);
      assert.ok(existsSync(s.exports[f].card), `${f} model card`);
    }
    assert.ok(s.exports.tflite.measuredLatency.latencyMs > 0);
    const card = JSON.parse(readFileSync(s.exports['tflite-int8'].card, 'utf8'));
    assert.equal(card.predictedLatency.device, 'node-tflite-wasm');
  });

  it('an impossible latency target fails before training with a clear error and writes nothing', () => {
    const out = join(dir, 'impossible');
    const r = nas('pipeline', '--arch', ARCH, '--dataset', 'synthetic', '--latency-target-ms', '0.000001', '--out', out);
    assert.equal(r.code, 2);
    assert.match(r.err, /over the 1e-6 ms target|over the 0\.000001 ms target/);
    assert.equal(existsSync(out), false);
  });

  it('an unknown device is rejected by name', () => {
    const r = nas('pipeline', '--arch', ARCH, '--dataset', 'synthetic', '--device', 'pixel-99', '--out', join(dir, 'x'));
    assert.equal(r.code, 2);
    assert.match(r.err, /pixel-99/);
  });
});
