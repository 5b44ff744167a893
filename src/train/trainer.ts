// Proxy / final training of one ArchSpec on a Dataset with a custom loop
// (optimizer.minimize per batch, the same path model.fit takes, without its
// callback machinery): seeded weights, data order, augmentation and dropout;
// linear warm-up + cosine LR; label smoothing; decoupled weight decay;
// BlockQNN's restart with a lower LR when epoch 1 is no better than chance.
// The backend is whatever tfjs has active (see src/train/backend.ts).

import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../space/builder.ts';
import { createRng, type Rng } from '../space/rng.ts';
import type { ArchSpec } from '../space/types.ts';
import { type Dataset, DatasetError, getSplit } from '../data/types.ts';
import { fillBatch, type ImageGeometry, PIXEL_OFFSET, PIXEL_SCALE, resizeAll } from './augment.ts';
import { type TrainConfig, TrainConfigError, validateTrainConfig } from './config.ts';
import { evaluateModel, recalibrateBatchNorm } from './evaluate.ts';
import { memoryBoundBatch } from './memory.ts';
import { cosineWithWarmup } from './schedule.ts';

export interface EpochReport {
  attempt: number;
  epoch: number;
  /** mean training loss (with label smoothing) over the epoch */
  trainLoss: number;
  trainAccuracy: number;
  /** NaN for epochs not validated (validateEvery) */
  valLoss: number;
  valAccuracy: number;
  /** learning rate at the end of the epoch */
  learningRate: number;
  imagesPerSec: number;
  elapsedMs: number;
  numTensors: number;
}

/** Where training stands after a batch (TrainOptions.onBatch). */
export interface BatchProgress {
  attempt: number;
  epoch: number;
  epochs: number;
  /** batches done in this epoch, of stepsPerEpoch */
  step: number;
  stepsPerEpoch: number;
  /** training images seen in this attempt */
  images: number;
  /** over this attempt's batches so far */
  imagesPerSec: number;
  elapsedMs: number;
}

/** Training stopped by TrainOptions.cancel (between two batches). */
export class TrainingCancelledError extends Error {
  constructor(message = 'training cancelled') {
    super(message);
    this.name = 'TrainingCancelledError';
  }
}

export interface TrainOptions {
  arch: ArchSpec;
  dataset: Dataset;
  config: TrainConfig;
  /** evaluate the test split after training (final reporting only; search never does) */
  evaluateTest?: boolean;
  onEpoch?: (r: EpochReport) => void;
  /** return the trained model (the caller disposes it); otherwise it is disposed */
  keepModel?: boolean;
  /**
   * start from these weights instead of the seeded initialization (fine-tuning,
   * NetAdapt's inherited weights): layer name -> that layer's weights in
   * getWeights() order; layers not named keep their initialization. The
   * caller keeps ownership of the tensors.
   */
  initialWeights?: Map<string, tf.Tensor[]>;
  /** called after every batch (progress within an epoch, heartbeats) */
  onBatch?: (b: BatchProgress) => void;
  /** polled before every batch: when set, training stops with a TrainingCancelledError */
  cancel?: { readonly cancelled: boolean };
  /**
   * polled before every batch after the first: when true, training ends after
   * the batches done so far as if that were its last epoch (BN recalibration,
   * validation, the result), e.g. at a time budget's deadline
   */
  stopEarly?: () => boolean;
}

/** With any hook set, the loop yields to the event loop this often, so a cancel message (IPC) or a timer gets through. */
const YIELD_EVERY_MS = 100;

