// The CPU a table or calibration was measured on: vendor, family and model
// from /proc/cpuinfo beside the name, so "Intel(R) Xeon(R) Processor" of two
// generations (or "AMD EPYC" of two) are told apart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeCpu, describeMachine, parseCpuInfo, sameCpu } from '../../src/latency/machine.ts';

const INTEL = 'processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\nstepping\t: 2\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n';

describe('machine description', () => {
  it('parses vendor, family and model of the first processor; absent fields give undefined', () => {
    assert.deepEqual(parseCpuInfo(INTEL), { vendor: 'GenuineIntel', family: 6, model: 207 });
    assert.equal(parseCpuInfo('processor : 0\nmodel name : ARMv8\n'), undefined);
  });

  it('describes and compares CPUs by vendor, family and model when both recorded them, by name when neither did, as different when only one did', () => {
    const a = { cpu: 'Intel(R) Xeon(R) Processor', cpuVendor: 'GenuineIntel', cpuFamily: 6, cpuModel: 207, cores: 2, os: 'x', node: 'v20' };
    assert.equal(describeCpu(a), 'Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 207)');
    assert.equal(describeCpu({ cpu: 'AMD EPYC' }), 'AMD EPYC (vendor, family and model not recorded)');
    assert.equal(sameCpu(a, { ...a, cpuModel: 143 }), false, 'same name, another generation');
    assert.equal(sameCpu(a, { ...a, cpu: 'renamed' }), true);
    assert.equal(sameCpu({ cpu: 'AMD EPYC', cores: 2, os: '', node: '' }, a), false);
    // one side without vendor, family and model is not known to be the same kind, even by the same name
    const epyc = { cpu: 'AMD EPYC', cpuVendor: 'AuthenticAMD', cpuFamily: 25, cpuModel: 1, cores: 2, os: '', node: '' };
    assert.equal(sameCpu({ cpu: 'AMD EPYC', cores: 2, os: '', node: '' }, epyc), false);
    assert.equal(sameCpu(epyc, { cpu: 'AMD EPYC', cores: 2, os: '', node: '' }), false);
    assert.equal(sameCpu({ cpu: 'AMD EPYC', cores: 2, os: '', node: '' }, { cpu: 'AMD EPYC', cores: 4, os: 'y', node: '' }), true, 'neither recorded them: by name');
    const here = describeMachine();
    assert.ok(here.cores >= 1 && here.cpu.length > 0);
    if (process.platform === 'linux') assert.ok(here.cpuVendor && Number.isInteger(here.cpuFamily) && Number.isInteger(here.cpuModel), JSON.stringify(here));
  });
});
