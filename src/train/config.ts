// Training configuration: the proxy task (subset, epochs, resolution) and the
// optimisation recipe. JSON-serialisable (it travels to pool workers).

export type OptimizerName = 'sgd' | 'adam';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  /** peak learning rate (after warm-up) */
  learningRate: number;
  /** SGD momentum (Nesterov) */
  momentum: number;
  /** decoupled weight decay on conv/dense kernels: w -= lr * weightDecay * w per step */
  weightDecay: number;
  /** linear warm-up length in epochs (fractional allowed), then cosine decay to 0 */
  warmupEpochs: number;
  labelSmoothing: number;
  /** random-crop padding in pixels (0 = no crop augmentation) */
  cropPadding: number;
  /** horizontal flips: 'auto' = where the dataset allows them */
  flip: 'auto' | boolean;
  /** use only the first N training images (the train split is class-interleaved) */
  subset?: number;
  /** use only the first N validation images */
  validationSubset?: number;
  /** input side in pixels (square); default: the dataset's size */
  resolution?: number;
  /** seeds weights, data order, augmentation and dropout */
  seed: number;
  /** BlockQNN: restart with learningRate * restartLrFactor when epoch 1 is no better than chance */
  restartOnChance: boolean;
  maxRestarts: number;
  restartLrFactor: number;
  evalBatchSize: number;
  /**
   * validate every N epochs (1 = every epoch); epoch 1 (for the restart
   * check) and the last epoch are always validated
   */
  validateEvery: number;
  /**
   * re-estimate BN statistics on this many training images before every
   * validation/test evaluation (0 = off); see evaluate.ts recalibrateBatchNorm
   */
  bnRecalibrationImages: number;
  /**
   * batch-norm moving-average momentum during training; 'auto' = 0.99 (the
   * builder's) when the run has >= 2000 steps, else 0.9 so that short proxy
   * runs end with usable moving statistics
   */
  bnMomentum: 'auto' | number;
}

export class TrainConfigError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'TrainConfigError';
  }
}

export const DEFAULT_LR: Record<OptimizerName, number> = { sgd: 0.1, adam: 0.002 };
export const DEFAULT_WEIGHT_DECAY: Record<OptimizerName, number> = { sgd: 5e-4, adam: 0.05 };

export function defaultTrainConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  const optimizer = overrides.optimizer ?? 'sgd';
  const cfg: TrainConfig = {
    epochs: 5,
    batchSize: 64,
    optimizer,
    learningRate: DEFAULT_LR[optimizer],
    momentum: 0.9,
    weightDecay: DEFAULT_WEIGHT_DECAY[optimizer],
    warmupEpochs: 0.5,
    labelSmoothing: 0.1,
    cropPadding: 2,
    flip: 'auto',
    seed: 1,
    restartOnChance: true,
    maxRestarts: 2,
    restartLrFactor: 0.1,
    evalBatchSize: 256,
    validateEvery: 1,
    bnRecalibrationImages: 2048,
    bnMomentum: 'auto',
  };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  return validateTrainConfig(cfg);
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new TrainConfigError(msg);
}

const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

export function validateTrainConfig(c: TrainConfig): TrainConfig {
  check(posInt(c.epochs) && c.epochs <= 1000, `epochs must be an integer in [1, 1000], got ${c.epochs}`);
  check(posInt(c.batchSize) && c.batchSize <= 4096, `batch size must be an integer in [1, 4096], got ${c.batchSize}`);
  check(c.optimizer === 'sgd' || c.optimizer === 'adam', `optimizer must be sgd or adam, got "${c.optimizer}"`);
  check(c.learningRate > 0 && c.learningRate <= 10, `learning rate must be in (0, 10], got ${c.learningRate}`);
  check(c.momentum >= 0 && c.momentum < 1, `momentum must be in [0, 1), got ${c.momentum}`);
  check(c.weightDecay >= 0 && c.weightDecay < 1, `weight decay must be in [0, 1), got ${c.weightDecay}`);
  check(c.warmupEpochs >= 0 && c.warmupEpochs <= c.epochs, `warm-up epochs must be in [0, epochs], got ${c.warmupEpochs}`);
  check(c.labelSmoothing >= 0 && c.labelSmoothing < 1, `label smoothing must be in [0, 1), got ${c.labelSmoothing}`);
  check(Number.isInteger(c.cropPadding) && c.cropPadding >= 0 && c.cropPadding <= 64, `crop padding must be an integer in [0, 64], got ${c.cropPadding}`);
  check(c.flip === 'auto' || typeof c.flip === 'boolean', `flip must be auto, true or false`);
  check(c.subset === undefined || posInt(c.subset), `subset must be a positive integer, got ${c.subset}`);
  check(c.validationSubset === undefined || posInt(c.validationSubset), `validation subset must be a positive integer, got ${c.validationSubset}`);
  check(c.resolution === undefined || (posInt(c.resolution) && c.resolution >= 4 && c.resolution <= 1024), `resolution must be an integer in [4, 1024], got ${c.resolution}`);
  check(Number.isInteger(c.seed) && c.seed >= 0, `seed must be a non-negative integer, got ${c.seed}`);
  check(Number.isInteger(c.maxRestarts) && c.maxRestarts >= 0 && c.maxRestarts <= 5, `max restarts must be in [0, 5], got ${c.maxRestarts}`);
  check(c.restartLrFactor > 0 && c.restartLrFactor < 1, `restart LR factor must be in (0, 1), got ${c.restartLrFactor}`);
  check(posInt(c.evalBatchSize), `eval batch size must be a positive integer, got ${c.evalBatchSize}`);
  check(Number.isInteger(c.bnRecalibrationImages) && c.bnRecalibrationImages >= 0, `BN recalibration images must be an integer >= 0, got ${c.bnRecalibrationImages}`);
  check(posInt(c.validateEvery), `validate-every must be a positive integer, got ${c.validateEvery}`);
  check(c.bnMomentum === 'auto' || (c.bnMomentum >= 0 && c.bnMomentum < 1), `BN momentum must be auto or in [0, 1), got ${c.bnMomentum}`);
  return c;
}