export interface TrainResult {
  valAccuracy: number;
  valLoss: number;
  testAccuracy?: number;
  testLoss?: number;
  epochs: EpochReport[];
  /** mean training loss per step window (about 20 points per epoch), final attempt */
  lossCurve: number[];
  /** training throughput over all attempts (augmentation + forward + backward + update) */
  imagesPerSec: number;
  trainImages: number;
  valImages: number;
  resolution: number;
  numClasses: number;
  restarts: number;
  /** TrainOptions.stopEarly ended it before its last epoch */
  stoppedEarly?: boolean;
  /** peak LR of the final attempt */
  learningRate: number;
  params: number;
  wallMs: number;
  backend: string;
  preprocessing: { scale: number; offset: number; resolution: number; channels: number };
  model?: tf.LayersModel;
}

interface PreparedSplit { images: Uint8Array; labels: Uint8Array; count: number }

function prepare(ds: Dataset, name: 'train' | 'validation' | 'test', limit: number | undefined, size: number): PreparedSplit {
  const s = getSplit(ds, name);
  const count = limit === undefined ? s.count : Math.min(limit, s.count);
  const g = { height: s.height, width: s.width, channels: s.channels };
  const px = s.height * s.width * s.channels;
  return { images: resizeAll(s.images.subarray(0, count * px), g, count, size), labels: s.labels.subarray(0, count), count };
}

function isDropout(l: tf.layers.Layer): boolean {
  return l.getClassName() === 'Dropout';
}

function makeOptimizer(cfg: TrainConfig, lr: number): tf.Optimizer {
  return cfg.optimizer === 'adam' ? tf.train.adam(lr) : tf.train.momentum(lr, cfg.momentum, true);
}

