// Latency of a network measured on its device's runtime, in the unit of the
// device's latency table (the measurer interleaves the table's reference
// network and reuses its referenceMs, src/latency/runtime.ts), so measured
// and predicted figures compare directly. Devices whose runtime is remote
// (a phone, a browser) cannot be measured here: the result says so.

import { loadDevice } from '../latency/device.ts';
import { createMeasurer, LOCAL_RUNTIME_IDS } from '../latency/runtime.ts';
import { createRuntime } from '../latency/runtimes/index.ts';
import { loadTable } from '../latency/table.ts';
import { expandNetwork } from '../space/network.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';

export type DeviceMeasurement =
  | { measured: true; latencyMs: number; relIqr: number; runtime: string; repeats: number }
  | { measured: false; reason: string };

export async function measureOnDevice(deviceId: string, spec: ArchSpec, input: InputShape, numClasses: number, opts: { repeats?: number } = {}): Promise<DeviceMeasurement> {
  const device = loadDevice(deviceId);
  if (!LOCAL_RUNTIME_IDS.includes(device.runtime)) {
    return { measured: false, reason: `device ${deviceId} runs ${device.runtime}, which cannot run in this process; measure the exported file on the device` };
  }
  const table = loadTable(deviceId);
  const mm = table.measure;
  const runtime = await createRuntime(device.runtime);
  try {
    const measurer = await createMeasurer(runtime, {
      warmup: mm.warmup, repeats: mm.repeats, batchMs: mm.batchMs, clock: mm.clock, useReference: mm.useReference,
      referenceMs: mm.useReference ? mm.referenceMs : undefined,
    });
    try {
      const repeats = opts.repeats ?? mm.networkRepeats ?? mm.repeats;
      const m = await measurer.measure(expandNetwork(spec, input, numClasses), repeats);
      return { measured: true, latencyMs: m.medianMs, relIqr: m.relIqr, runtime: `${runtime.id} ${runtime.version}, ${runtime.threads} thread(s)`, repeats };
    } finally {
      measurer.close();
    }
  } finally {
    await runtime.close();
  }
}
