// Host calibration on a fake "host": a runtime whose per-call wall time is
// scale x (fake device time) + overhead. Checks the fit, the cache per host
// fingerprint, staleness, refusal of disagreeing repeats with the last good
// calibration kept in force, the time bound, and how loadPredictor applies
// (or, for remote devices, does not apply) a calibration.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  applyMapping, calibrationStatus, tableNetworkMs, describeCalibration, describeMapping, fitMapping, hostFingerprint, listCalibrations, saveCalibration,
} from '../../src/latency/calibration.ts';
import { calibrateHost, calibrationNetworks, ensureHostCalibration } from '../../src/latency/calibration-run.ts';
import { checkTfliteLatency, measureWallClock } from '../../src/latency/calibration-wall.ts';
import type { DeviceProfile } from '../../src/latency/device.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { profileDevice } from '../../src/latency/profile.ts';
import { createMeasurer, MeasurementError, referencePlan, type LatencyRuntime } from '../../src/latency/runtime.ts';
import { planToTflite } from '../../src/latency/runtimes/tflite-wasm.ts';
import { fakePlanMs } from '../../src/latency/runtimes/fake.ts';
import { decomposePlan } from '../../src/latency/kernels.ts';
import { expandNetwork, type NetworkPlan } from '../../src/space/network.ts';
import { resolveArch } from '../../src/space/resolve.ts';
import { createFakeRuntime } from '../../src/latency/runtimes/fake.ts';
import { saveTable, type LatencyTable } from '../../src/latency/table.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';

const input = { height: 28, width: 28, channels: 1 };
const device: DeviceProfile = { id: 'fake-host', name: 'fake', runtime: 'fake', runtimeVersion: 'fake (built in)', threads: 1, cpu: 'none' };
// The fake runtimes report times without spending them: nothing to tell preemption by, so it is not checked (see the preemption test).
const WALL = { warmup: 1, calls: 5, passes: 2, tolerance: 0.05, maxAttempts: 3, dropPreempted: false };

/** The fake device's cost mapped to a host: scale x ms + overheadMs; `noisy`: a machine getting busier (each call of a model 3% slower than its first, times the calls so far). */
function hostRuntime(scale: number, overheadMs: number, opts: { noisy?: boolean | ((prepared: number) => boolean); distort?: (prepared: number, plan: NetworkPlan) => number; planMs?: (plan: NetworkPlan) => number } = {}): LatencyRuntime & { prepared: number } {
  const rt = {
    id: 'fake' as const, version: 'fake-host', threads: 1, prepared: 0,
    async prepare(plan: Parameters<LatencyRuntime['prepare']>[0]) {
      rt.prepared++;
      let calls = 0;
      const ms = (scale * (opts.planMs ?? fakePlanMs)(plan) + overheadMs) * (opts.distort?.(rt.prepared, plan) ?? 1);
      const noisy = typeof opts.noisy === 'function' ? opts.noisy(rt.prepared) : opts.noisy;
      return { timeBatch: () => (noisy ? ms * (1 + 0.03 * calls++) : ms), dispose() {} };
    },
    async close() {},
  };
  return rt;
}

async function fakeTable(): Promise<LatencyTable> {
  return profileDevice({
    device, measurer: await createMeasurer(createFakeRuntime(), { repeats: 3, warmup: 0, useReference: false }),
    targets: [{ skeleton: SKELETON_SMALL, input }], numClasses: 10, maxKernelsPerTarget: 2000, calibrationNetworks: 8, seed: 3,
  });
}

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

