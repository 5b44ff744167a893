// A foreign CPU, adapted to instead of refused, on a synthetic distortion of
// a table: the fake "table machine" profiles a table; a fake host whose
// per-class relative costs differ (depthwise 1.8x, SE 0.55x, k x k convolutions 0.8x, 1x1
// convolutions 1.25x) makes the host calibration mark it as not fitting; the
// quick adaptation (a stratified subset measured, the rest transferred)
// brings held-out networks within ±10%, the full profile closer still. An
// interrupted profile (Ctrl-C, kill -9, a full disk) leaves the previous table
// in force and resumes where it stopped.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { adaptationNeeded, adaptDevice, AdaptInterrupted, type AdaptEvent } from '../../src/app/adapt.ts';
import { dataPaths } from '../../src/config/paths.ts';
import { applyMapping, calibrationStatus, hostFingerprint, saveCalibration, tableNetworkMs } from '../../src/latency/calibration.ts';
import { calibrateHost } from '../../src/latency/calibration-run.ts';
import { decomposePlan } from '../../src/latency/kernels.ts';
import { partialPath } from '../../src/latency/partial.ts';
import { createPredictor } from '../../src/latency/predictor.ts';
import { referencePlan } from '../../src/latency/runtime.ts';
import { classCoverage, classOf, kernelClass, missingClasses, stratifiedSubset, stratumOf, tableKernels } from '../../src/latency/strata.ts';
import { loadTable, loadTableFile, saveTable, type LatencyTable } from '../../src/latency/table.ts';
import { chooseTransfer, crossValidate, fitPerClass, transferPairs } from '../../src/latency/transfer.ts';
import { expandNetwork, type NetworkPlan } from '../../src/space/network.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { fakeDevice as device, fakeHost, fakeTable, hostPlanMs, input28 as input, type HostOptions } from './fake-host.ts';

const FOREIGN: HostOptions = { scale: 0.7, overheadMs: 0.01, distort: { dwconv: 1.8, se: 0.55, conv1x1: 1.25, conv: 0.8 } };
const FAST = { calibrate: { rounds: 9, classKernels: 2 }, measure: { repeats: 3, warmup: 0 } };

const heldOut = (n: number, seed: number): NetworkPlan[] => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => expandNetwork(sampleArch(SKELETON_SMALL, rng), input, 10));
};

/** Fraction of networks whose predicted reference ratio (table + calibration) is within ±10% of the host's. */
function within10(table: LatencyTable, mapping: Parameters<typeof applyMapping>[0], plans: NetworkPlan[], o: HostOptions): number {
  const p = createPredictor(table);
  const ok = plans.filter((plan) => {
    const t = tableNetworkMs(p.predictKernels(decomposePlan(plan)));
    const pred = applyMapping(mapping, t.tableMs / table.measure.referenceMs, t.conv1x1TableMs / table.measure.referenceMs);
    return Math.abs(pred / (hostPlanMs(plan, o) / hostPlanMs(referencePlan(), o)) - 1) <= 0.1;
  });
  return ok.length / plans.length;
}

