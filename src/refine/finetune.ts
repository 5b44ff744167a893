// Fine-tuning with the project's trainer, for NetAdapt (short per-proposal
// runs, one longer run at the end) and for the final training of `nas run`:
// trainArch started from given weights, returning validation accuracy and
// the tuned weights.

import type { Dataset } from '../data/types.ts';
import type { ArchSpec } from '../space/types.ts';
import type { TrainConfig } from '../train/config.ts';
import { trainArch } from '../train/trainer.ts';
import type { FineTune } from './netadapt.ts';
import { modelWeights, type NamedWeights } from './prune.ts';

export interface TrainedWeights {
  accuracy: number;
  testAccuracy?: number;
  weights: NamedWeights;
}

/** Train `spec` (from `weights` when given) and return its weights; the model itself is disposed. */
export async function trainWeights(spec: ArchSpec, dataset: Dataset, config: TrainConfig, weights?: NamedWeights, evaluateTest = false): Promise<TrainedWeights> {
  const r = await trainArch({ arch: spec, dataset, config, initialWeights: weights, keepModel: true, evaluateTest });
  const model = r.model!;
  try {
    return { accuracy: r.valAccuracy, testAccuracy: r.testAccuracy, weights: modelWeights(model) };
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