describe('host calibration', async () => {
  const table = await fakeTable();

  it('fitMapping recovers scale and overhead; refuses too few or non-positive points', () => {
    const pts = [0.2, 1, 3, 10, 40].map((t) => ({ tableMs: t, measuredMs: 0.65 * t + 0.03 }));
    const m = fitMapping(pts);
    assert.ok(Math.abs(m.scale - 0.65) < 1e-9 && Math.abs(m.overheadMs - 0.03) < 1e-9, JSON.stringify(m));
    assert.ok(Math.abs(applyMapping(m, 2) - 1.33) < 1e-9);
    assert.throws(() => fitMapping(pts.slice(0, 2)), MeasurementError);
    assert.throws(() => fitMapping([...pts, { tableMs: 1, measuredMs: 0 }]), /non-positive/);
    // no 1x1 share to tell the classes apart: one scale for both
    assert.equal(m.conv1x1Scale, m.scale);
    assert.equal(describeMapping(m), 'host ms = 0.6500 x table ms + 0.0300 ms');
  });

  it('fitMapping gives 1x1 convolutions their own scale when the networks span 1x1 shares, else one shared scale', () => {
    const host = (t: number, c1: number) => 0.6 * (t - c1) + 0.7 * c1 + 0.02;
    const pts = [[0.2, 0.1], [1, 0.1], [2, 1.6], [3, 0.3], [5, 4.2], [10, 1]].map(([t, c1]) => ({ tableMs: t, conv1x1TableMs: c1, measuredMs: host(t, c1) }));
    const m = fitMapping(pts);
    assert.ok(Math.abs(m.scale - 0.6) < 1e-9 && Math.abs(m.conv1x1Scale - 0.7) < 1e-9 && Math.abs(m.overheadMs - 0.02) < 1e-9, JSON.stringify(m));
    assert.ok(Math.abs(applyMapping(m, 4, 3) - host(4, 3)) < 1e-9);
    assert.match(describeMapping(m), /^host ms = 0\.6000 x table ms \(1x1 convs: 0\.7000 x\) \+ 0\.0200 ms$/);
    // every network with the same 1x1 share: the per-class fit is not identifiable
    const same = [0.2, 1, 3, 10].map((t) => ({ tableMs: t, conv1x1TableMs: 0.5 * t, measuredMs: 0.65 * t + 0.03 }));
    const s1 = fitMapping(same);
    assert.equal(s1.conv1x1Scale, s1.scale);
    assert.ok(Math.abs(s1.scale - 0.65) < 1e-9);
    // an implausible class ratio (here 1x1 convs 4x the rest) falls back to one scale
    const wild = [[0.2, 0.1], [1, 0.1], [2, 1.6], [3, 0.3], [5, 4.2]].map(([t, c1]) => ({ tableMs: t, conv1x1TableMs: c1, measuredMs: 0.3 * (t - c1) + 1.2 * c1 + 0.02 }));
    const w = fitMapping(wild);
    assert.equal(w.conv1x1Scale, w.scale);
  });

  it('calibration networks: the reference, random networks and MobileNetV2 presets, never the start-up check network', () => {
    const nets = calibrationNetworks(table);
    const names = nets.map((n) => n.name);
    assert.ok(names.includes('ref-v1') && names.includes('mobilenet-v2@0.5') && names.includes('mobilenet-v2@1'), names.join(', '));
    assert.ok(!names.includes('proxy-small'));
    assert.ok(nets.every((n, i) => i === 0 || nets[i - 1].tableMs <= n.tableMs), 'cheapest first');
    const shares = nets.map((n) => n.conv1x1TableMs / n.tableMs);
    assert.ok(Math.max(...shares) - Math.min(...shares) >= 0.2, `1x1 shares ${shares.map((x) => x.toFixed(2)).join(', ')}`);
  });

  it('a host whose 1x1 convolutions run relatively slower: the per-class calibration predicts held-out hand-designed networks, one scale does not', async () => {
    // The host's time is defined from the table's own network times (1x1 convolutions 1.15x the rest), so the
    // check is on the calibration, not on how well the fake table's regression covers the presets' kernels.
    const base = loadPredictorFor(table, { calibration: 'off' });
    const hostMs = (plan: NetworkPlan) => {
      const t = tableNetworkMs(base.predictKernels(decomposePlan(plan)));
      return (t.tableMs - t.conv1x1TableMs) + 1.15 * t.conv1x1TableMs;
    };
    const c = await calibrateHost({ device, table, runtime: hostRuntime(0.6, 0.02, { planMs: hostMs }), wall: WALL });
    assert.ok(Math.abs(c.mapping.conv1x1Scale / c.mapping.scale / 1.15 - 1) < 0.01, JSON.stringify(c.mapping));
    const one = fitMapping(c.points.map((p) => ({ tableMs: p.tableMs, measuredMs: p.measuredMs })));
    const calibrated = loadPredictorFor(table, { calibration: c });
    let worstPerClass = 0, worstOne = 0;
    for (const [arch, w] of [['mobilenet-v2', 0.35], ['mobilenet-v2', 0.75], ['mnasnet-a1', 1], ['proxy-small', 1]] as const) {
      const spec = resolveArch(arch, { input, widthMultiplier: w });
      const truth = 0.6 * hostMs(expandNetwork(spec, input, 10)) + 0.02;
      const p = calibrated.predict(spec, input, 10);
      const t = tableNetworkMs(base.predict(spec, input, 10));
      assert.ok(Math.abs(p.latencyMs - applyMapping(c.mapping, t.tableMs, t.conv1x1TableMs)) < 1e-12);
      assert.ok(Math.abs(p.latencyMs - (p.kernelSumMs + c.mapping.overheadMs)) < 1e-9, 'host kernel times add up to the prediction');
      worstPerClass = Math.max(worstPerClass, Math.abs(p.latencyMs / truth - 1));
      worstOne = Math.max(worstOne, Math.abs(applyMapping(one, t.tableMs) / truth - 1));
    }
    assert.ok(worstPerClass < 0.01, `per-class worst error ${worstPerClass}`);
    assert.ok(worstOne > 0.03, `one scale: worst error ${worstOne}`);
  });

  it('wall-clock measurement: agreeing passes accepted, disagreeing ones retried with longer passes, then refused', async () => {
    let n = 0;
    const steady = await measureWallClock({ timeBatch: () => 1.5, dispose() {} }, WALL);
    assert.equal(steady.medianMs, 1.5);
    assert.equal(steady.attempts, 1);
    // the first attempt's second pass is slow, later attempts are clean
    const burst = await measureWallClock({ timeBatch: () => (n++ >= 6 && n <= 11 ? 3 : 1), dispose() {} }, WALL);
    assert.equal(burst.attempts, 2);
    assert.equal(burst.calls, 20, 'second attempt: passes twice as long');
    await assert.rejects(measureWallClock({ timeBatch: () => (Math.floor(n++ / 5) % 2 ? 2 : 1), dispose() {} }, { ...WALL, calls: 5, maxAttempts: 1 }), /repeats disagree/);
  });

  it('checkTfliteLatency: a real .tflite file timed in the TFLite interpreter, the pipeline\'s "predicted, measured, ratio" line', async () => {
    const file = join(tmp('tfl-'), 'ref.tflite');
    writeFileSync(file, planToTflite(referencePlan()));
    // generous tolerance: this checks the plumbing, not the machine's quietness
    const c = await checkTfliteLatency(file, 0.5, { warmup: 2, calls: 50, tolerance: 100, dropPreempted: false });
    assert.ok(c.measuredMs !== null && c.measuredMs > 0 && c.calls === 100, JSON.stringify(c));
    assert.equal(c.ratio, c.measuredMs / 0.5);
    assert.match(c.line, /^predicted 0\.500 ms, measured \d+\.\d{3} ms, ratio \d+\.\d{3} \(wall clock, median of 100 Invoke\(\) calls, 1 thread\)$/);
  });

  it('preemption: a call whose wall time was not spent on this process\'s CPU is left out; all of them -> refused as busy', async () => {
    // wall 0 ms: never more than its CPU time, always kept
    const kept = await measureWallClock({ timeBatch: () => 0, dispose() {} }, { warmup: 0, calls: 10 });
    assert.equal(kept.preemptedCalls, 0);
    // every third call reports 5 ms of wall time that used no CPU (the process was switched out): left out
    let n = 0;
    const some = await measureWallClock({ timeBatch: () => (n++ % 3 === 0 ? 5 : 0), dispose() {} }, { warmup: 0, calls: 10 });
    assert.equal(some.medianMs, 0);
    assert.ok(some.preemptedCalls >= 9 && some.plainMedianMs === 0, JSON.stringify(some));
    await assert.rejects(measureWallClock({ timeBatch: () => 2, dispose() {} }, { warmup: 0, calls: 10, maxAttempts: 2 }), /machine busy: fewer than 10 of 40 calls ran without being preempted/);
  });

  it('calibrateHost fits the host within 5% on held-out networks, reference network included', async () => {
    const rt = hostRuntime(0.6, 0.02);
    const c = await calibrateHost({ device, table, runtime: rt, wall: WALL });
    assert.ok(c.points.length >= 4 && c.points.some((p) => p.name === 'ref-v1'), JSON.stringify(c.points.map((p) => p.name)));
    assert.equal(c.fit.within10, 1);
    const base = loadPredictorFor(table, { calibration: 'off' });
    const rng = createRng(99);
    for (let i = 0; i < 10; i++) {
      const spec = sampleArch(SKELETON_SMALL, rng);
      const truth = 0.6 * fakePlanMs(expandNetwork(spec, input, 10)) + 0.02;
      const t = tableNetworkMs(base.predict(spec, input, 10));
      const host = applyMapping(c.mapping, t.tableMs, t.conv1x1TableMs);
      assert.ok(Math.abs(host / truth - 1) < 0.05, `network ${i}: predicted ${host} vs host ${truth}`);
    }
  });

  it('cached per fingerprint: reused while fresh, redone when the table changes, flagged stale meanwhile', async () => {
    const dir = tmp('cal-');
    const rt = hostRuntime(0.6, 0.02);
    const first = await ensureHostCalibration({ device, table, runtime: rt, wall: WALL, dir });
    assert.equal(first.state, 'fresh');
    const prepared = rt.prepared;
    const again = await ensureHostCalibration({ device, table, runtime: rt, wall: WALL, dir });
    assert.equal(rt.prepared, prepared, 'a fresh calibration is not measured again');
    assert.equal(again.calibration!.createdAt, first.calibration!.createdAt);
    const changed: LatencyTable = { ...table, createdAt: new Date(Date.now() + 1000).toISOString() };
    const before = calibrationStatus(hostFingerprint(device, changed), dir);
    assert.equal(before.state, 'stale');
    assert.match(describeCalibration(before), /STALE \(latency table changed/);
    const redone = await ensureHostCalibration({ device, table: changed, runtime: rt, wall: WALL, dir });
    assert.equal(redone.state, 'fresh');
    assert.ok(rt.prepared > prepared);
    assert.equal(listCalibrations(device.id, dir).length, 2);
  });

  it('a busy machine: repeats that disagree are refused with the reason; the last good calibration stays in force, flagged', async () => {
    const dir = tmp('cal-');
    await ensureHostCalibration({ device, table, runtime: hostRuntime(0.6, 0.02), wall: WALL, dir });
    const changed: LatencyTable = { ...table, createdAt: new Date(Date.now() + 2000).toISOString() };
    const noisy = hostRuntime(0.6, 0.02, { noisy: true });
    await assert.rejects(calibrateHost({ device, table: changed, runtime: noisy, wall: WALL }), /repeats disagree after 3 attempts/);
    const s = await ensureHostCalibration({ device, table: changed, runtime: noisy, wall: WALL, dir });
    assert.equal(s.state, 'stale');
    assert.ok(s.calibration && s.refused, JSON.stringify(s));
    assert.match(s.refused.reason, /repeats disagree/);
    assert.match(describeCalibration(s), /^STALE .*last attempt refused .*repeats disagree/);
    const prepared = noisy.prepared;
    const later = await ensureHostCalibration({ device, table: changed, runtime: noisy, wall: WALL, dir });
    assert.equal(noisy.prepared, prepared, 'not retried automatically right after a refusal');
    assert.equal(later.state, 'stale');
  });

  it('one network that does not reproduce is skipped; a mapping that misses a network by more than 15% is refused', async () => {
    const c = await calibrateHost({ device, table, runtime: hostRuntime(0.6, 0.02, { noisy: (i) => i === 3 }), wall: WALL, networksPerInput: 5 });
    assert.equal(c.skipped?.length, 1, JSON.stringify(c.skipped));
    assert.match(c.skipped![0], /did not reproduce/);
    assert.equal(c.fit.within10, 1);
    // a network that stays 1.6x off (measured again: still off) refuses the calibration
    const bad = new Set<NetworkPlan>();
    const persistent = hostRuntime(0.6, 0.02, { distort: (i, plan) => (i === 3 && bad.add(plan), bad.has(plan) ? 1.6 : 1) });
    await assert.rejects(calibrateHost({ device, table, runtime: persistent, wall: WALL }), /does not fit the measured networks \(worst error \d+%, limit 15%\)/);
  });

  it('a network off the fit because of a passing burst of load is measured again and the calibration kept', async () => {
    const burst = hostRuntime(0.6, 0.02, { distort: (i) => (i === 3 ? 1.6 : 1) });
    const lines: string[] = [];
    const c = await calibrateHost({ device, table, runtime: burst, wall: WALL, onProgress: (m) => lines.push(m) });
    assert.equal(c.remeasured?.length, 1, JSON.stringify(c.remeasured));
    assert.equal(c.fit.within10, 1);
    assert.ok(lines.some((l) => /off the fit by \d+%, measuring it again/.test(l)), lines.join('\n'));
    assert.ok(Math.abs(c.mapping.scale - 0.6) < 0.05, JSON.stringify(c.mapping));
  });

  it('bounded: networks that do not fit the time bound are skipped, and too few points refuse', async () => {
    await assert.rejects(calibrateHost({ device, table, runtime: hostRuntime(0.6, 0.02), wall: WALL, budgetMs: 0 }), /measured only 0 networks within its 0 s bound \(skipped: 28x28x1 ref-v1 \(out of time\)/);
    await assert.rejects(calibrateHost({ device, table, runtime: hostRuntime(0.6, 0.02), wall: WALL, budgetMs: 150 }), /measured only 1 networks within its 0.15 s bound/);
  });

  it('stale when old; damaged files are skipped and left in place', async () => {
    const dir = tmp('cal-');
    const c = await calibrateHost({ device, table, runtime: hostRuntime(0.6, 0.02), wall: WALL });
    saveCalibration({ ...c, createdAt: new Date(Date.now() - 40 * 86_400_000).toISOString() }, dir);
    writeFileSync(join(dir, `${device.id}--0000000000000000.json`), '{"format": "nas-host-calibration", trunc');
    const s = calibrationStatus(hostFingerprint(device, table), dir);
    assert.equal(s.state, 'stale');
    assert.match(s.reasons.join(), /made 40 days ago/);
    assert.ok(existsSync(join(dir, `${device.id}--0000000000000000.json`)));
  });

  it('a calibration of the previous format (one scale, no 1x1 scale) is not used, and is redone', async () => {
    const dir = tmp('cal-');
    const c = await calibrateHost({ device, table, runtime: hostRuntime(0.6, 0.02), wall: WALL });
    const old = { ...c, formatVersion: 2, mapping: { scale: c.mapping.scale, overheadMs: c.mapping.overheadMs } };
    const path = join(dir, `${device.id}--${c.fingerprintId}.json`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, JSON.stringify(old));
    assert.equal(calibrationStatus(hostFingerprint(device, table), dir).state, 'none');
    const s = await ensureHostCalibration({ device, table, runtime: hostRuntime(0.6, 0.02), wall: WALL, dir });
    assert.equal(s.state, 'fresh');
    assert.equal(s.calibration!.formatVersion, 3);
    assert.ok(s.calibration!.mapping.conv1x1Scale > 0);
  });

  it('loadPredictor: applies a fresh/injected calibration, reports none/off, and never applies one to a remote device', async () => {
    const c = await calibrateHost({ device, table, runtime: hostRuntime(0.5, 0.1), wall: WALL });
    const spec = sampleArch(SKELETON_SMALL, createRng(5));
    const raw = loadPredictorFor(table, { calibration: 'off' });
    assert.equal(raw.calibration.state, 'off');
    const t = raw.predict(spec, input, 10).latencyMs;
    // the calibration maps the table's kernel sum (its own overhead replaces the table's overhead model)
    const { tableMs: sum, conv1x1TableMs: c1 } = tableNetworkMs(raw.predict(spec, input, 10));
    const inj = loadPredictorFor(table, { calibration: c }).predict(spec, input, 10);
    assert.ok(Math.abs(inj.latencyMs - applyMapping(c.mapping, sum, c1)) < 1e-12);
    assert.equal(inj.tableLatencyMs, t);
    const calDir = tmp('cal-');
    assert.equal(loadPredictorFor(table, { calibrationsDir: calDir }).calibration.state, 'none');
    assert.equal(loadPredictorFor(table, { calibrationsDir: calDir }).predict(spec, input, 10).latencyMs, t);
    saveCalibration(c, calDir);
    const auto = loadPredictorFor(table, { calibrationsDir: calDir });
    assert.equal(auto.calibration.state, 'fresh');
    assert.ok(Math.abs(auto.predict(spec, input, 10).latencyMs - applyMapping(c.mapping, sum, c1)) < 1e-12);
    // A remote device's table (uploaded from a phone) keeps its own unit, even with a calibration at hand.
    const remote: DeviceProfile = { ...device, id: 'phone-x', runtime: 'tflite-android' };
    const rp = loadPredictorFor({ ...table, device: remote }, { calibration: c });
    assert.equal(rp.calibration.state, 'remote');
    assert.equal(rp.predict(spec, input, 10).latencyMs, t);
    assert.match(describeCalibration(rp.calibration), /remote device/);
  });
});

/** loadPredictor on a table and device profile written to temporary folders. */
function loadPredictorFor(table: LatencyTable, opts: Parameters<typeof loadPredictor>[1]) {
  const root = tmp('lp-');
  const devices = join(root, 'devices');
  mkdirSync(devices);
  writeFileSync(join(devices, `${table.device.id}.json`), JSON.stringify(table.device));
  saveTable(table, join(root, 'tables'));
  const p = loadPredictor(table.device.id, { ...opts, devicesDir: devices, tablesDir: join(root, 'tables') });
  assert.ok(readdirSync(join(root, 'tables')).length === 1 && readFileSync(join(devices, `${table.device.id}.json`), 'utf8').length > 0);
  return p;
}
