// `nas doctor`: which training backend this machine gets and why, thread
// count, the machine (CPU, cores, memory, Node), and which host latency
// calibration is in force for each local device (read only: doctor measures
// nothing; `nas latency calibrate` does).

import type { Command } from 'commander';
import os from 'node:os';
import { BACKEND_CHOICES, type BackendChoice, initBackend, type BackendResult } from '../engine/backend.ts';
import { fastBackendInfo } from '../engine/fast_backend.ts';
import { calibrationStatus, describeCalibration, hostFingerprint, isLocalRuntime } from '../latency/calibration.ts';
import { listDevices } from '../latency/device.ts';
import { loadTable } from '../latency/table.ts';
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

export interface LatencyCalibrationInfo {
  device: string;
  state: string;
  createdAt: string | null;
  summary: string;
}

/** The host calibration in force for every local device that has a table. */
export function latencyCalibrations(): LatencyCalibrationInfo[] {
  const out: LatencyCalibrationInfo[] = [];
  for (const d of listDevices().filter((x) => isLocalRuntime(x.runtime) && x.runtime !== 'fake')) {
    try {
      const s = calibrationStatus(hostFingerprint(d, loadTable(d.id)));
      out.push({ device: d.id, state: s.state, createdAt: s.calibration?.createdAt ?? null, summary: describeCalibration(s) });
    } catch (e) {
      out.push({ device: d.id, state: 'none', createdAt: null, summary: `no usable table: ${(e as Error).message}` });
    }
  }
  return out;
}

export interface DoctorReport {
  backend: BackendResult;
  fastKernels: string[];
  machine: MachineInfo;
  latencyCalibrations: LatencyCalibrationInfo[];
}

export async function doctorReport(backend?: BackendChoice): Promise<DoctorReport> {
  const result = await initBackend(backend ? { backend } : {});
  return { backend: result, fastKernels: fastBackendInfo()?.kernels ?? [], machine: machineInfo(), latencyCalibrations: latencyCalibrations() };
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
  if (r.latencyCalibrations.length > 0) {
    lines.push('latency calibration to this host (nas latency calibrate --device <id> to redo):');
    for (const c of r.latencyCalibrations) lines.push(`  - ${c.device}: ${c.summary}`);
  }
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
