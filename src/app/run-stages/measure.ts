// Stage 4 of `nas run`: the trained network's latency measured on the
// device's runtime (in the predictor's unit), before export; hard mode
// re-shrinks on a measured miss (src/app/run.ts). Its result travels to the
// export stage and into the model card (the measurement is redone on
// resume: it is quick and must be fresh). Never cut by a budget. Progress:
// when it starts and when it ends, heartbeats in between.

import type { DeviceMeasurement } from '../../refine/measure.ts';
import type { ArchSpec, InputShape } from '../../space/types.ts';
import type { ModelCheckpoint } from '../../store/models.ts';
import type { RunSession } from './session.ts';

export interface Measured {
  spec: ArchSpec;
  input: InputShape;
  predictedMs: number;
  /** null when the device's runtime cannot run here (a phone) */
  measuredMs: number | null;
  meas: DeviceMeasurement;
  /** measured (else predicted) latency minus T */
  overMs: number;
}

/** Reports `what` while `work` runs: at its start and every heartbeat interval after (when the event loop is free). */
export async function withHeartbeat<T>(s: RunSession, task: string, unit: 'network' | 'format', work: () => Promise<T>): Promise<T> {
  const progress = s.progress();
  const t0 = s.clock();
  progress.report({ task, done: 0, total: 1, unit });
  const timer = setInterval(() => progress.beat(() => ({ task, done: 0, total: 1, unit, message: `${((s.clock() - t0) / 1000).toFixed(0)} s so far` })), 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export async function measureStage(s: RunSession, trained: ModelCheckpoint): Promise<Measured> {
  const { spec, input } = trained;
  const predictedMs = s.predict(spec, input);
  s.enter('measure');
  const meas = await withHeartbeat(s, `measuring on ${s.o.deviceId}`, 'network', () => s.measure(spec, input));
  const measuredMs = meas.measured ? meas.latencyMs : null;
  s.log(meas.measured ? `measured ${meas.latencyMs.toFixed(4)} ms on ${meas.runtime} (predicted ${predictedMs.toFixed(4)} ms)` : `not measured: ${meas.reason}`, meas.measured ? 'info' : 'warn');
  s.progress().report({
    task: `measuring on ${s.o.deviceId}`, done: 1, total: 1, unit: 'network',
    message: meas.measured ? `${meas.latencyMs.toFixed(4)} ms measured, ${predictedMs.toFixed(4)} ms predicted, target ${s.Tms} ms` : `not measured: ${meas.reason}`,
  });
  return { spec, input, predictedMs, measuredMs, meas, overMs: (measuredMs ?? predictedMs) - s.T };
}
