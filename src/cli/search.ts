// `nas search`: start, list, show and resume searches. Thin: options are
// parsed here and handed to the search use case (src/app/search.ts); its
// events become a progress bar (TTY) or one plain line per trial.

import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { type NasEvent } from '../app/events.ts';
import { resumeSearch, runSearch, type SearchDeps, type SearchResult } from '../app/search.ts';
import { datasetRefResolver } from '../jobs/dataset-ref.ts';
import { createTrialExecutor } from '../jobs/executor-factory.ts';
import { apiKey } from './api-client.ts';
import { runRemoteSearch } from './search-remote.ts';
import { dataDir, dataPaths } from '../config/paths.ts';
import { openDb } from '../store/db.ts';
import { findSearch, listSearches } from '../store/searches.ts';
import { countTrials, type TrialRecord } from '../store/trials.ts';
import { getSearchReport, type SearchReport } from '../search/report.ts';
import { DEFAULT_STRATEGY, resolveSearchOptions, type SearchOptionsInput } from '../search/options.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { numberFlag, positiveIntFlag } from './flags.ts';
import { cancelOnSigint } from './progress.ts';

interface StartOpts {
  dataset?: string;
  device?: string;
  targetMs?: string;
  mode: string;
  w?: string;
  strategy: string;
  evaluator: string;
  supernet?: string;
  trials: string;
  budgetMinutes?: string;
  maxFailed?: string;
  parallel?: string;
  seed: string;
  subset?: string;
  valSubset?: string;
  epochs?: string;
  batchSize?: string;
  resolution?: string;
  skipFactor?: string;
  earlyStopEpochs?: string;
  trialTimeoutMinutes?: string;
}

export function searchInputFromFlags(o: StartOpts): SearchOptionsInput {
  if (!o.dataset) throw new UsageError('--dataset is required (fashion-mnist | mnist | folder:<path> | synthetic)');
  if (!o.device) throw new UsageError('--device is required (a device profile id, e.g. node-tflite-wasm)');
  if (o.targetMs === undefined) throw new UsageError('--target-ms is required (the latency target in ms)');
  const targetMs = numberFlag({ name: 'target-ms', greaterThan: 0 })(o.targetMs);
  if (o.mode !== 'soft' && o.mode !== 'hard') throw new UsageError(`--mode must be soft or hard, got "${o.mode}"`);
  const minutes = numberFlag({ name: 'budget-minutes', greaterThan: 0 })(o.budgetMinutes);
  const proxy: SearchOptionsInput['proxy'] = {
    subset: positiveIntFlag('subset')(o.subset),
    validationSubset: positiveIntFlag('val-subset')(o.valSubset),
    epochs: positiveIntFlag('epochs')(o.epochs),
    batchSize: positiveIntFlag('batch-size')(o.batchSize),
    resolution: numberFlag({ name: 'resolution', integer: true, min: 4 })(o.resolution),
  };
  const timeoutMin = numberFlag({ name: 'trial-timeout-minutes', greaterThan: 0 })(o.trialTimeoutMinutes);
  const early = positiveIntFlag('early-stop-epochs')(o.earlyStopEpochs);
  return {
    dataset: o.dataset, deviceId: o.device, latencyTargetMs: targetMs, mode: o.mode, w: numberFlag({ name: 'w' })(o.w),
    strategy: o.strategy as SearchOptionsInput['strategy'], evaluator: o.evaluator as SearchOptionsInput['evaluator'],
    ...(o.supernet !== undefined ? { supernetId: o.supernet } : {}), maxTrials: positiveIntFlag('trials')(o.trials),
    maxWallMs: minutes === undefined ? undefined : minutes * 60_000,
    maxFailedTrials: positiveIntFlag('max-failed')(o.maxFailed),
    maxParallelTrials: positiveIntFlag('parallel')(o.parallel),
    trialTimeoutMs: timeoutMin === undefined ? undefined : timeoutMin * 60_000,
    seed: numberFlag({ name: 'seed', integer: true, min: 0 })(o.seed), skipFactor: numberFlag({ name: 'skip-factor' })(o.skipFactor),
    proxy, earlyStop: early === undefined ? null : { epochs: early },
  };
}