describe('strata and transfer', async () => {
  const table = await fakeTable();
  const ks = tableKernels(table);

  it('the stratified subset holds every stratum and class, spread over each stratum; any prefix reaches every stratum early', () => {
    const sub = stratifiedSubset(ks, (k) => table.entries[k].latencyMs, { fraction: 0.08, minPerStratum: 3 });
    const strata = new Set(ks.map(stratumOf));
    assert.deepEqual(new Set(sub.map(stratumOf)), strata);
    assert.deepEqual(missingClasses(ks, new Set(sub.map((k) => k.key))), []);
    assert.ok(sub.length < 0.2 * ks.length, `${sub.length} of ${ks.length}`);
    // round-robin: the first |classes| picks are one per class, the first |strata| one per stratum
    const classes = new Set(ks.map(classOf));
    assert.equal(new Set(sub.slice(0, classes.size).map(classOf)).size, classes.size);
    assert.equal(new Set(sub.slice(0, strata.size).map(stratumOf)).size, strata.size);
    // within a stratum of 10+ kernels, the picks span its range: its cheapest and dearest kernels are in
    const big = [...strata].find((s) => ks.filter((k) => stratumOf(k) === s).length >= 10)!;
    const members = ks.filter((k) => stratumOf(k) === big).sort((a, b) => table.entries[a.key].latencyMs - table.entries[b.key].latencyMs);
    const picked = new Set(sub.filter((k) => stratumOf(k) === big).map((k) => k.key));
    assert.ok(picked.has(members[0].key) && picked.has(members.at(-1)!.key));
    assert.equal(classOf(ks.find((k) => k.key.startsWith('conv_k1_'))!), 'conv1x1@28x28x1');
  });

  it('coverage names the classes with no measured kernel', () => {
    const noSe = new Set(ks.filter((k) => kernelClass(k.kernel) !== 'se' && kernelClass(k.kernel) !== 'gap').map((k) => k.key));
    assert.deepEqual(missingClasses(ks, noSe), ['gap@28x28x1', 'se@28x28x1']);
    const cov = classCoverage(ks, noSe);
    assert.equal(cov.find((c) => c.cls === 'se@28x28x1')!.measured, 0);
    assert.equal(cov.find((c) => c.cls === 'dwconv@28x28x1')!.measured, cov.find((c) => c.cls === 'dwconv@28x28x1')!.total);
  });

  it('per-class transfer recovers per-class distortions; cross-validation scores both methods and picks the lower error', () => {
    const sub = stratifiedSubset(ks, (k) => table.entries[k].latencyMs);
    const host = (k: (typeof ks)[number]) => 2 * (table.entries[k.key].latencyMs - table.measure.baselineMs) * (FOREIGN.distort![kernelClass(k.kernel)] ?? 1) + 0.001;
    const measured = new Map(sub.map((k) => [k.key, host(k)]));
    const pairs = transferPairs(ks, (key) => table.entries[key]?.latencyMs, table.measure.baselineMs, measured, 0.001);
    assert.equal(pairs.length, sub.length);
    const map = fitPerClass(pairs);
    const rest = ks.filter((k) => !measured.has(k.key));
    const errs = rest.map((k) => Math.abs(map(k, table.entries[k.key].latencyMs - table.measure.baselineMs) / (host(k) - 0.001) - 1));
    assert.ok(errs.filter((e) => e <= 0.02).length / errs.length > 0.95, `share within 2%: ${errs.filter((e) => e <= 0.02).length / errs.length}`);
    const cv = ['per-class', 'features'].map((m) => crossValidate(m as 'per-class' | 'features', pairs));
    const chosen = chooseTransfer(pairs);
    assert.equal(chosen.method, cv[0].weightedErr <= cv[1].weightedErr ? 'per-class' : 'features');
    assert.ok(cv[0].weightedErr < 0.02, JSON.stringify(cv[0]));
  });
});

