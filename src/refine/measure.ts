// Latency of a network measured on its device's runtime, in the unit its
// predictor speaks, so measured and predicted figures compare directly:
//   'table'   the device table's unit (the measurer interleaves the table's
//             reference network and reuses its referenceMs, src/latency/runtime.ts),
//             for a predictor without host calibration;
//   'host-ms' this host's wall-clock ms (src/latency/calibration-wall.ts, the
//             method host calibration is fitted with), for a calibrated predictor.
// Devices whose runtime is remote (a phone, a browser) cannot be measured
// here: the result says so.

import { measureWallClock } from '../latency/calibration-wall.ts';
import { loadDevice } from '../latency/device.ts';
import { createMeasurer, LOCAL_RUNTIME_IDS } from '../latency/runtime.ts';
import { createRuntime } from '../latency/runtimes/index.ts';
import { loadTable } from '../latency/table.ts';
import { expandNetwork } from '../space/network.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';

export type DeviceMeasurement =
  | { measured: true; latencyMs: number; relIqr: number; runtime: string; repeats: number }
  | { measured: false; reason: string };

export type LatencyUnit = 'table' | 'host-ms';

export async function measureOnDevice(deviceId: string, spec: ArchSpec, input: InputShape, numClasses: number, opts: { repeats?: number; unit?: LatencyUnit } = {}): Promise<DeviceMeasurement> {
  const device = loadDevice(deviceId);
  if (!LOCAL_RUNTIME_IDS.includes(device.runtime)) {
    return { measured: false, reason: `device ${deviceId} runs ${device.runtime}, which cannot run in this process; measure the exported file on the device` };
  }
  const table = loadTable(deviceId);
  const mm = table.measure;
  const runtime = await createRuntime(device.runtime);
  try {
    if (opts.unit === 'host-ms') {
      const model = await runtime.prepare(expandNetwork(spec, input, numClasses));
      try {
        const m = await measureWallClock(model, {}, `network on ${deviceId}`);
        return { measured: true, latencyMs: m.medianMs, relIqr: m.relIqr, runtime: `${runtime.id} ${runtime.version}, ${runtime.threads} thread(s), wall clock (host ms)`, repeats: m.calls };
      } finally {
        model.dispose();
      }
    }
    const measurer = await createMeasurer(runtime, {
      warmup: mm.warmup, repeats: mm.repeats, batchMs: mm.batchMs, clock: mm.clock, useReference: mm.useReference,
      referenceMs: mm.useReference ? mm.referenceMs : undefined,
    });
    try {
      const repeats = opts.repeats ?? mm.networkRepeats ?? mm.repeats;
      const m = await measurer.measure(expandNetwork(spec, input, numClasses), repeats);
      return { measured: true, latencyMs: m.medianMs, relIqr: m.relIqr, runtime: `${runtime.id} ${runtime.version}, ${runtime.threads} thread(s), table unit`, repeats };
    } finally {
      measurer.close();
    }
  } finally {
    await runtime.close();
  }
}
