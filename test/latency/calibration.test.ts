// Host calibration in relative units (format 4) on fake hosts: a runtime
// whose per-call time is scale x (fake device time) + overhead, with phases
// where the whole host runs 2x slower, per-class distortions, bursts and
// noise. Checks the fit on reference ratios, the conversion to ms with the
// reference's wall time, the per-class fit check, the cache per host
// fingerprint, staleness, refusal only of what cannot be measured, and how
// loadPredictor applies (or, for remote devices, does not apply) a calibration.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  applyMapping, calibrationStatus, describeCalibration, describeMapping, fingerprintId, fitMapping, hostFingerprint, listCalibrations, mappingFit, saveCalibration,
  saveReferenceTiming, tableNetworkMs,
} from '../../src/latency/calibration.ts';
import { calibrateHost, calibrationNetworks, ensureHostCalibration } from '../../src/latency/calibration-run.ts';
import { checkTfliteLatency, measureWallClock } from '../../src/latency/calibration-wall.ts';
import type { DeviceProfile } from '../../src/latency/device.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { decomposePlan } from '../../src/latency/kernels.ts';
import { referencePlan } from '../../src/latency/runtime.ts';
import { planToTflite } from '../../src/latency/runtimes/tflite-wasm.ts';
import { saveTable, type LatencyTable } from '../../src/latency/table.ts';
import { expandNetwork, type NetworkPlan } from '../../src/space/network.ts';
import { resolveArch } from '../../src/space/resolve.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { fakeDevice as device, fakeHost, fakeTable, hostPlanMs, input28 as input, type HostOptions } from './fake-host.ts';

// small budgets of rounds: the fake hosts are exact
const FAST = { rounds: 9, classKernels: 2 };

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The host's truth for a network in reference units: its time over the reference's (both without phases). */
const hostRatio = (plan: NetworkPlan, o: HostOptions) => hostPlanMs(plan, o) / hostPlanMs(referencePlan(), o);

