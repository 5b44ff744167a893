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

  it('describes and compares CPUs by vendor, family and model when both recorded them, else by name', () => {
    const a = { cpu: 'Intel(R) Xeon(R) Processor', cpuVendor: 'GenuineIntel', cpuFamily: 6, cpuModel: 207, cores: 2, os: 'x', node: 'v20' };
    assert.equal(describeCpu(a), 'Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 207)');
    assert.equal(describeCpu({ cpu: 'AMD EPYC' }), 'AMD EPYC (vendor, family and model not recorded)');
    assert.equal(sameCpu(a, { ...a, cpuModel: 143 }), false, 'same name, another generation');
    assert.equal(sameCpu(a, { ...a, cpu: 'renamed' }), true);
    assert.equal(sameCpu({ cpu: 'AMD EPYC', cores: 2, os: '', node: '' }, a), false);
    const here = describeMachine();
    assert.ok(here.cores >= 1 && here.cpu.length > 0);
    if (process.platform === 'linux') assert.ok(here.cpuVendor && Number.isInteger(here.cpuFamily) && Number.isInteger(here.cpuModel), JSON.stringify(here));
  });
});