describe('a foreign CPU: adapt, do not refuse', () => {
  let table: LatencyTable;
  before(async () => {
    table = await fakeTable();
  });

  it('calibration marks the table as not fitting; the quick adaptation transfers it (>= 95% of held-out networks within ±10%), the full profile replaces it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'adapt-'));
    const paths = dataPaths(data);
    const cal = await calibrateHost({ device, table, runtime: fakeHost(FOREIGN), ...FAST.calibrate });
    assert.equal(cal.fits, false);
    const plans = heldOut(60, 4242);
    const beforeShare = within10(table, cal.mapping, plans, FOREIGN);
    assert.ok(beforeShare < 0.9, `the shipped table after calibration: ${beforeShare}`);
    saveCalibration(cal, paths.calibrations);
    const need = adaptationNeeded(table, true, calibrationStatus(hostFingerprint(device, table), paths.calibrations));
    assert.equal(need?.phase, 'quick');
    assert.match(need!.reason, /relative costs do not fit this host \(.*per-class error/);

    const host = fakeHost(FOREIGN);
    const events: AdaptEvent[] = [];
    const quick = await adaptDevice({ device, source: { table, shipped: true }, runtime: host, dataDir: data, quickOnly: true, ...FAST, onEvent: (e) => events.push(e) });
    assert.equal(quick.kind, 'transferred');
    const prov = quick.table.provenance!;
    assert.ok(prov.measuredKernels < 0.2 * prov.totalKernels && prov.classes.every((c) => c.measured > 0), JSON.stringify(prov.classes));
    assert.equal(prov.transfer!.crossValidation.length, 2);
    // the method kept is the one whose table predicts the calibration networks best (each without itself)
    const scores = prov.transfer!.networks!;
    assert.equal(scores.length, 2);
    assert.equal(scores.find((x) => x.method === prov.transfer!.method)!.within10, Math.max(...scores.map((x) => x.within10 ?? -1)));
    assert.ok(prov.expectedAccuracy && prov.expectedAccuracy.networks >= 5);
    assert.equal(quick.calibration.fits, true, quick.calibration.misfit);
    const quickShare = within10(quick.table, quick.calibration.mapping, plans, FOREIGN);
    assert.ok(quickShare >= 0.95, `after the quick subset: ${quickShare}`);
    // written where every process looks first, with its calibration; the service and CLI say which table is in force
    const inForce = loadTableFile(device.id, paths.latencyTables);
    assert.equal(inForce.table.provenance?.kind, 'transferred');
    assert.equal(calibrationStatus(hostFingerprint(device, inForce.table), paths.calibrations).calibration?.fits, true);
    assert.equal(adaptationNeeded(inForce.table, false, calibrationStatus(hostFingerprint(device, inForce.table), paths.calibrations))?.phase, 'full');
    const kinds = events.map((e) => e.type);
    assert.deepEqual([kinds[0], kinds.at(-2), kinds.at(-1)], ['adapt-started', 'adapt-table', 'adapt-done']);
    const prog = events.filter((e): e is Extract<AdaptEvent, { type: 'adapt-progress' }> => e.type === 'adapt-progress');
    assert.ok(prog.length >= 10 && prog.at(-1)!.done === prog.at(-1)!.total && prog.every((e) => e.phase === 'quick'), `${prog.length} progress events`);
    assert.ok(existsSync(partialPath(paths.latencyTables, device.id)), 'the partial profile is kept for the full run');

    // the full profile resumes the same partial: the quick kernels are not measured again
    const preparedBefore = host.prepared;
    const full = await adaptDevice({ device, source: { table, shipped: true }, runtime: host, dataDir: data, ...FAST, onEvent: (e) => events.push(e) });
    assert.equal(full.kind, 'full');
    assert.equal(full.table.provenance!.measuredKernels, full.table.provenance!.totalKernels);
    const fullKernels = host.prepared - preparedBefore;
    assert.ok(fullKernels <= prov.totalKernels - prov.measuredKernels + 2, `measured ${fullKernels} models, ${prov.totalKernels - prov.measuredKernels} kernels were left`);
    assert.ok(within10(full.table, full.calibration.mapping, plans, FOREIGN) >= 0.99);
    assert.equal(loadTable(device.id, paths.latencyTables).provenance?.kind, 'full');
    assert.ok(!existsSync(partialPath(paths.latencyTables, device.id)), 'the partial profile is removed once the full table is written');
    assert.equal(adaptationNeeded(full.table, false, calibrationStatus(hostFingerprint(device, full.table), paths.calibrations)), null);
  });

  it('interrupted (Ctrl-C, kill -9 mid-append, a full disk): the previous table stays in force, no half-written table, and the profile resumes', async () => {
    const data = mkdtempSync(join(tmpdir(), 'adapt-int-'));
    const paths = dataPaths(data);
    const previous = { ...table, createdAt: '2026-01-01T00:00:00.000Z' };
    saveTable(previous, paths.latencyTables);
    const tablePath = join(paths.latencyTables, `${device.id}.json`);
    const before = readFileSync(tablePath, 'utf8');
    const host = fakeHost(FOREIGN);
    // Ctrl-C after 40 kernels
    let n = 0;
    const cancel = { get cancelled() { return n >= 40; } };
    await assert.rejects(adaptDevice({ device, source: { table, shipped: true }, runtime: host, dataDir: data, quickOnly: true, ...FAST, cancel, onEvent: (e) => { if (e.type === 'adapt-progress') n = e.done; } }), AdaptInterrupted);
    assert.equal(readFileSync(tablePath, 'utf8'), before, 'the previous table is untouched');
    const partial = partialPath(paths.latencyTables, device.id);
    const lines = readFileSync(partial, 'utf8').trim().split('\n');
    assert.ok(lines.length >= 40, `${lines.length} lines`);
    // kill -9 in the middle of an append: a truncated last line
    writeFileSync(partial, readFileSync(partial, 'utf8') + '{"t":"kernel","key":"conv_k3_s1_i8_o8_h14x1');
    // a full disk after 20 more records: the append fails, nothing else is written
    let appended = 0;
    const full = (path: string, line: string) => {
      if (++appended > 20) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
      writeFileSync(path, line, { flag: 'a' });
    };
    await assert.rejects(adaptDevice({ device, source: { table, shipped: true }, runtime: host, dataDir: data, quickOnly: true, ...FAST, appendLine: full }), /ENOSPC/);
    assert.equal(readFileSync(tablePath, 'utf8'), before);
    assert.deepEqual(readdirSync(paths.latencyTables).filter((f) => f.includes('.tmp-')), [], 'no temp file left behind');
    // resumed: only the kernels not measured before are measured (the truncated record is dropped)
    const events: AdaptEvent[] = [];
    const prepared = host.prepared;
    const r = await adaptDevice({ device, source: { table, shipped: true }, runtime: host, dataDir: data, quickOnly: true, ...FAST, onEvent: (e) => events.push(e) });
    const started = events.find((e): e is Extract<AdaptEvent, { type: 'adapt-started' }> => e.type === 'adapt-started')!;
    assert.ok(started.resumedKernels >= 59, `resumed ${started.resumedKernels}`);
    const quickLeft = started.quickKernels - started.resumedKernels;
    const kernelModels = host.prepared - prepared;
    // the kernels left, plus the calibration networks and the class-check kernels (measured once, after the subset)
    assert.ok(kernelModels >= quickLeft && kernelModels <= quickLeft + 60, `${kernelModels} models for ${quickLeft} kernels left`);
    assert.equal(r.kind, 'transferred');
    assert.equal(loadTable(device.id, paths.latencyTables).provenance?.kind, 'transferred');
  });
});
