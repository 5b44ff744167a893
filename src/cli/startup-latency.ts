// `npm start`'s latency check, in the background while the service answers:
// calibrate the check device to this host and print the check (both truths,
// host-check.ts); when the table's relative costs do not fit this host (a
// foreign CPU), re-profile the device here in a child process (`nas latency
// adapt --events`: measuring never stalls the server, and a stop leaves a
// resumable partial profile), print its progress, and print the check again
// once the transferred table and once the full table is in force. A
// transferred table whose full profile was interrupted is resumed at the
// next start.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { adaptationNeeded, type AdaptEvent } from '../app/adapt.ts';
import { PACKAGE_ROOT } from '../config/paths.ts';
import { calibrationStatus, hostFingerprint } from '../latency/calibration.ts';
import { loadDevice } from '../latency/device.ts';
import { checkHostLatency, formatHostLatencyCheck } from '../latency/host-check.ts';
import { loadTableFile } from '../latency/table.ts';

export interface StartupLatency {
  /** resolves when the check (and any adaptation) is over */
  done: Promise<void>;
  /** stop a running adaptation (its measurements are kept for the next start) */
  stop(): void;
}

function adaptEventLine(e: AdaptEvent, state: { tenth: Record<string, number> }): string | null {
  switch (e.type) {
    case 'adapt-started':
      return `re-profiling ${e.deviceId} on this host: ${e.reason}; quick: ${e.quickKernels} of ${e.totalKernels} kernels${e.resumedKernels > 0 ? `, ${e.resumedKernels} measured before` : ''}; then the full table in the background`;
    case 'adapt-progress': {
      const t = Math.floor((10 * e.done) / e.total);
      if (state.tenth[e.phase] === t) return null;
      state.tenth[e.phase] = t;
      return `${e.phase === 'quick' ? 'quick subset' : 'full table'} of ${e.deviceId}: ${e.done}/${e.total} kernels (${Math.round(e.elapsedS)} s)`;
    }
    case 'adapt-log':
      return null;
    case 'adapt-table':
      return `${e.deviceId}: the ${e.kind} table is in force: ${e.summary}`;
    case 'adapt-done':
      return null;
    case 'adapt-failed':
      return `re-profiling ${e.deviceId} stopped: ${e.error}; the previous table stays in force${e.partial ? `, measurements kept in ${e.partial} for the next start` : ''}`;
  }
}

/** Start the check (and adaptation when needed) for a local device; progress and results go to `log`. */
export function startupLatency(deviceId: string, dataDir: string, log: (m: string) => void): StartupLatency {
  let child: ChildProcess | null = null;
  let stopped = false;
  const check = async (when: string) => {
    const c = await checkHostLatency(deviceId, { onProgress: log });
    log(`${when}${formatHostLatencyCheck(c)}`);
  };
  const adapt = (reason: string) => new Promise<void>((resolve) => {
    child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'nas.js'), '--data-dir', dataDir, 'latency', 'adapt', '--device', deviceId, '--events', '--reason', reason], { stdio: ['ignore', 'pipe', 'pipe'] });
    const state = { tenth: {} as Record<string, number> };
    const checks: Promise<void>[] = [];
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-2000); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: AdaptEvent;
      try {
        e = JSON.parse(line) as AdaptEvent;
      } catch {
        return;
      }
      const text = adaptEventLine(e, state);
      if (text) log(text);
      // the check with the new table (measured while the child measures on: both are ratios to the reference)
      if (e.type === 'adapt-table') checks.push(check(`after the ${e.kind} table: `).catch((err: Error) => log(`latency check on ${deviceId} failed: ${err.message}`)));
    });
    child.once('exit', (code, signal) => {
      if (code !== 0 && !stopped) log(`re-profiling ${deviceId} exited with ${signal ?? `code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`);
      void Promise.all(checks).then(() => resolve());
    });
  });
  const done = (async () => {
    try {
      await check('');
      const device = loadDevice(deviceId);
      const { table, shipped } = loadTableFile(deviceId);
      const need = adaptationNeeded(table, shipped, calibrationStatus(hostFingerprint(device, table)));
      if (need && !stopped) await adapt(need.reason);
    } catch (e) {
      log(`latency check on ${deviceId} failed: ${(e as Error).message}`);
    }
  })();
  return {
    done,
    stop() {
      stopped = true;
      child?.kill('SIGTERM');
    },
  };
}
