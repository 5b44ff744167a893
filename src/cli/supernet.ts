// `nas supernet train|resume|list|show|export|import`: the supernet use case
// (src/app/supernet.ts) on the command line. A training run shows the same
// progress view as `nas run` (src/cli/progress.ts: a bar with ETA on a
// terminal, one line per progress event otherwise) and is checkpointed in the store; `train` on a dataset whose
// supernet was interrupted continues it (--fresh starts a new one), and
// `resume <id>` continues a given one. `export` writes a trained supernet
// to one file and `import` stores such a file (src/app/supernet-file.ts):
// train it where there is time or a GPU, serve targets elsewhere.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportSupernet, importSupernet } from '../app/supernet-file.ts';
import { resumeSupernet, trainSupernet, type SupernetOptionsInput, type SupernetResult } from '../app/supernet.ts';
import { dataPaths } from '../config/paths.ts';
import { openDb } from '../store/db.ts';
import { findSupernet, listSupernets, type SupernetRecord } from '../store/supernets.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { writeFileWhole } from './files.ts';
import { numberFlag, positiveIntFlag } from './flags.ts';
import { cancelOnSigint, runReporter } from './progress.ts';

const SIGINT_NOTE = 'stopping after this step with a checkpoint; nas supernet train (or resume) continues from it';

interface TrainFlags {
  dataset?: string;
  minutes?: string;
  steps?: string;
  seed: string;
  batchSize?: string;
  randomSubnets?: string;
  lr?: string;
  distill: boolean;
  checkpointMinutes?: string;
  predictorSamples?: string;
  progressive?: boolean;
  from?: string;
  fresh?: boolean;
  json?: boolean;
}

export function supernetInputFromFlags(f: TrainFlags): SupernetOptionsInput {
  if (!f.dataset) throw new UsageError('--dataset is required (fashion-mnist | mnist | folder:<path> | synthetic)');
  const minutes = numberFlag({ name: 'minutes', greaterThan: 0, max: 1440 })(f.minutes);
  const steps = positiveIntFlag('steps')(f.steps);
  if (minutes !== undefined && steps !== undefined) throw new UsageError('give --minutes or --steps, not both');
  return {
    dataset: f.dataset, minutes, steps, seed: numberFlag({ name: 'seed', integer: true, min: 0 })(f.seed),
    checkpointMinutes: numberFlag({ name: 'checkpoint-minutes', greaterThan: 0 })(f.checkpointMinutes),
    predictorSamples: numberFlag({ name: 'predictor-samples', integer: true, min: 0, max: 100_000 })(f.predictorSamples),
    ...(f.from !== undefined ? { initFrom: f.from } : {}),
    recipe: {
      ...(f.progressive ? { progressive: true } : {}),
      batchSize: numberFlag({ name: 'batch-size', integer: true, min: 2, max: 1024 })(f.batchSize),
      randomSubnets: numberFlag({ name: 'random-subnets', integer: true, min: 0, max: 8 })(f.randomSubnets),
      learningRate: numberFlag({ name: 'lr', greaterThan: 0, max: 1 })(f.lr),
      distill: f.distill,
    },
  };
}

function summary(s: SupernetRecord): Record<string, unknown> {
  return {
    id: s.id, status: s.status, dataset: s.dataset, skeleton: s.skeleton, input: `${s.input.height}x${s.input.width}x${s.input.channels}`,
    classes: s.numClasses, step: s.step, totalSteps: s.totalSteps, metrics: s.metrics, error: s.error, createdAt: s.createdAt, finishedAt: s.finishedAt,
  };
}

function report(r: SupernetResult, json: boolean | undefined): void {
  if (json) process.stdout.write(JSON.stringify(summary(r.record), null, 2) + '\n');
  else process.stdout.write(`supernet ${r.supernetId}: ${r.status} at step ${r.step} of ${r.totalSteps}${r.error ? ` (${r.error})` : ''}\n`);
  if (r.status !== 'succeeded') throw new CommandFailed(`supernet ${r.supernetId} ${r.status}`);
}