/** Events -> a live bar on a TTY, plain lines otherwise. */
function progressReporter(total: () => number) {
  const tty = Boolean(process.stdout.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let best = { reward: NaN, accuracy: NaN };
  let t0 = 0;
  let done0 = 0;
  const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  let pending: (() => void) | null = null;
  const flush = () => {
    const p = pending;
    pending = null;
    p?.();
  };
  const onEvent = (e: NasEvent) => {
    if (e.type === 'best-changed') {
      best = { reward: e.reward, accuracy: e.accuracy };
      bar?.update({ bestReward: fmt(best.reward), bestAcc: fmt(best.accuracy) });
    }
    flush();
    if (e.type === 'log') {
      process.stderr.write(`${e.level === 'warn' ? 'warning: ' : ''}${e.message}\n`);
      return;
    }
    if (e.type === 'search-started') {
      t0 = performance.now();
      const line = `search ${e.searchId}: strategy ${e.strategy}, ${e.trialsBudget} trials${e.resumed ? ' (resumed)' : ''}`;
      process.stdout.write(`${line}\n`);
      if (tty) {
        bar = new cliProgress.SingleBar({
          format: 'trials {bar} {value}/{total} | cache hits {cacheHits} | best reward {bestReward} acc {bestAcc} | ETA {etaText}',
          hideCursor: true,
        }, cliProgress.Presets.shades_classic);
        bar.start(total(), 0, { cacheHits: 0, bestReward: '-', bestAcc: '-', etaText: '-' });
      }
    } else if (e.type === 'trial-finished') {
      if (done0 === 0 && e.trialsDone > 1) done0 = e.trialsDone - 1;
      const rate = (performance.now() - t0) / Math.max(1, e.trialsDone - done0);
      const etaS = Math.max(0, (total() - e.trialsDone) * rate) / 1000;
      const etaText = `${Math.round(etaS)}s`;
      if (bar) {
        // cached repeats and hard-mode skips cost no budget, so proposals can outnumber it
        if (e.trialsDone > bar.getTotal()) bar.setTotal(e.trialsDone);
        bar.update(e.trialsDone, { cacheHits: e.cacheHits, bestReward: fmt(best.reward), bestAcc: fmt(best.accuracy), etaText });
      } else {
        const acc = e.accuracy === null ? '-' : fmt(e.accuracy);
        // printed at the next event, so a best-changed about this trial shows on its line
        pending = () => { process.stdout.write(`trial ${e.trialsDone}/${total()} ${e.trialId} ${e.status} acc ${acc} latency ${fmt(e.latencyMs)} ms reward ${e.reward === null ? '-' : fmt(e.reward)}` +
          ` | cache hits ${e.cacheHits} | best reward ${fmt(best.reward)} acc ${fmt(best.accuracy)} | ETA ${etaText}${e.error ? ` | ${e.error.split('\n')[0]}` : ''}\n`); };
        return;
      }
    } else if (e.type === 'done' || e.type === 'failed' || e.type === 'cancelled') {
      bar?.stop();
      bar = null;
    }
  };
  return { onEvent, stop: () => { flush(); bar?.stop(); bar = null; } };
}

function trialRow(t: TrialRecord): string {
  const f = (x: number | null, d = 3) => (x === null ? '-' : x.toFixed(d));
  return `${String(t.seq).padStart(4)}  ${t.archId}  ${t.status.padEnd(9)}  ${f(t.accuracy).padStart(6)}  ${f(t.latencyMs).padStart(8)}  ${f(t.reward).padStart(6)}  ${(t.macs / 1e6).toFixed(2).padStart(8)}  ${(t.params / 1e3).toFixed(1).padStart(8)}  ${t.error ?? t.reason ?? ''}`;
}

function printReport(r: SearchReport): void {
  const s = r.search;
  const o = s.options;
  const c = r.counts;
  const out: string[] = [
    `search ${s.id}  ${s.status}${s.error ? `: ${s.error}` : ''}`,
    `  ${o.dataset} on ${o.deviceId}, target ${o.latencyTargetMs} ms (${o.mode}, w ${o.w}), strategy ${o.strategy}, ${o.maxTrials} trials, seed ${o.seed}`,
    `  trials ${c.total}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped, ${c.cached} cached (cache hits), ${c.unfinished} unfinished; ${(s.elapsedMs / 1000).toFixed(1)} s`,
    '',
    ' seq  arch              status        acc   lat ms  reward    MMACs   kparams',
    ...r.trials.map(trialRow),
    '',
    r.best ? `best${r.bestMeetsTarget ? '' : ' (none meets the target; highest reward)'}: ${trialRow(r.best).trim()}` : 'best: none',
    `Pareto front (accuracy vs predicted latency): ${r.pareto.map((t) => `${t.archId} ${t.accuracy!.toFixed(3)}@${t.latencyMs.toFixed(3)}ms`).join(', ') || 'none'}`,
    `reward curve (mean reward per update): ${r.rewardCurve.map((x) => x.toFixed(3)).join(' ') || 'none'}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

function reportJson(r: SearchReport) {
  return { ...r, best: r.best, bestMeetsTarget: r.bestMeetsTarget };
}

async function runWithProgress(total: () => number, f: (ctx: { onEvent: (e: NasEvent) => void; cancel: { cancelled: boolean } }) => Promise<SearchResult>): Promise<void> {
  const p = progressReporter(total);
  const { cancel, off } = cancelOnSigint('finishing the trials in flight (Ctrl-C again to quit at once; `nas search resume` continues)');
  try {
    const r = await f({ onEvent: p.onEvent, cancel });
    p.stop();
    printReport(r.report);
    if (r.status === 'failed') {
      process.stderr.write(`error: search ${r.searchId} failed: ${r.error}\n`);
      process.exitCode = 1;
    }
  } finally {
    p.stop();
    off();
  }
}

export function registerSearchCommand(program: Command): void {
  const search = program.command('search')
    .description('hardware-aware architecture search: the most accurate classifier under a latency target on a device')
    .option('--dataset <name>', 'fashion-mnist | mnist | folder:<path> | synthetic')
    .option('--device <id>', 'device profile whose latency table predicts latency')
    .option('--target-ms <T>', 'latency target in ms on the device')
    .option('--mode <mode>', 'soft | hard reward (MnasNet)', 'soft')
    .option('--w <w>', 'reward exponent (soft: alpha = beta = w, default -0.07; hard: beta, default -1)')
    .option('--strategy <name>', 'evolution | rl | random', DEFAULT_STRATEGY)
    .option('--evaluator <name>', 'proxy (train each candidate briefly) | supernet (inherited weights, about a second each) | predictor (the supernet\'s accuracy predictor, microseconds)', 'proxy')
    .option('--supernet <id>', 'evaluators supernet and predictor: the supernet to use (default: the newest trained for the dataset)')
    .option('--trials <n>', 'max trials that train (cached repeats and hard-mode skips cost nothing)', '20')
    .option('--budget-minutes <m>', 'wall-time budget (over all runs of the search)')
    .option('--max-failed <n>', 'stop after this many failed trials')
    .option('--parallel <n>', 'trials trained at once (default 2)')
    .option('--trial-timeout-minutes <m>', 'kill and fail a trial training longer than this (default 60)')
    .option('--seed <s>', 'seed of the strategy and of every trial\'s training', '1')
    .option('--subset <n>', 'proxy task: training images (default 2000)')
    .option('--val-subset <n>', 'proxy task: validation images (default 1000)')
    .option('--epochs <n>', 'proxy task: epochs (default 1)')
    .option('--batch-size <n>', 'proxy task: batch size (default 64)')
    .option('--resolution <px>', 'proxy task: training side in pixels (default: the dataset\'s)')
    .option('--skip-factor <f>', 'hard mode: score without training above f x target (default 1.5)')
    .option('--early-stop-epochs <k>', 'BlockQNN early-stop reward shaping: train k epochs, penalise ln(MACs) (off by default)')
    .option('--queue <url>', 'where trials run: local (default: training processes here) or redis://host:port (BullMQ; `nas worker` consumes)')
    .option('--server <url>', 'submit to a running service (nas serve) instead and follow its progress')
    .option('--key <key>', 'with --server: API key (default: $NAS_API_KEY)')
    .action(async (o: StartOpts & { queue?: string; server?: string; key?: string }) => {
      const input = searchInputFromFlags(o);
      const trialsBudget = resolveSearchOptions(input).maxTrials;
      if (o.server !== undefined) {
        if (o.queue !== undefined) throw new UsageError('--queue is the service\'s setting; not available with --server');
        const p = progressReporter(() => trialsBudget);
        try {
          const r = await runRemoteSearch(o.server, apiKey(o.key), input, p.onEvent);
          p.stop();
          const best = r.search.best as { archId?: string; accuracy?: number; latencyMs?: number } | null | undefined;
          process.stdout.write(`search ${r.searchId} ${r.search.status}` + (best?.archId ? `; best ${best.archId}: accuracy ${best.accuracy?.toFixed(4)}, ${best.latencyMs?.toFixed(3)} ms` : '') + '\n');
          if (r.search.status === 'failed') throw new CommandFailed(`search ${r.searchId} failed: ${r.search.error ?? 'see the service'}`);
        } finally {
          p.stop();
        }
        return;
      }
      await withExecutor(o.queue, input.maxParallelTrials, (deps) =>
        runWithProgress(() => trialsBudget, (ctx) => runSearch(input, { ...ctx, deps })));
    });

  search.command('list')
    .description('searches in the store, newest first')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      const db = openDb(dataPaths().store);
      try {
        const rows = listSearches(db).map((s) => ({ ...s, counts: countTrials(db, s.id) }));
        if (o.json) { process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`); return; }
        if (rows.length === 0) { process.stdout.write('no searches\n'); return; }
        for (const s of rows) {
          process.stdout.write(`${s.id}  ${s.status.padEnd(9)}  ${s.options.dataset} ${s.options.deviceId} T=${s.options.latencyTargetMs}ms ${s.options.strategy}  trials ${s.counts.total}/${s.options.maxTrials}  best ${s.bestTrialId ?? '-'}  ${s.createdAt}\n`);
        }
      } finally {
        db.close();
      }
    });

  search.command('show <id>')
    .description('trials table, best architecture, Pareto front and reward curve of a search')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) => {
      const db = openDb(dataPaths().store);
      try {
        const r = getSearchReport(db, id);
        if (o.json) process.stdout.write(`${JSON.stringify(reportJson(r), null, 2)}\n`);
        else printReport(r);
      } finally {
        db.close();
      }
    });

  search.command('resume <id>')
    .description('continue a search from its last completed trial (after a crash, kill or cancel)')
    .option('--queue <url>', 'where trials run: local (default) or redis://host:port (BullMQ)')
    .action(async (id: string, o: { queue?: string }) => {
      const db = openDb(dataPaths().store);
      let total = 0;
      try {
        total = findSearch(db, id)?.options.maxTrials ?? 0;
      } finally {
        db.close();
      }
      await withExecutor(o.queue, undefined, (deps) => runWithProgress(() => total, (ctx) => resumeSearch(id, { ...ctx, deps })));
    });
}

/** Runs f with the executor `--queue` names (none: the use case's own local pool), closed afterwards. */
async function withExecutor(queue: string | undefined, concurrency: number | undefined, f: (deps: SearchDeps | undefined) => Promise<void>): Promise<void> {
  if (queue === undefined || queue === 'local') return f(undefined);
  // trials of an uploaded dataset carry a reference workers fetch from the server at $NAS_SERVER_URL
  const datasetRefOf = datasetRefResolver({ dataDir: dataDir(), publicUrl: process.env.NAS_SERVER_URL || undefined });
  const executor = createTrialExecutor({ queue, concurrency, bullmq: { datasetRefOf } });
  try {
    await f({ executor });
  } finally {
    await executor.close();
  }
}