describe('host calibration (relative units)', async () => {
  const table = await fakeTable();
  const tableRatio = (plan: NetworkPlan, t: LatencyTable = table) => {
    const p = loadPredictorFor(t, { calibration: 'off' }).predictKernels(decomposePlan(plan));
    const n = tableNetworkMs(p);
    return { all: n.tableMs / t.measure.referenceMs, conv1x1: n.conv1x1TableMs / t.measure.referenceMs };
  };

  it('fitMapping recovers scale and overhead; refuses too few or non-positive points', () => {
    const pts = [0.2, 1, 3, 10, 40].map((t) => ({ table: t, host: 0.65 * t + 0.03 }));
    const m = fitMapping(pts);
    assert.ok(Math.abs(m.scale - 0.65) < 1e-9 && Math.abs(m.overheadRatio - 0.03) < 1e-9, JSON.stringify(m));
    assert.ok(Math.abs(applyMapping(m, 2) - 1.33) < 1e-9);
    assert.throws(() => fitMapping(pts.slice(0, 2)), /at least 3 measured networks/);
    assert.throws(() => fitMapping([...pts, { table: 1, host: 0 }]), /non-positive/);
    assert.equal(m.conv1x1Scale, m.scale);
    assert.equal(describeMapping(m), 'host ratio = 0.6500 x table ratio + 0.0300');
  });

  it('fitMapping gives 1x1 convolutions their own scale when the networks span 1x1 shares, else one shared scale', () => {
    const host = (t: number, c1: number) => 0.6 * (t - c1) + 0.7 * c1 + 0.02;
    const pts = [[0.2, 0.1], [1, 0.1], [2, 1.6], [3, 0.3], [5, 4.2], [10, 1]].map(([t, c1]) => ({ table: t, conv1x1: c1, host: host(t, c1) }));
    const m = fitMapping(pts);
    assert.ok(Math.abs(m.scale - 0.6) < 1e-9 && Math.abs(m.conv1x1Scale - 0.7) < 1e-9 && Math.abs(m.overheadRatio - 0.02) < 1e-9, JSON.stringify(m));
    assert.match(describeMapping(m), /^host ratio = 0\.6000 x table ratio \(1x1 convs: 0\.7000 x\) \+ 0\.0200$/);
    const same = [0.2, 1, 3, 10].map((t) => ({ table: t, conv1x1: 0.5 * t, host: 0.65 * t + 0.03 }));
    assert.equal(fitMapping(same).conv1x1Scale, fitMapping(same).scale);
    const wild = [[0.2, 0.1], [1, 0.1], [2, 1.6], [3, 0.3], [5, 4.2]].map(([t, c1]) => ({ table: t, conv1x1: c1, host: 0.3 * (t - c1) + 1.2 * c1 + 0.02 }));
    assert.equal(fitMapping(wild).conv1x1Scale, fitMapping(wild).scale);
  });

  it('calibration networks: the reference, random networks and MobileNetV2 presets, never the start-up check network', () => {
    const names = calibrationNetworks(table).map((n) => n.name);
    assert.ok(names.includes('ref-v1') && names.includes('mobilenet-v2@0.5') && names.includes('mobilenet-v2@1'), names.join(', '));
    assert.ok(!names.includes('proxy-small'));
  });

  it('calibrateHost fits the host on reference ratios: held-out networks within 2%, reference included, and the table fits', async () => {
    const o = { scale: 0.6, overheadMs: 0.02 };
    const c = await calibrateHost({ device, table, runtime: fakeHost(o), ...FAST });
    assert.equal(c.formatVersion, 4);
    assert.ok(c.points.some((p) => p.name === 'ref-v1') && Math.abs(c.points[0].measuredRatio - 1) < 1e-9, JSON.stringify(c.points[0]));
    assert.equal(c.fits, true, c.misfit);
    assert.ok(c.classes.length >= 5 && c.classes.every((k) => Math.abs(k.error) < 0.05), JSON.stringify(c.classes));
    const rng = createRng(99);
    for (let i = 0; i < 10; i++) {
      const plan = expandNetwork(sampleArch(SKELETON_SMALL, rng), input, 10);
      const t = tableRatio(plan);
      const err = applyMapping(c.mapping, t.all, t.conv1x1) / hostRatio(plan, o) - 1;
      assert.ok(Math.abs(err) < 0.02, `network ${i}: error ${err}`);
    }
  });

  it('a 2x speed phase during calibration: ratios are unaffected, the calibration fits; a wall-clock fit of the same host misses by far', async () => {
    // phases of 500 simulated ms: a network's rounds take a few ms, the whole calibration several phases
    const o = { scale: 0.6, overheadMs: 0.02, phaseMs: 500 };
    const host = fakeHost(o);
    const c = await calibrateHost({ device, table, runtime: host, ...FAST, rounds: 21 });
    assert.ok(c.speed.referenceMaxMs / c.speed.referenceMinMs > 1.9, `the host's speed moved: ${JSON.stringify(c.speed)}`);
    assert.equal(c.fits, true, c.misfit);
    // the same calibration as on a host of constant speed
    const steady = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.6, overheadMs: 0.02 }), ...FAST, rounds: 21 });
    for (const k of ['scale', 'conv1x1Scale', 'overheadRatio'] as const) assert.ok(Math.abs(c.mapping[k] / steady.mapping[k] - 1) < 1e-6, `${k}: ${c.mapping[k]} vs ${steady.mapping[k]}`);
    c.points.forEach((p, i) => assert.ok(Math.abs(p.measuredRatio / steady.points[i].measuredRatio - 1) < 1e-9, p.name));
    // ms come from the reference's wall time of the moment: one of the two speeds
    const refMs = hostPlanMs(referencePlan(), o);
    assert.ok([1, 2].some((f) => Math.abs(c.reference.ms / (f * refMs) - 1) < 1e-9), `${c.reference.ms} vs ${refMs}`);
    // The previous method on the same host: each network's wall-clock median, one after the other, fitted in ms.
    const wallHost = fakeHost(o);
    const points = [];
    for (const n of calibrationNetworks(table)) {
      const m = await measureWallClock(await wallHost.prepare(n.plan), { warmup: 1, calls: 9, passes: 1, dropPreempted: false });
      points.push({ table: n.tableMs, conv1x1: n.conv1x1TableMs, host: m.medianMs });
    }
    assert.ok(mappingFit(fitMapping(points), points).maxAbsRelErr > 0.15, 'a wall-clock fit sees two speeds');
  });

  it('a host whose 1x1 convolutions run relatively slower: the per-class mapping predicts held-out hand-designed networks, one scale does not', async () => {
    // The host's time is defined from the table's own network times (1x1 convolutions 1.15x the rest), so the
    // check is on the calibration, not on how well the fake table's regression covers the presets' kernels.
    const base = loadPredictorFor(table, { calibration: 'off' });
    const planMs = (plan: NetworkPlan) => {
      const t = tableNetworkMs(base.predictKernels(decomposePlan(plan)));
      return t.tableMs - t.conv1x1TableMs + 1.15 * t.conv1x1TableMs;
    };
    const o = { scale: 0.6, overheadMs: 0.02, planMs };
    const c = await calibrateHost({ device, table, runtime: fakeHost(o), ...FAST });
    assert.ok(Math.abs(c.mapping.conv1x1Scale / c.mapping.scale / 1.15 - 1) < 0.03, JSON.stringify(c.mapping));
    const one = fitMapping(c.points.map((p) => ({ table: p.tableRatio, host: p.measuredRatio })));
    let worstPerClass = 0, worstOne = 0;
    for (const [arch, w] of [['mobilenet-v2', 0.35], ['mobilenet-v2', 0.75], ['mnasnet-a1', 1], ['proxy-small', 1]] as const) {
      const plan = expandNetwork(resolveArch(arch, { input, widthMultiplier: w }), input, 10);
      const t = tableRatio(plan);
      worstPerClass = Math.max(worstPerClass, Math.abs(applyMapping(c.mapping, t.all, t.conv1x1) / hostRatio(plan, o) - 1));
      worstOne = Math.max(worstOne, Math.abs(applyMapping(one, t.all) / hostRatio(plan, o) - 1));
    }
    assert.ok(worstPerClass < 0.03, `per-class worst error ${worstPerClass}`);
    assert.ok(worstOne > worstPerClass + 0.02, `one scale: worst error ${worstOne}`);
  });

  it('a foreign CPU (depthwise 1.4x relatively slower): kept, but marked as not fitting, naming the classes', async () => {
    const c = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.6, distort: { dwconv: 1.4 } }), ...FAST });
    assert.equal(c.fits, false);
    assert.match(c.misfit!, /per-class error over 10%: .*dwconv@28x28x1 \+\d+%/);
    assert.ok(c.classes.find((k) => k.cls === 'dwconv@28x28x1')!.error > 0.1);
    assert.ok(c.classes.filter((k) => !k.cls.startsWith('dwconv')).every((k) => k.error < 0.1), JSON.stringify(c.classes));
    // a class that costs next to nothing in networks (the classifier) cannot spoil a prediction: its error is recorded, not counted
    const denseOff = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.6, distort: { dense: 3 } }), ...FAST });
    const dense = denseOff.classes.find((k) => k.cls === 'dense@28x28x1')!;
    assert.ok(dense.error > 1 && dense.share < 0.01, JSON.stringify(dense));
    assert.equal(denseOff.fits, true, denseOff.misfit);
    const dir = tmp('cal-');
    saveCalibration(c, dir);
    const s = calibrationStatus(hostFingerprint(device, table), dir);
    assert.equal(s.state, 'fresh');
    assert.match(describeCalibration(s), /relative costs do NOT fit this host \(.*dwconv.*\): re-profile with nas latency adapt --device fake-host/);
  });

  it('wall-clock measurement: agreeing passes accepted, disagreeing ones retried with longer passes, then refused', async () => {
    let n = 0;
    const WALL = { warmup: 1, calls: 5, passes: 2, tolerance: 0.05, maxAttempts: 3, dropPreempted: false };
    const steady = await measureWallClock({ timeBatch: () => 1.5, dispose() {} }, WALL);
    assert.equal(steady.medianMs, 1.5);
    const burst = await measureWallClock({ timeBatch: () => (n++ >= 6 && n <= 11 ? 3 : 1), dispose() {} }, WALL);
    assert.equal(burst.attempts, 2);
    assert.equal(burst.calls, 20, 'second attempt: passes twice as long');
    await assert.rejects(measureWallClock({ timeBatch: () => (Math.floor(n++ / 5) % 2 ? 2 : 1), dispose() {} }, { ...WALL, maxAttempts: 1 }), /repeats disagree/);
  });

  it('checkTfliteLatency: a real .tflite file timed in the TFLite interpreter, the pipeline\'s "predicted, measured, ratio" line', async () => {
    const file = join(tmp('tfl-'), 'ref.tflite');
    writeFileSync(file, planToTflite(referencePlan()));
    const c = await checkTfliteLatency(file, 0.5, { warmup: 2, calls: 50, tolerance: 100, dropPreempted: false });
    assert.ok(c.measuredMs !== null && c.measuredMs > 0 && c.calls === 100, JSON.stringify(c));
    assert.match(c.line, /^predicted 0\.500 ms, measured \d+\.\d{3} ms, ratio \d+\.\d{3} \(wall clock, median of 100 Invoke\(\) calls, 1 thread\)$/);
  });

  it('preemption: a call whose wall time was not spent on this process\'s CPU is left out; all of them -> refused as busy', async () => {
    const kept = await measureWallClock({ timeBatch: () => 0, dispose() {} }, { warmup: 0, calls: 10 });
    assert.equal(kept.preemptedCalls, 0);
    let n = 0;
    const some = await measureWallClock({ timeBatch: () => (n++ % 3 === 0 ? 5 : 0), dispose() {} }, { warmup: 0, calls: 10 });
    assert.equal(some.medianMs, 0);
    await assert.rejects(measureWallClock({ timeBatch: () => 2, dispose() {} }, { warmup: 0, calls: 10, maxAttempts: 2 }), /machine busy: fewer than 10 of 40 calls ran without being preempted/);
  });

  it('cached per fingerprint: reused while fresh, redone when the table changes, flagged stale meanwhile', async () => {
    const dir = tmp('cal-');
    const rt = fakeHost({ scale: 0.6, overheadMs: 0.02 });
    const first = await ensureHostCalibration({ device, table, runtime: rt, dir, ...FAST });
    assert.equal(first.state, 'fresh');
    const prepared = rt.prepared;
    const again = await ensureHostCalibration({ device, table, runtime: rt, dir, ...FAST });
    assert.equal(rt.prepared, prepared, 'a fresh calibration is not measured again');
    assert.equal(again.calibration!.createdAt, first.calibration!.createdAt);
    const changed: LatencyTable = { ...table, createdAt: new Date(Date.now() + 1000).toISOString() };
    const before = calibrationStatus(hostFingerprint(device, changed), dir);
    assert.equal(before.state, 'stale');
    assert.match(describeCalibration(before), /STALE \(latency table changed/);
    const redone = await ensureHostCalibration({ device, table: changed, runtime: rt, dir, ...FAST });
    assert.equal(redone.state, 'fresh');
    assert.equal(listCalibrations(device.id, dir).length, 2);
  });

  it('only what cannot be measured is refused (ratios that never agree); the last good calibration stays in force, flagged', async () => {
    const dir = tmp('cal-');
    await ensureHostCalibration({ device, table, runtime: fakeHost({ scale: 0.6 }), dir, ...FAST });
    const changed: LatencyTable = { ...table, createdAt: new Date(Date.now() + 2000).toISOString() };
    // every model but the reference (the measurer's first) alternates between 1x and 40x its time
    const chaotic = fakeHost({ scale: 0.6, perCall: (call, prepared) => (prepared > 1 && call % 2 === 1 ? 40 : 1) });
    await assert.rejects(calibrateHost({ device, table: changed, runtime: chaotic, ...FAST }), /unusable measurement .*inconsistent/);
    const s = await ensureHostCalibration({ device, table: changed, runtime: chaotic, dir, ...FAST });
    assert.equal(s.state, 'stale');
    assert.match(s.refused!.reason, /inconsistent/);
    assert.match(describeCalibration(s), /^STALE .*last attempt refused .*inconsistent/);
    const prepared = chaotic.prepared;
    await ensureHostCalibration({ device, table: changed, runtime: chaotic, dir, ...FAST });
    assert.equal(chaotic.prepared, prepared, 'not retried automatically right after a refusal');
  });

  it('a network off the fit because of a passing burst is measured again and the calibration fits', async () => {
    const lines: string[] = [];
    const c = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.6, perModel: (i) => (i === 6 ? 1.6 : 1) }), ...FAST, onProgress: (m) => lines.push(m) });
    assert.equal(c.remeasured?.length, 1, JSON.stringify(c.remeasured));
    assert.equal(c.fits, true, c.misfit);
    assert.ok(lines.some((l) => /off the fit by \d+%, measuring it again/.test(l)), lines.join('\n'));
    // a network that stays 1.6x off is named and the table marked as not fitting (the device is then re-profiled), not refused
    const bad = new Set<NetworkPlan>();
    const persistent = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.6, perModel: (i, plan) => (i === 6 && bad.add(plan), bad.has(plan) ? 1.6 : 1) }), ...FAST });
    assert.equal(persistent.fits, false);
    assert.match(persistent.misfit!, /network .* off the fit by -?\d+%/);
  });

  it('bounded: networks that do not fit the time bound are skipped; fewer than 4 networks refuse', async () => {
    await assert.rejects(calibrateHost({ device, table, runtime: fakeHost(), ...FAST, budgetMs: 0 }), /measured only 1 networks within its 0 s bound \(skipped: .*out of time/);
  });

  it('stale when old; damaged files and files of an older format are skipped, left in place, and redone', async () => {
    const dir = tmp('cal-');
    const c = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.6 }), ...FAST });
    saveCalibration({ ...c, createdAt: new Date(Date.now() - 40 * 86_400_000).toISOString() }, dir);
    writeFileSync(join(dir, `${device.id}--0000000000000000.json`), '{"format": "nas-host-calibration", trunc');
    const s = calibrationStatus(hostFingerprint(device, table), dir);
    assert.equal(s.state, 'stale');
    assert.match(s.reasons.join(), /made 40 days ago/);
    assert.ok(existsSync(join(dir, `${device.id}--0000000000000000.json`)));
    // format 3 (wall-clock milliseconds, no reference timing): ignored, and redone as format 4
    const dir3 = tmp('cal-');
    const old = { ...c, formatVersion: 3, mapping: { scale: 0.6, conv1x1Scale: 0.6, overheadMs: 0.01 }, reference: undefined };
    mkdirSync(dir3, { recursive: true });
    writeFileSync(join(dir3, `${device.id}--${c.fingerprintId}.json`), JSON.stringify(old));
    assert.equal(calibrationStatus(hostFingerprint(device, table), dir3).state, 'none');
    const redone = await ensureHostCalibration({ device, table, runtime: fakeHost({ scale: 0.6 }), dir: dir3, ...FAST });
    assert.equal(redone.state, 'fresh');
    assert.equal(redone.calibration!.formatVersion, 4);
  });

  it('loadPredictor: ratios -> ms with the latest reference timing; none/off reported; never applied to a remote device', async () => {
    const c = await calibrateHost({ device, table, runtime: fakeHost({ scale: 0.5, overheadMs: 0.1 }), ...FAST });
    const spec = sampleArch(SKELETON_SMALL, createRng(5));
    const raw = loadPredictorFor(table, { calibration: 'off' });
    assert.equal(raw.calibration.state, 'off');
    const t = raw.predict(spec, input, 10).latencyMs;
    const tr = tableRatio(expandNetwork(spec, input, 10));
    const inj = loadPredictorFor(table, { calibration: c }).predict(spec, input, 10);
    assert.ok(Math.abs(inj.latencyMs - applyMapping(c.mapping, tr.all, tr.conv1x1) * c.reference.ms) < 1e-9);
    assert.ok(Math.abs(inj.latencyMs - (inj.kernelSumMs + c.mapping.overheadRatio * c.reference.ms)) < 1e-9, 'host kernel times add up to the prediction');
    assert.equal(inj.tableLatencyMs, t);
    assert.equal(inj.referenceMs, c.reference.ms);
    const calDir = tmp('cal-');
    assert.equal(loadPredictorFor(table, { calibrationsDir: calDir }).calibration.state, 'none');
    saveCalibration(c, calDir);
    const auto = loadPredictorFor(table, { calibrationsDir: calDir });
    assert.equal(auto.calibration.state, 'fresh');
    assert.equal(auto.table.kind, 'full');
    const ms1 = auto.predict(spec, input, 10).latencyMs;
    // a newer measurement of the reference (the host became 1.5x slower): every prediction in ms follows it
    saveReferenceTiming(device.id, fingerprintId(hostFingerprint(device, table)), { ms: 1.5 * c.reference.ms, measuredAt: new Date(Date.now() + 1000).toISOString(), calls: 80 }, calDir);
    const later = loadPredictorFor(table, { calibrationsDir: calDir });
    assert.ok(Math.abs(later.predict(spec, input, 10).latencyMs / ms1 - 1.5) < 1e-9);
    assert.match(describeCalibration(later.calibration), new RegExp(`reference ${(1.5 * c.reference.ms).toFixed(4)} ms \\(wall clock, measured `));
    const remote: DeviceProfile = { ...device, id: 'phone-x', runtime: 'tflite-android' };
    const rp = loadPredictorFor({ ...table, device: remote }, { calibration: c });
    assert.equal(rp.calibration.state, 'remote');
    assert.equal(rp.predict(spec, input, 10).latencyMs, t);
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