export function registerSupernetCommand(program: Command): void {
  const cmd = program.command('supernet').description('weight-shared supernets: train once per dataset, then score any architecture of its space in about a second');

  cmd.command('train')
    .description('train the supernet of a dataset (sandwich rule + in-place distillation), checkpointed; an interrupted one for the dataset is continued')
    .option('--dataset <name>', 'fashion-mnist | mnist | folder:<path> | synthetic')
    .option('--minutes <m>', 'wall-time budget (default 60): the step count is fixed to fill it once the pace is measured')
    .option('--steps <n>', 'train exactly this many steps instead of a time budget')
    .option('--seed <n>', 'seed of weights, data order and subnet sampling', '1')
    .option('--batch-size <n>', 'images per step (default 64)')
    .option('--random-subnets <n>', 'random subnets per step besides the largest and the smallest (default 2)')
    .option('--lr <x>', 'AdamW peak learning rate (default 0.002)')
    .option('--predictor-samples <n>', 'random architectures the trained supernet scores to fit its accuracy predictor (default 300; 0: none)')
    .option('--checkpoint-minutes <m>', 'store a checkpoint at least this often (default 2; also at the end and on Ctrl-C)')
    .option('--no-distill', 'train every subnet on the labels (no in-place distillation from the largest)')
    .option('--progressive', 'progressive shrinking (OFA): random subnets sample the kernel and op first, depth from 25% of the steps, expansion from 50%, width from 75%')
    .option('--from <id>', 'start from the weights of this trained supernet of the same dataset (a fresh optimizer); with --progressive: OFA\'s order, a trained network shrunk progressively')
    .option('--fresh', 'start a new supernet even if an interrupted one exists for the dataset')
    .option('--json', 'print the result as JSON')
    .action(async (f: TrainFlags) => {
      const input = supernetInputFromFlags(f);
      const rep = runReporter();
      const { cancel, off } = cancelOnSigint(SIGINT_NOTE);
      try {
        report(await trainSupernet(input, { onEvent: rep.onEvent, cancel, fresh: f.fresh }), f.json);
      } finally {
        rep.stop();
        off();
      }
    });

  cmd.command('resume <id>')
    .description('continue a supernet (crashed, cancelled or failed) from its last checkpoint')
    .option('--predictor-samples <n>', 'fit the accuracy predictor on this many random architectures (a trained supernet without one included; default: as the supernet was created)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, f: { json?: boolean; predictorSamples?: string }) => {
      const predictorSamples = numberFlag({ name: 'predictor-samples', integer: true, min: 10, max: 100_000 })(f.predictorSamples);
      const rep = runReporter();
      const { cancel, off } = cancelOnSigint(SIGINT_NOTE);
      try {
        report(await resumeSupernet(id, { onEvent: rep.onEvent, cancel, ...(predictorSamples !== undefined ? { predictorSamples } : {}) }), f.json);
      } finally {
        rep.stop();
        off();
      }
    });

  cmd.command('list')
    .description('supernets in the store')
    .option('--json', 'print JSON')
    .action((f: { json?: boolean }) => {
      const db = openDb(dataPaths().store);
      try {
        const rows = listSupernets(db).map(summary);
        if (f.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        else for (const r of rows) process.stdout.write(`${r.id}  ${r.status}  ${r.dataset} ${r.input} ${r.skeleton}  step ${r.step}/${r.totalSteps ?? '?'}\n`);
      } finally {
        db.close();
      }
    });

  cmd.command('export <id>')
    .description('write a trained supernet (checkpoint and accuracy predictor) to one file, to import on another installation')
    .option('--out <file>', 'the file to write (default: <id>.nas-supernet)')
    .action((id: string, f: { out?: string }) => {
      const db = openDb(dataPaths().store);
      try {
        const bytes = exportSupernet(db, id);
        const out = f.out ?? `${id}.nas-supernet`;
        writeFileWhole(out, bytes);
        process.stdout.write(`supernet ${id} written to ${out} (${bytes.byteLength} bytes)\n`);
      } finally {
        db.close();
      }
    });

  cmd.command('import <file>')
    .description('store a supernet written by nas supernet export (checked: checksums, layout, and the dataset here)')
    .option('--dataset <name>', 'bind it to this dataset here (default: the one it was trained on; same input shape and classes)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, f: { dataset?: string; json?: boolean }) => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(file));
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
      }
      const db = openDb(dataPaths().store);
      try {
        const s = await importSupernet(db, bytes, { ...(f.dataset !== undefined ? { dataset: f.dataset } : {}) });
        if (f.json) process.stdout.write(JSON.stringify(summary(s), null, 2) + '\n');
        else process.stdout.write(`supernet ${s.id} imported for dataset ${s.dataset} (${s.input.height}x${s.input.width}x${s.input.channels}, ${s.skeleton}, step ${s.step}${s.metrics.predictor ? ', with its accuracy predictor' : ''})\n`);
      } finally {
        db.close();
      }
    });

  cmd.command('show <id>')
    .description('one supernet: status, steps, metrics')
    .action((id: string) => {
      const db = openDb(dataPaths().store);
      try {
        const s = findSupernet(db, id);
        if (!s) throw new UsageError(`supernet "${id}" not found (nas supernet list shows them)`);
        process.stdout.write(JSON.stringify(summary(s), null, 2) + '\n');
      } finally {
        db.close();
      }
    });
}
