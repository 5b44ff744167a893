// Learning-rate schedule: linear warm-up from 0 to the peak over the first
// warmupSteps, then cosine decay to 0 at totalSteps (SGDR without restarts).

export interface ScheduleOptions {
  peakLr: number;
  totalSteps: number;
  warmupSteps: number;
}

/** Learning rate for 0-based step index `step` (clamped to the schedule). */
export function cosineWithWarmup(step: number, o: ScheduleOptions): number {
  const s = Math.min(Math.max(step, 0), o.totalSteps);
  if (o.warmupSteps > 0 && s < o.warmupSteps) return (o.peakLr * (s + 1)) / o.warmupSteps;
  const decaySteps = Math.max(1, o.totalSteps - o.warmupSteps);
  const t = Math.min(1, (s - o.warmupSteps) / decaySteps);
  return 0.5 * o.peakLr * (1 + Math.cos(Math.PI * t));
}
