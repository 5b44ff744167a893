// From a strategy proposal to a trial row and a training request: the spec,
// its id, its cost (MACs, params) and predicted latency, and the proxy
// training configuration of the search.

import type { LoadDatasetOptions } from '../data/registry.ts';
import type { LatencyPredictor } from '../latency/index.ts';
import { archId, toCanonicalJson, toWire } from '../space/archspec.ts';
import { archCost } from '../space/cost.ts';
import { archFromDecisions, type Decisions } from '../space/sampler.ts';
import type { Skeleton } from '../space/skeleton.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { defaultTrainConfig } from '../train/config.ts';
import type { TrialRequest } from '../train/protocol.ts';
import type { NewTrial, TrialEvaluator } from '../store/trials.ts';
import type { SearchOptions } from './options.ts';

export interface SearchSpace {
  skeleton: Skeleton;
  /** the input latency is predicted for (the dataset's own size) */
  input: InputShape;
  numClasses: number;
}

export interface PlannedTrial extends NewTrial {
  arch: ArchSpec;
}

export function planTrial(searchId: string, proposal: { proposalId: string; decisions: Decisions }, space: SearchSpace, predictor: LatencyPredictor, evaluator: TrialEvaluator = 'proxy'): PlannedTrial {
  const arch = archFromDecisions(space.skeleton, proposal.decisions);
  const cost = archCost(arch, space.input, space.numClasses);
  const pred = predictor.predict(arch, space.input, space.numClasses);
  if (!(pred.latencyMs > 0 && Number.isFinite(pred.latencyMs))) {
    throw new Error(`latency predictor returned ${pred.latencyMs} ms for ${archId(arch)}; a prediction must be a positive number`);
  }
  return {
    searchId, arch, archId: archId(arch), spec: toWire(arch), decisions: proposal.decisions, proposalId: proposal.proposalId,
    latencyMs: pred.latencyMs, coverage: pred.coverage, macs: cost.macs, params: cost.params, evaluator,
  };
}

export function trialRequest(trialId: string, arch: ArchSpec, o: SearchOptions, datasetOptions?: LoadDatasetOptions): TrialRequest {
  const p = o.proxy;
  const config = defaultTrainConfig({
    epochs: o.earlyStop ? o.earlyStop.epochs : p.epochs,
    batchSize: p.batchSize,
    optimizer: p.optimizer,
    subset: p.subset,
    validationSubset: p.validationSubset,
    resolution: p.resolution ?? undefined,
    bnRecalibrationImages: p.bnRecalibrationImages,
    // every trial of a search trains from the same seed: differences are the architecture's
    seed: o.seed,
  });
  if (config.warmupEpochs > config.epochs) config.warmupEpochs = config.epochs;
  return { id: trialId, arch: toCanonicalJson(arch), dataset: o.dataset, datasetOptions, config };
}