function setLr(opt: tf.Optimizer, lr: number): void {
  // SGD/Momentum cache -lr in a scalar (setLearningRate); Adam reads the field each step.
  // (instanceof is duck-typed for tfjs optimizers, so test the method.)
  const o = opt as unknown as { setLearningRate?: (x: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  // MomentumOptimizer.dispose() leaves SGDOptimizer's LR scalar behind.
  const c = (opt as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

function shuffled(n: number, rng: Rng): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]; a[i] = a[j]; a[j] = t;
  }
  return a;
}

/** Chance level plus two standard errors of a chance-level classifier (capped at half of chance). */
export function chanceThreshold(numClasses: number, valCount: number): number {
  const p = 1 / numClasses;
  return p + Math.min(2 * Math.sqrt((p * (1 - p)) / Math.max(1, valCount)), p / 2);
}

/** Set each named layer's weights (shapes must match the built model's). */
export function applyNamedWeights(model: tf.LayersModel, weights: Map<string, tf.Tensor[]>): void {
  for (const layer of model.layers) {
    const w = weights.get(layer.name);
    if (w) layer.setWeights(w);
  }
}

export async function trainArch(opts: TrainOptions): Promise<TrainResult> {
  const cfg = validateTrainConfig({ ...opts.config });
  const t0 = performance.now();
  const m = opts.dataset.manifest;
  const K = m.classes.length;
  const size = cfg.resolution ?? m.height;
  if (cfg.resolution === undefined && m.height !== m.width) {
    throw new TrainConfigError(`dataset ${m.name} is ${m.height}x${m.width}; give a square resolution (--resolution)`);
  }
  const g: ImageGeometry = { height: size, width: size, channels: m.channels };
  // BN recalibration runs training-mode passes (every activation alive until the batch ends): keep one within the memory budget.
  const recalBatch = memoryBoundBatch(opts.arch, g, K, cfg.evalBatchSize);
  const train = prepare(opts.dataset, 'train', cfg.subset, size);
  const val = prepare(opts.dataset, 'validation', cfg.validationSubset, size);
  if (train.count < 1 || val.count < 1) throw new DatasetError(`dataset ${m.name} has an empty train or validation split (train ${train.count}, validation ${val.count} images); it needs more images`, 422);
  const flip = cfg.flip === 'auto' ? m.allowFlip : cfg.flip;
  const aug = { padding: cfg.cropPadding, flip };
  const px = size * size * m.channels;
  const stepsPerEpoch = Math.ceil(train.count / cfg.batchSize);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const warmupSteps = Math.round(cfg.warmupEpochs * stepsPerEpoch);
  const curveWindow = Math.max(1, Math.floor(stepsPerEpoch / 20));
  const xBuf = new Float32Array(cfg.batchSize * px);
  const yBuf = new Float32Array(cfg.batchSize * K);
  const epochs: EpochReport[] = [];
  let trainedImages = 0;
  let trainMs = 0;
  let restarts = 0;
  const hooked = opts.onBatch !== undefined || opts.cancel !== undefined || opts.stopEarly !== undefined;
  let lastYield = performance.now();

  for (let attempt = 0; ; attempt++) {
    const peakLr = cfg.learningRate * cfg.restartLrFactor ** attempt;
    const rng = createRng((cfg.seed * 1000003 + attempt) >>> 0);
    const model = buildModel(opts.arch, { inputShape: g, numClasses: K, seed: cfg.seed });
    if (opts.initialWeights) applyNamedWeights(model, opts.initialWeights);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const decayVars = model.trainableWeights.filter((w) => /kernel$/.test(w.originalName ?? w.name)).map((w) => w.read() as tf.Variable);
    const bnMomentum = cfg.bnMomentum === 'auto' ? (totalSteps >= 2000 ? 0.99 : 0.9) : cfg.bnMomentum;
    for (const l of model.layers) if (l.getClassName() === 'BatchNormalization') (l as unknown as { momentum: number }).momentum = bnMomentum;
    const dropouts = model.layers.filter(isDropout) as Array<tf.layers.Layer & { seed?: number }>;
    const opt = makeOptimizer(cfg, peakLr);
    const recalibrate = () => {
      if (cfg.bnRecalibrationImages > 0) {
        recalibrateBatchNorm(model, train.images, g, Math.min(cfg.bnRecalibrationImages, train.count), recalBatch);
      }
    };
    const lossCurve: number[] = [];
    let restart = false;
    let stopped = false;
    let step = 0;
    let attemptImages = 0;
    let attemptMs = 0;
    try {
      for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
        const order = shuffled(train.count, rng);
        let lossSum = 0;
        let correct = 0;
        let windowSum = 0;
        let windowN = 0;
        let lr = peakLr;
        let seen = 0;
        const te = performance.now();
        for (let s = 0; s < stepsPerEpoch; s++, step++) {
          if (opts.cancel?.cancelled) throw new TrainingCancelledError();
          if (attemptImages + seen > 0 && opts.stopEarly?.()) {
            stopped = true;
            break;
          }
          const start = s * cfg.batchSize;
          const n = Math.min(cfg.batchSize, train.count - start);
          const idx = order.subarray(start, start + n);
          fillBatch(train.images, g, idx, xBuf, aug, rng);
          yBuf.fill(cfg.labelSmoothing / K, 0, n * K);
          for (let i = 0; i < n; i++) yBuf[i * K + train.labels[idx[i]]] += 1 - cfg.labelSmoothing;
          lr = cosineWithWarmup(step, { peakLr, totalSteps, warmupSteps });
          setLr(opt, lr);
          for (const d of dropouts) d.seed = rng.int(2 ** 31);
          const xs = tf.tensor4d(xBuf.subarray(0, n * px), [n, size, size, m.channels]);
          const ys = tf.tensor2d(yBuf.subarray(0, n * K), [n, K]);
          let predsOut: tf.Tensor | undefined;
          const lossT = opt.minimize(() => {
            const p = model.apply(xs, { training: true }) as tf.Tensor;
            predsOut = tf.keep(tf.argMax(p, -1));
            return tf.neg(tf.mean(tf.sum(tf.mul(ys, tf.log(tf.clipByValue(p, 1e-7, 1))), -1))) as tf.Scalar;
          }, true, vars);
          if (cfg.weightDecay > 0) {
            const f = 1 - lr * cfg.weightDecay;
            tf.tidy(() => { for (const v of decayVars) v.assign(tf.mul(v, f)); });
          }
          const loss = (lossT as tf.Scalar).dataSync()[0];
          const pred = predsOut!.dataSync();
          lossT!.dispose();
          predsOut!.dispose();
          xs.dispose();
          ys.dispose();
          for (let i = 0; i < n; i++) if (pred[i] === train.labels[idx[i]]) correct++;
          lossSum += loss * n;
          windowSum += loss;
          if (++windowN === curveWindow) {
            lossCurve.push(windowSum / windowN);
            windowSum = 0;
            windowN = 0;
          }
          seen += n;
          if (hooked) {
            const t = performance.now();
            const ms = attemptMs + (t - te);
            opts.onBatch?.({
              attempt, epoch, epochs: cfg.epochs, step: s + 1, stepsPerEpoch, images: attemptImages + seen,
              imagesPerSec: (attemptImages + seen) / (ms / 1000), elapsedMs: t - t0,
            });
            if (t - lastYield >= YIELD_EVERY_MS) {
              await new Promise<void>((r) => setImmediate(r));
              lastYield = performance.now();
            }
          }
        }
        if (windowN > 0) lossCurve.push(windowSum / windowN);
        const epochMs = performance.now() - te;
        trainMs += epochMs;
        attemptMs += epochMs;
        // a full epoch saw every training image (seen === train.count); an epoch stopped early saw fewer
        trainedImages += seen;
        attemptImages += seen;
        const last = epoch === cfg.epochs || stopped;
        const validate = epoch === 1 || last || epoch % cfg.validateEvery === 0;
        if (validate || last) recalibrate();
        const ev = validate ? evaluateModel(model, val.images, val.labels, g, val.count, cfg.evalBatchSize) : { loss: NaN, accuracy: NaN };
        const report: EpochReport = {
          attempt, epoch, trainLoss: seen > 0 ? lossSum / seen : NaN, trainAccuracy: seen > 0 ? correct / seen : NaN,
          valLoss: ev.loss, valAccuracy: ev.accuracy, learningRate: lr,
          imagesPerSec: seen > 0 ? seen / (epochMs / 1000) : NaN, elapsedMs: performance.now() - t0, numTensors: tf.memory().numTensors,
        };
        epochs.push(report);
        opts.onEpoch?.(report);
        if (stopped) break;
        const diverged = !Number.isFinite(report.trainLoss);
        if (epoch === 1 && cfg.restartOnChance && attempt < cfg.maxRestarts
            && (diverged || report.valAccuracy <= chanceThreshold(K, val.count))) {
          restart = true;
          break;
        }
      }
      if (restart) {
        restarts++;
        continue;
      }
      const finalVal = epochs[epochs.length - 1];
      let test: { accuracy: number; loss: number } | undefined;
      if (opts.evaluateTest) {
        const t = prepare(opts.dataset, 'test', undefined, size);
        test = evaluateModel(model, t.images, t.labels, g, t.count, cfg.evalBatchSize);
      }
      const result: TrainResult = {
        valAccuracy: finalVal.valAccuracy, valLoss: finalVal.valLoss,
        testAccuracy: test?.accuracy, testLoss: test?.loss,
        epochs, lossCurve,
        imagesPerSec: trainedImages / (trainMs / 1000),
        trainImages: train.count, valImages: val.count, resolution: size, numClasses: K,
        restarts, stoppedEarly: stopped, learningRate: peakLr, params: model.countParams(),
        wallMs: performance.now() - t0, backend: tf.getBackend(),
        preprocessing: { scale: PIXEL_SCALE, offset: PIXEL_OFFSET, resolution: size, channels: m.channels },
      };
      if (opts.keepModel) {
        result.model = model;
        return result;
      }
      model.dispose();
      return result;
    } catch (e) {
      model.dispose();
      throw e;
    } finally {
      disposeOptimizer(opt);
      if (restart) model.dispose();
    }
  }
}
