// `npm start` on a host whose CPU the table does not fit: the start-up check
// calibrates, finds the relative costs off (here a table whose depthwise and
// SE kernels are distorted against the fake runtime this host runs), re-
// profiles the device in a child process (`nas latency adapt --events`), and
// prints the check again once the transferred and once the full table is in
// force, within 10% (reference-interleaved truth). The whole path, with the
// fake runtime standing in for the CPU.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startupLatency } from '../../src/cli/startup-latency.ts';
import { dataPaths, setDataDir } from '../../src/config/paths.ts';
import { kernelClass } from '../../src/latency/strata.ts';
import { parseKernelKey } from '../../src/latency/kernels.ts';
import { loadTable, saveTable, type LatencyTable } from '../../src/latency/table.ts';
import { fakeDevice, fakeTable } from './fake-host.ts';

describe('start-up latency check on a foreign CPU', () => {
  it('re-profiles in the background and prints a check within 10% once the transferred and once the full table is in force', { timeout: 300_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'nas-startup-'));
    const paths = dataPaths(data);
    const t = await fakeTable({ maxKernels: 800 });
    const distort: Record<string, number> = { dwconv: 1.8, se: 0.55 };
    // measured on another CPU (as the shipped tables were)
    const table: LatencyTable = {
      ...t, machine: { cpu: 'AMD EPYC', cores: 2, os: 'Linux', node: 'v20' }, entries: Object.fromEntries(Object.entries(t.entries).map(([k, e]) => {
        // each kernel's own time (less the empty-model baseline every entry carries) distorted by class
        const ms = t.measure.baselineMs + (e.latencyMs - t.measure.baselineMs) * (distort[kernelClass(parseKernelKey(k))] ?? 1);
        return [k, { ...e, latencyMs: ms, rawMs: ms }];
      })),
    };
    mkdirSync(paths.deviceProfiles, { recursive: true });
    writeFileSync(join(paths.deviceProfiles, `${fakeDevice.id}.json`), JSON.stringify(fakeDevice));
    saveTable(table, paths.latencyTables);
    const lines: string[] = [];
    const before = process.env.NAS_HOST_CALIBRATION;
    process.env.NAS_HOST_CALIBRATION = 'measure';
    setDataDir(data);
    try {
      await startupLatency(fakeDevice.id, data, (m) => lines.push(m)).done;
    } finally {
      setDataDir(undefined);
      if (before === undefined) delete process.env.NAS_HOST_CALIBRATION;
      else process.env.NAS_HOST_CALIBRATION = before;
    }
    const text = lines.join('\n');
    const checks = lines.filter((l) => /latency check on fake-host/.test(l));
    assert.equal(checks.length, 3, text);
    assert.match(checks[0], /table: full \(measured .* on AMD EPYC \(vendor, family and model not recorded\)\).*relative costs do NOT fit this host/);
    assert.match(text, /re-profiling fake-host on this host: the full table's relative costs do not fit this host \(.*dwconv@28x28x1.*\); quick: \d+ of \d+ kernels/);
    assert.match(text, /quick subset of fake-host: \d+\/\d+ kernels/);
    assert.match(text, /fake-host: the transferred table is in force: transferred \(made /);
    assert.match(checks[1], /^after the transferred table: latency check on fake-host \(proxy-small 28x28x1; table: transferred .*\): predicted [\d.]+ ms, measured [\d.]+ ms .*ratio [\d.]+ \(within 10%\)/);
    assert.match(checks[2], /^after the full table: latency check on fake-host \(proxy-small 28x28x1; table: full .*\): .*ratio [\d.]+ \(within 10%\)/);
    assert.equal(loadTable(fakeDevice.id, paths.latencyTables).provenance?.kind, 'full');
  });
});
