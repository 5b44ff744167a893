// Scoring an architecture with inherited weights: extract its weights from
// the trained supernet (extract.ts), put them into the stand-alone network,
// re-estimate batch-norm statistics on a few hundred training images (the
// supernet keeps none: each subnet's activations have statistics of their
// own), and measure validation accuracy with the folded inference runner.
// About a second per architecture on 2 cores instead of a training run.


import type { Dataset } from '../data/types.ts';
import { getSplit } from '../data/types.ts';
import { disposeWeights, type NamedWeights } from '../refine/prune.ts';
import { buildModel } from '../space/builder.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { evaluateModel, recalibrateBatchNorm } from '../train/evaluate.ts';
import { applyNamedWeights } from '../train/trainer.ts';
import { readCheckpointMeta, loadCheckpoint } from './checkpoint.ts';
import { subnetConfig, supernetLayout, type SupernetLayout } from './layout.ts';
import { getSkeleton } from '../space/skeleton.ts';
import { createMasterWeights, disposeMaster, type MasterWeights } from './weights.ts';
import { extractSubnet } from './extract.ts';

export const DEFAULT_BN_IMAGES = 512;
export const DEFAULT_VALIDATION_IMAGES = 2000;

export interface EvaluatorOptions {
  /** training images for BN re-estimation (<= 512 by default) */
  bnImages?: number;
  /** validation images scored (>= 2,000 by default) */
  validationImages?: number;
  batchSize?: number;
}

export interface SubnetScore {
  accuracy: number;
  loss: number;
  seconds: number;
  validationImages: number;
}

export class SupernetEvaluator {
  readonly layout: SupernetLayout;
  private readonly weights: MasterWeights;
  private readonly bnImages: number;
  private readonly valImages: number;
  private readonly batch: number;
  readonly input: InputShape;
  readonly numClasses: number;

  /** checkpoint: the supernet's stored checkpoint bytes; dataset: the dataset it was trained on */
  constructor(checkpoint: Uint8Array, private readonly dataset: Dataset, o: EvaluatorOptions = {}) {
    const meta = readCheckpointMeta(checkpoint);
    const m = dataset.manifest;
    this.input = { height: m.height, width: m.width, channels: m.channels };
    this.numClasses = m.classes.length;
    if (JSON.stringify(meta.input) !== JSON.stringify(this.input) || meta.numClasses !== this.numClasses) {
      throw Object.assign(new Error(`supernet ${meta.supernetId} was trained for ${meta.input.height}x${meta.input.width}x${meta.input.channels} inputs with ${meta.numClasses} classes; dataset ${m.name} is ${m.height}x${m.width}x${m.channels} with ${this.numClasses}`), { status: 409 });
    }
    this.layout = supernetLayout(getSkeleton(meta.skeleton));
    this.weights = createMasterWeights(this.layout, this.input, this.numClasses, 0);
    try {
      loadCheckpoint(checkpoint, this.weights);
    } catch (e) {
      disposeMaster(this.weights);
      throw e;
    }
    const train = getSplit(dataset, 'train');
    const val = getSplit(dataset, 'validation');
    this.bnImages = Math.min(o.bnImages ?? DEFAULT_BN_IMAGES, train.count);
    this.valImages = Math.min(o.validationImages ?? DEFAULT_VALIDATION_IMAGES, val.count);
    this.batch = o.batchSize ?? 256;
  }

  /** Refuses (SpaceError naming the difference) an architecture outside the supernet's space. */
  check(spec: ArchSpec): void {
    subnetConfig(this.layout, spec);
  }

  /** The stand-alone network's weights for `spec`, inherited from the supernet (the caller disposes them). */
  extract(spec: ArchSpec): NamedWeights {
    return extractSubnet(this.weights, this.layout, spec);
  }

  evaluate(spec: ArchSpec): SubnetScore {
    const t0 = performance.now();
    const named = this.extract(spec);
    const model = buildModel(spec, { inputShape: this.input, numClasses: this.numClasses, seed: 1 });
    try {
      applyNamedWeights(model, named);
      const train = getSplit(this.dataset, 'train');
      const val = getSplit(this.dataset, 'validation');
      recalibrateBatchNorm(model, train.images, this.input, this.bnImages, Math.min(this.batch, this.bnImages));
      const ev = evaluateModel(model, val.images, val.labels, this.input, this.valImages, this.batch);
      return { accuracy: ev.accuracy, loss: ev.loss, seconds: (performance.now() - t0) / 1000, validationImages: ev.count };
    } finally {
      model.dispose();
      disposeWeights(named);
    }
  }

  dispose(): void {
    disposeMaster(this.weights);
  }
}

