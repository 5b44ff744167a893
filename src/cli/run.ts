// `nas run`: search -> refine to the latency target (NetAdapt / compound
// scaling) -> final training -> export, verified -> measured -> model card.
// Thin: flags become RunOptionsInput for the use case (src/app/run.ts); its
// events become lines and a live progress bar per stage (src/cli/progress.ts).
// Ctrl-C cancels (the stage in progress stops within a batch, checkpoints
// kept); `nas run --resume <model id>` continues a run.

import type { Command } from 'commander';
import { resumeRun, runRun, type RunOptionsInput, type RunResult } from '../app/run.ts';
import { EXPORT_FORMATS, type ExportFormat } from '../export/export-model.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { numberFlag, positiveIntFlag } from './flags.ts';
import { cancelOnSigint, runReporter } from './progress.ts';

interface RunFlags {
  dataset?: string;
  device?: string;
  targetMs?: string;
  mode: string;
  budgetMinutes?: string;
  arch?: string;
  trials?: string;
  strategy?: string;
  evaluator?: string;
  supernet?: string;
  epochs?: string;
  proxyEpochs?: string;
  batchSize?: string;
  formats?: string;
  seed: string;
  resume?: string;
  json?: boolean;
}

export function runInputFromFlags(f: RunFlags): RunOptionsInput {
  if (!f.dataset) throw new UsageError('--dataset is required (fashion-mnist | mnist | folder:<path> | synthetic)');
  if (!f.device) throw new UsageError('--device is required (a device profile id, e.g. node-tflite-wasm)');
  if (f.targetMs === undefined) throw new UsageError('--target-ms is required (the latency target in ms)');
  const targetMs = numberFlag({ name: 'target-ms', greaterThan: 0 })(f.targetMs);
  if (f.mode !== 'hard' && f.mode !== 'soft') throw new UsageError(`--mode must be hard or soft, got "${f.mode}"`);
  const minutes = numberFlag({ name: 'budget-minutes', greaterThan: 0 })(f.budgetMinutes);
  const formats = f.formats?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const x of formats ?? []) if (!EXPORT_FORMATS.includes(x as ExportFormat)) throw new UsageError(`--formats: unknown format "${x}" (known: ${EXPORT_FORMATS.join(', ')})`);
  const batchSize = positiveIntFlag('batch-size')(f.batchSize);
  return {
    dataset: f.dataset, deviceId: f.device, latencyTargetMs: targetMs, mode: f.mode, budgetMinutes: minutes ?? null,
    baseArch: f.arch ?? null, seed: numberFlag({ name: 'seed', integer: true, min: 0 })(f.seed),
    search: {
      maxTrials: positiveIntFlag('trials')(f.trials),
      ...(f.strategy ? { strategy: f.strategy as NonNullable<RunOptionsInput['search']>['strategy'] } : {}),
      ...(f.evaluator ? { evaluator: f.evaluator as NonNullable<RunOptionsInput['search']>['evaluator'] } : {}),
      ...(f.supernet ? { supernetId: f.supernet } : {}),
    },
    proxy: { epochs: positiveIntFlag('proxy-epochs')(f.proxyEpochs), batchSize },
    final: { epochs: positiveIntFlag('epochs')(f.epochs), batchSize },
    formats: formats as ExportFormat[] | undefined,
  };
}

function printResult(r: RunResult): void {
  const f = (x: number | null, d = 4) => (x === null ? '-' : x.toFixed(d));
  const out = [
    `model ${r.modelId}: ${r.status} (stage ${r.stage})${r.error ? `: ${r.error}` : ''}`,
    `  predicted ${f(r.predictedLatencyMs)} ms, measured ${f(r.measuredLatencyMs)} ms, target ${r.metTarget ? 'met' : `missed${r.missByMs > 0 ? ` by ${f(r.missByMs)} ms` : ''}`}`,
    ...(r.card ? [`  test accuracy ${f(r.card.run?.testAccuracy ?? null, 4)}, ${r.card.params} params, ${r.card.macs} MACs, input ${r.card.input.height}x${r.card.input.width}x${r.card.input.channels}`] : []),
    ...r.files.map((x) => `  ${x.format.padEnd(11)} ${x.path}  sha256 ${x.sha256.slice(0, 16)}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerRunCommand(program: Command): void {
  program.command('run')
    .description('search, refine to the latency target (NetAdapt or compound scaling), train, export verified .tflite/TF.js, measure')
    .option('--dataset <name>', 'fashion-mnist | mnist | folder:<path> | synthetic')
    .option('--device <id>', 'device profile id (latency table and runtime)')
    .option('--target-ms <ms>', 'latency target in ms on the device')
    .option('--mode <mode>', 'hard: the delivered model is measured under the target; soft: the closest is delivered', 'hard')
    .option('--budget-minutes <n>', 'wall-time budget of the whole run: shared among its stages by a plan, held by cutting work (grid candidates, NetAdapt steps, final epochs/images; never verification)')
    .option('--arch <arch>', 'skip the search: start from this preset, block strings or ArchSpec JSON')
    .option('--trials <n>', 'search trials')
    .option('--strategy <name>', 'search strategy (rl | random | evolution)')
    .option('--evaluator <name>', 'how candidates are scored: proxy (default) | supernet | predictor; the last two need a trained supernet (nas supernet train) and deliver a model fine-tuned from its weights')
    .option('--supernet <id>', 'the supernet to use (default: the newest trained for the dataset)')
    .option('--proxy-epochs <n>', 'proxy training epochs (NetAdapt base, scaling grid)')
    .option('--epochs <n>', 'final training epochs')
    .option('--batch-size <n>', 'batch size for proxy and final training')
    .option('--formats <list>', `export formats, comma-separated (default ${EXPORT_FORMATS.join(',')})`)
    .option('--seed <n>', 'seed', '1')
    .option('--resume <model id>', 'continue an interrupted run at the stage it was in')
    .option('--json', 'print the result as JSON')
    .action(async (f: RunFlags) => {
      const input = f.resume ? null : runInputFromFlags(f);
      const reporter = f.json ? null : runReporter();
      const { cancel, off } = cancelOnSigint('the stage in progress stops after its current batch (Ctrl-C again to quit at once; `nas run --resume` continues)');
      const ctx = { onEvent: reporter?.onEvent, cancel };
      let r: RunResult;
      try {
        r = input === null ? await resumeRun(f.resume!, ctx) : await runRun(input, ctx);
      } finally {
        reporter?.stop();
        off();
      }
      if (f.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else printResult(r);
      if (r.status !== 'succeeded') throw new CommandFailed(`run ${r.modelId} ${r.status}${r.error ? `: ${r.error}` : ''}`);
    });
}
