// Fine-tuning with the project's trainer, for NetAdapt (short per-proposal
// runs, one longer run at the end) and for the final training of `nas run`:
// trainArch started from given weights, returning validation accuracy, the
// tuned weights and the measured throughput. Hooks (progress per epoch and
// batch, cancel, an early stop at a deadline) go through to the trainer.

import type { Dataset } from '../data/types.ts';
import type { ArchSpec } from '../space/types.ts';
import type { TrainConfig } from '../train/config.ts';
import { trainArch, type TrainOptions } from '../train/trainer.ts';
import type { FineTune } from './netadapt.ts';
import { modelWeights, type NamedWeights } from './prune.ts';

export type TrainHooks = Pick<TrainOptions, 'onEpoch' | 'onBatch' | 'cancel' | 'stopEarly'>;

export interface TrainedWeights {
  accuracy: number;
  testAccuracy?: number;
  weights: NamedWeights;
  /** training throughput (augmentation + forward + backward + update) */
  imagesPerSec: number;
  /** epochs run (the last one partial when stopped early) */
  epochs: number;
  stoppedEarly: boolean;
  wallMs: number;
}

/** Train `spec` (from `weights` when given) and return its weights; the model itself is disposed. */
export async function trainWeights(
  spec: ArchSpec, dataset: Dataset, config: TrainConfig, weights?: NamedWeights, evaluateTest = false, hooks: TrainHooks = {},
): Promise<TrainedWeights> {
  const r = await trainArch({ arch: spec, dataset, config, initialWeights: weights, keepModel: true, evaluateTest, ...hooks });
  const model = r.model!;
  try {
    return {
      accuracy: r.valAccuracy, testAccuracy: r.testAccuracy, weights: modelWeights(model), imagesPerSec: r.imagesPerSec,
      epochs: r.epochs.filter((e) => e.attempt === r.restarts).length, stoppedEarly: r.stoppedEarly ?? false, wallMs: r.wallMs,
    };
  } finally {
    model.dispose();
  }
}

/** NetAdapt's fine-tune on a dataset: `short` per proposal, `long` once at the end. */
export function trainerFineTune(dataset: Dataset, configs: { short: TrainConfig; long: TrainConfig }): FineTune {
  return async (spec, weights, phase) => {
    const r = await trainWeights(spec, dataset, phase === 'short' ? configs.short : configs.long, weights);
    return { accuracy: r.accuracy, weights: r.weights };
  };
}
