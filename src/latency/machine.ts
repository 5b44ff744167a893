// Description of the machine this process runs on (stored in tables).

import { cpus, release, type } from 'node:os';
import type { MachineInfo } from './table.ts';

export function describeMachine(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model?.trim() || 'unknown',
    cores: c.length,
    os: `${type()} ${release()}`,
    node: process.version,
  };
}
