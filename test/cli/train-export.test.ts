import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nas-train-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function nas(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NAS_THREADS: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const ARCH = 'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 ir_r1_k5_s2_e3_c12_se0.25_hswish ds_r1_k3_s2_c16_relu6 head_c32';

describe('nas train-export (a given architecture trained and exported, end to end on tiny data)', () => {
  it('predicts latency, trains, exports float32/int8/TF.js verified in the interpreter, writes a summary', () => {
    const out = join(dir, 'ok');
    const r = nas('train-export', '--arch', ARCH, '--dataset', 'synthetic', '--epochs', '1', '--device', 'node-tflite-wasm', '--latency-target-ms', '1000', '--out', out);
    assert.equal(r.code, 0, r.err + r.out);
    assert.doesNotMatch(r.err, /warning: nas pipeline/);
    const ids = readdirSync(out);
    assert.equal(ids.length, 1);
    assert.deepEqual(readdirSync(join(out, ids[0])).filter((f) => f.endsWith('.json')), ['train-export.json']);
    const s = JSON.parse(readFileSync(join(out, ids[0], 'train-export.json'), 'utf8'));
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
    const r = nas('train-export', '--arch', ARCH, '--dataset', 'synthetic', '--latency-target-ms', '0.000001', '--out', out);
    assert.equal(r.code, 2);
    assert.match(r.err, /over the 1e-6 ms target|over the 0\.000001 ms target/);
    assert.equal(existsSync(out), false);
  });

  it('an unknown device is rejected by name', () => {
    const r = nas('train-export', '--arch', ARCH, '--dataset', 'synthetic', '--device', 'pixel-99', '--out', join(dir, 'x'));
    assert.equal(r.code, 2);
    assert.match(r.err, /pixel-99/);
  });

  it('--help describes it; nas --help lists train-export and not the deprecated pipeline', () => {
    const help = nas('train-export', '--help');
    assert.equal(help.code, 0, help.err);
    const text = help.out.replace(/\s+/g, ' '); // commander wraps at the terminal width
    assert.match(text, /Usage: nas train-export \[options\]/);
    assert.match(text, /train a given architecture \(no search\) and export it/);
    assert.match(text, /--out <dir> output directory \(default: <data dir>\/out\/train-export\)/);
    const all = nas('--help');
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /^ {2}train-export /m);
    assert.doesNotMatch(all.out, /^ {2}pipeline/m);
  });
});

describe('nas pipeline (the deprecated name of nas train-export)', () => {
  it('warns in one stderr line, then runs the same job in its old layout (pipeline.json)', () => {
    const out = join(dir, 'alias');
    const r = nas('pipeline', '--arch', ARCH, '--dataset', 'synthetic', '--epochs', '1', '--device', 'node-tflite-wasm', '--latency-target-ms', '1000', '--out', out);
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(r.err.split('\n').filter((l) => /nas pipeline/.test(l)).join('\n'), 'warning: nas pipeline is now nas train-export');
    const ids = readdirSync(out);
    assert.equal(ids.length, 1);
    const s = JSON.parse(readFileSync(join(out, ids[0], 'pipeline.json'), 'utf8'));
    assert.equal(s.archId, ids[0]);
    for (const f of ['tflite', 'tflite-int8', 'tfjs']) assert.equal(s.exports[f].verification.passed, true, f);
  });

  it('checks its options like train-export (after the warning)', () => {
    const r = nas('pipeline', '--arch', ARCH, '--dataset', 'synthetic', '--device', 'pixel-99', '--out', join(dir, 'y'));
    assert.equal(r.code, 2);
    assert.match(r.err, /^warning: nas pipeline is now nas train-export\n/);
    assert.match(r.err, /pixel-99/);
  });
});
