// `nas latency predict|calibrate` and `nas doctor`'s calibration lines, on
// the shipped node-tflite-wasm table with a calibration written into a
// temporary data directory (nothing is measured: --calibration cached).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT, setDataDir } from '../../src/config/paths.ts';
import {
  applyMapping, CALIBRATION_FORMAT, CALIBRATION_FORMAT_VERSION, fingerprintId, hostFingerprint, saveCalibration, saveRefusal, type HostCalibration,
} from '../../src/latency/calibration.ts';
import { loadDevice } from '../../src/latency/device.ts';
import { loadTable } from '../../src/latency/table.ts';
import { latencyCalibrations } from '../../src/cli/doctor.ts';

const DEVICE = 'node-tflite-wasm';

/** Runs `nas latency ...` through the latency command module alone (exit code as the CLI's). */
function nasLatency(args: string[], dataDir: string) {
  const script = `
    import { Command } from 'commander';
    import { registerLatencyCommand } from './src/cli/latency.ts';
    import { reportError } from './src/cli/errors.ts';
    const p = new Command().exitOverride();
    registerLatencyCommand(p);
    try { await p.parseAsync(${JSON.stringify(args)}, { from: 'user' }); } catch (e) { process.exitCode = e?.code?.startsWith?.('commander.') ? 2 : reportError(e); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: PACKAGE_ROOT, encoding: 'utf8', env: { ...process.env, NAS_DATA_DIR: dataDir },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function calibrationFor(createdAt: string): HostCalibration {
  const fp = hostFingerprint(loadDevice(DEVICE), loadTable(DEVICE));
  const points = [1, 20, 60, 300].map((t, i) => ({ name: `n${i}`, input: '28x28x1', tableRatio: t, conv1x1TableRatio: 0, measuredRatio: 0.66 * t + 0.1, relIqr: 0.01, rounds: 21 }));
  return {
    format: CALIBRATION_FORMAT, formatVersion: CALIBRATION_FORMAT_VERSION, deviceId: DEVICE, fingerprint: fp, fingerprintId: fingerprintId(fp), createdAt,
    tableReferenceMs: loadTable(DEVICE).measure.referenceMs, mapping: { scale: 0.66, conv1x1Scale: 0.66, overheadRatio: 0.1 },
    reference: { ms: 0.2, measuredAt: createdAt, calls: 80 }, points, classes: [], fit: { within10: 1, maxAbsRelErr: 0, maxClassErr: null }, fits: true,
    speed: { referenceMinMs: 0.1, referenceMaxMs: 0.2 }, method: { clock: 'cpu', interleaved: true, rounds: 21, batchMs: 1, threads: 1 }, loadAvg: [0.1, 0.1], wallS: 12,
  };
}

describe('calibration on the command line', () => {
  it('latency predict: host ms under the cached calibration, which is named with its date', () => {
    const data = mkdtempSync(join(tmpdir(), 'nas-data-'));
    const c = calibrationFor('2026-11-30T10:00:00.000Z');
    saveCalibration({ ...c, createdAt: new Date().toISOString() }, join(data, 'calibrations'));
    const r = nasLatency(['latency', 'predict', '--device', DEVICE, '--arch', 'mnasnet-a1', '--input', '32x32x3', '--calibration', 'cached'], data);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.unit, 'host-ms');
    assert.equal(out.calibration.state, 'fresh');
    // the mapping applies to the table's kernel sum (printed host-scaled: scale x sum) and adds the host's own overhead, in ms of the reference timing
    assert.ok(Math.abs(out.latencyMs - (out.kernelSumMs + c.mapping.overheadRatio * c.reference.ms)) < 1e-3, JSON.stringify(out).slice(0, 300));
    assert.match(r.stderr, /calibration: fresh: host ratio = 0\.6600 x table ratio \+ 0\.1000; reference 0\.2000 ms \(wall clock, measured 20\d\d-.*\): 1 table ms = \d+\.\d{4} host ms; made 20\d\d-/);
    assert.match(r.stderr, /table: shipped \(measured 2026-11-23T20:30Z on AMD EPYC/);
    assert.equal(out.table.kind, 'shipped');
    const off = JSON.parse(nasLatency(['latency', 'predict', '--device', DEVICE, '--arch', 'mnasnet-a1', '--input', '32x32x3', '--calibration', 'off'], data).stdout);
    assert.equal(off.unit, 'table');
    assert.equal(off.latencyMs, out.tableLatencyMs);
  });

  it('latency predict: an old calibration is flagged stale, a refusal is shown; bad mode exits 2', () => {
    const data = mkdtempSync(join(tmpdir(), 'nas-data-'));
    const c = calibrationFor(new Date(Date.now() - 45 * 86_400_000).toISOString());
    saveCalibration(c, join(data, 'calibrations'));
    saveRefusal(DEVICE, c.fingerprintId, 'calibration network x: wall-clock repeats disagree', join(data, 'calibrations'));
    const r = nasLatency(['latency', 'predict', '--device', DEVICE, '--arch', 'mnasnet-a1', '--calibration', 'cached'], data);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /calibration: STALE \(made 45 days ago .*last attempt refused .*repeats disagree/);
    assert.equal(JSON.parse(r.stdout).calibration.state, 'stale');
    const bad = nasLatency(['latency', 'predict', '--device', DEVICE, '--arch', 'mnasnet-a1', '--calibration', 'sometimes'], data);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --calibration must be one of auto, cached, off/);
    const st = nasLatency(['latency', 'calibrate', '--device', DEVICE, '--status'], data);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).state, 'stale');
    const budget = nasLatency(['latency', 'calibrate', '--device', DEVICE, '--budget-s', '-1'], data);
    assert.equal(budget.code, 2);
    assert.match(budget.stderr, /--budget-s must be a positive number/);
  });

  it('doctor lists the calibration in force per local device', () => {
    const data = mkdtempSync(join(tmpdir(), 'nas-data-'));
    const c = calibrationFor(new Date().toISOString());
    saveCalibration(c, join(data, 'calibrations'));
    setDataDir(data);
    try {
      const rows = latencyCalibrations();
      const row = rows.find((x) => x.device === DEVICE);
      assert.ok(row, JSON.stringify(rows));
      assert.equal(row.state, 'fresh');
      assert.equal(row.createdAt, c.createdAt);
      assert.match(row.summary, /^fresh: host ratio = 0\.6600/);
      const other = rows.find((x) => x.device === 'node-tfjs-wasm');
      assert.equal(other?.state, 'none', JSON.stringify(rows));
    } finally {
      setDataDir(undefined);
    }
  });
});
