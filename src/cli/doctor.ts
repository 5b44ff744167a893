// `nas doctor`: which training backend this machine gets and why, thread
// count, and the machine (CPU, cores, memory, Node).

import type { Command } from 'commander';
import os from 'node:os';
import { BACKEND_CHOICES, type BackendChoice, initBackend, type BackendResult } from '../engine/backend.ts';
import { fastBackendInfo } from '../engine/fast_backend.ts';
import { UsageError } from './errors.ts';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

export interface DoctorReport {
  backend: BackendResult;
  fastKernels: string[];
  machine: MachineInfo;
}

export async function doctorReport(backend?: BackendChoice): Promise<DoctorReport> {
  const result = await initBackend(backend ? { backend } : {});
  return { backend: result, fastKernels: fastBackendInfo()?.kernels ?? [], machine: machineInfo() };
}

export function formatDoctor(r: DoctorReport): string {
  const m = r.machine;
  const lines = [
    `backend:  ${r.backend.name} (tfjs backend "${r.backend.tfBackend}")`,
    `threads:  ${r.backend.threads}`,
    'selection:',
    ...r.backend.reason.map((l) => `  - ${l}`),
  ];
  if (r.fastKernels.length > 0) lines.push(`fast-path kernels: ${r.fastKernels.join(', ')}`);
  lines.push(`machine:  ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`);
  return lines.join('\n');
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('show the training backend in use, why better ones were skipped, threads and the machine')
    .option('--backend <name>', `force a backend (${BACKEND_CHOICES.join(' | ')}); default: NAS_BACKEND or auto`)
    .option('--json', 'print JSON')
    .action(async (opts: { backend?: string; json?: boolean }) => {
      if (opts.backend !== undefined && !(BACKEND_CHOICES as readonly string[]).includes(opts.backend)) {
        throw new UsageError(`unknown backend "${opts.backend}": expected one of ${BACKEND_CHOICES.join(', ')}`);
      }
      const report = await doctorReport(opts.backend as BackendChoice | undefined);
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatDoctor(report)) + '\n');
    });
}
