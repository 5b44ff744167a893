// createStrategy: the one way the runner, the CLI and the HTTP layer get a
// search strategy. Options are validated here; a bad value is a
// StrategyInputError (a RangeError with status 400) naming the option.

import type { Skeleton } from '../../space/skeleton.ts';
import type { SearchStrategy, StrategyName, StrategyOptions } from '../strategy.ts';
import { checkSeed, intOption, numOption, StrategyInputError } from './common.ts';
import { AgingEvolution } from './evolution.ts';
import { RandomSearch } from './random.ts';
import { RL_ALGORITHMS, type RlAlgorithm, RlController } from './rl.ts';

export const STRATEGY_NAMES: readonly StrategyName[] = ['rl', 'random', 'evolution'];

/** Defaults sized for our small budgets (tens to a few hundred trials). */
export const STRATEGY_DEFAULTS = {
  batchSize: 8,
  population: 16,
  sampleSize: 4,
  hiddenSize: 64,
  learningRate: 0.02,
  entropyWeight: 0.01,
  baselineDecay: 0.9,
  algorithm: 'reinforce',
  ppoEpochs: 4,
  ppoClip: 0.2,
} as const;

function checkSkeleton(s: unknown): Skeleton {
  const k = s as Skeleton | null;
  if (!k || typeof k !== 'object' || typeof k.name !== 'string' || !Array.isArray(k.blocks) || k.blocks.length === 0) {
    throw new StrategyInputError('strategy option skeleton must be a skeleton object (src/space/skeleton.ts) with at least one block');
  }
  return k;
}

export function isStrategyName(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGY_NAMES as readonly string[]).includes(name);
}

export function createStrategy(name: StrategyName, opts: StrategyOptions): SearchStrategy {
  if (!isStrategyName(name)) {
    throw new StrategyInputError(`unknown search strategy ${JSON.stringify(name)} (known: ${STRATEGY_NAMES.join(', ')})`);
  }
  if (!opts || typeof opts !== 'object') throw new StrategyInputError('strategy options must be an object');
  const skeleton = checkSkeleton(opts.skeleton);
  const seed = checkSeed(opts.seed);
  const batchSize = intOption('batchSize', opts.batchSize, STRATEGY_DEFAULTS.batchSize, 1, 1024);
  switch (name) {
    case 'random':
      return new RandomSearch({ skeleton, seed, batchSize });
    case 'evolution': {
      const population = intOption('population', opts.population, STRATEGY_DEFAULTS.population, 2, 100_000);
      const sampleSize = intOption('sampleSize', opts.sampleSize, Math.min(STRATEGY_DEFAULTS.sampleSize, population), 1, population);
      return new AgingEvolution({ skeleton, seed, population, sampleSize });
    }
    case 'rl':
      if (opts.algorithm !== undefined && !(RL_ALGORITHMS as readonly unknown[]).includes(opts.algorithm)) {
        throw new StrategyInputError(`strategy option algorithm must be one of ${RL_ALGORITHMS.join(', ')}, got ${JSON.stringify(opts.algorithm)}`);
      }
      return new RlController({
        skeleton, seed, batchSize,
        algorithm: (opts.algorithm as RlAlgorithm | undefined) ?? STRATEGY_DEFAULTS.algorithm,
        ppoEpochs: intOption('ppoEpochs', opts.ppoEpochs, STRATEGY_DEFAULTS.ppoEpochs, 1, 50),
        ppoClip: numOption('ppoClip', opts.ppoClip, STRATEGY_DEFAULTS.ppoClip, 0, 1, true),
        hiddenSize: intOption('hiddenSize', opts.hiddenSize, STRATEGY_DEFAULTS.hiddenSize, 8, 256),
        learningRate: numOption('learningRate', opts.learningRate, STRATEGY_DEFAULTS.learningRate, 0, 1, true),
        entropyWeight: numOption('entropyWeight', opts.entropyWeight, STRATEGY_DEFAULTS.entropyWeight, 0, 1),
        baselineDecay: numOption('baselineDecay', opts.baselineDecay, STRATEGY_DEFAULTS.baselineDecay, 0, 0.999),
      });
  }
}
