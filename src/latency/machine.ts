// Description of the machine this process runs on (stored in tables and
// host calibrations). A name such as "Intel(R) Xeon(R) Processor" or "AMD
// EPYC" covers many CPUs with different relative kernel costs, so the CPU's
// vendor, family and model numbers (Linux /proc/cpuinfo: vendor_id, cpu
// family, model) are recorded beside it when the OS tells them.

import { readFileSync } from 'node:fs';
import { cpus, release, type } from 'node:os';
import type { MachineInfo } from './table.ts';

export interface CpuId {
  vendor: string;
  family: number;
  model: number;
}

/** vendor_id, cpu family and model of the first processor in a /proc/cpuinfo text; undefined when absent. */
export function parseCpuInfo(text: string): CpuId | undefined {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim();
  const vendor = field('vendor_id');
  const family = Number(field('cpu family'));
  const model = Number(field('model'));
  if (!vendor || !Number.isInteger(family) || !Number.isInteger(model)) return undefined;
  return { vendor, family, model };
}

let cpuId: CpuId | null | undefined;
function readCpuId(): CpuId | undefined {
  if (cpuId === undefined) {
    try {
      cpuId = parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8')) ?? null;
    } catch {
      cpuId = null;
    }
  }
  return cpuId ?? undefined;
}

export function describeMachine(): MachineInfo {
  const c = cpus();
  const id = readCpuId();
  return {
    cpu: c[0]?.model?.trim() || 'unknown',
    ...(id ? { cpuVendor: id.vendor, cpuFamily: id.family, cpuModel: id.model } : {}),
    cores: c.length,
    os: `${type()} ${release()}`,
    node: process.version,
  };
}

/** "Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 167)", or the bare name when the numbers were not recorded. */
export function describeCpu(m: Pick<MachineInfo, 'cpu' | 'cpuVendor' | 'cpuFamily' | 'cpuModel'>): string {
  return m.cpuVendor !== undefined ? `${m.cpu} (${m.cpuVendor} family ${m.cpuFamily} model ${m.cpuModel})` : `${m.cpu} (vendor, family and model not recorded)`;
}

/**
 * Same CPU kind: same vendor, family and model when both sides recorded them; the same name when
 * neither did. When only one side recorded them the other is not known to be the same kind (a
 * name like "AMD EPYC" covers several generations): false.
 */
export function sameCpu(a: MachineInfo, b: MachineInfo): boolean {
  if (a.cpuVendor !== undefined && b.cpuVendor !== undefined) return a.cpuVendor === b.cpuVendor && a.cpuFamily === b.cpuFamily && a.cpuModel === b.cpuModel;
  if (a.cpuVendor !== undefined || b.cpuVendor !== undefined) return false;
  return a.cpu === b.cpu;
}
