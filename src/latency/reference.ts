// The reference network's wall-clock latency on this host, now: the factor
// that turns reference-unit costs (host calibration, adapted tables) into
// milliseconds. The reference network takes 0.1-0.3 ms a call, so a
// measurement (20 warm-up calls, then 2 passes of 40 single timed calls,
// calls preempted by other processes left out; calibration-wall.ts) costs
// well under a second, and is repeated wherever a prediction in ms is shown
// or checked. A busy machine whose passes disagree gets the median of every
// call instead of a refusal: this is the speed of the moment, whatever it is.

import { measureWallClock } from './calibration-wall.ts';
import type { ReferenceTiming } from './calibration.ts';
import { MeasurementError, referencePlan, type LatencyRuntime } from './runtime.ts';

export const REFERENCE_WALL = { warmup: 20, calls: 40, passes: 2, tolerance: 0.1, maxAttempts: 2 } as const;

export async function measureReference(runtime: LatencyRuntime): Promise<ReferenceTiming> {
  const model = await runtime.prepare(referencePlan());
  try {
    let ms: number, calls: number;
    try {
      const m = await measureWallClock(model, REFERENCE_WALL, 'reference network');
      ms = m.medianMs;
      calls = m.calls;
    } catch (e) {
      if (!(e instanceof MeasurementError)) throw e;
      const m = await measureWallClock(model, { warmup: 0, calls: 80, passes: 1, dropPreempted: false, maxAttempts: 1 }, 'reference network');
      ms = m.plainMedianMs;
      calls = m.calls;
    }
    if (!(ms > 0) || !Number.isFinite(ms)) throw new MeasurementError(`reference network: wall-clock latency ${ms} ms is not a positive number`);
    return { ms, measuredAt: new Date().toISOString(), calls };
  } finally {
    model.dispose();
  }
}
