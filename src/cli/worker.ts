// `nas worker --redis URL [--concurrency N] [--queue NAME]`: take trial jobs
// from a BullMQ queue on Redis and train them here until stopped (SIGINT or
// SIGTERM: finish the running trials, then exit; a second signal exits now,
// and the running jobs go back to the queue once their locks expire).
// The logic lives in src/jobs/worker.ts; this file parses flags and prints
// one line per event.

import { type Command, Option } from 'commander';
import { isRedisUrl } from '../jobs/bullmq-wire.ts';
import { startTrialWorker, type WorkerEvent } from '../jobs/worker.ts';
import { UsageError } from './errors.ts';
import { numberFlag, positiveIntFlag } from './flags.ts';

interface WorkerCliOptions {
  redis: string;
  concurrency: string;
  queue: string;
  lockDurationMs: string;
  stalledIntervalMs: string;
  maxStalledCount: string;
  trialTimeoutMs?: string;
  trialWorker?: string;
}

export function formatWorkerEvent(e: WorkerEvent): string {
  const at = new Date().toISOString();
  switch (e.type) {
    case 'ready': return `${at} ready worker=${e.worker} queue=${e.queue} concurrency=${e.concurrency}`;
    case 'trial-started': return `${at} trial-started job=${e.jobId} attempt=${e.attempt}`;
    case 'trial-finished': return `${at} trial-finished job=${e.jobId} ${e.ok ? 'ok' : 'failed'} wallMs=${Math.round(e.wallMs)}${e.error ? ` error=${JSON.stringify(e.error)}` : ''}`;
    case 'warning': return `${at} warning ${e.message}`;
    case 'dataset-fetched': return `${at} dataset-fetched dataset=${e.datasetId} sizeBytes=${e.sizeBytes} wallMs=${Math.round(e.wallMs)}`;
    case 'dataset-cached': return `${at} dataset-cached dataset=${e.datasetId}`;
  }
}

export function registerWorkerCommand(program: Command): void {
  program.command('worker')
    .description('train trials from a BullMQ queue on Redis (run one per machine; stop with Ctrl-C)')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://queue-host:6379')
    .option('--concurrency <n>', 'trials trained at once (one training process each)', '1')
    .option('--queue <name>', 'queue name (one per deployment)', 'nas-trials')
    .option('--lock-duration-ms <ms>', 'a trial whose worker stops renewing its lock this long is given to another worker', '30000')
    .option('--stalled-interval-ms <ms>', 'how often to look for trials of lost workers', '30000')
    .option('--max-stalled-count <n>', 'times a trial may lose its worker before it is stored failed', '1')
    .option('--trial-timeout-ms <ms>', 'kill and fail a trial running longer than this')
    .addOption(new Option('--trial-worker <module>', 'training process module (tests)').hideHelp())
    .action(async (o: WorkerCliOptions) => {
      if (!isRedisUrl(o.redis)) throw new UsageError(`--redis must be a redis:// or rediss:// URL, got "${o.redis}"`);
      // Redis down means one identical warning per reconnect attempt: print the first, then one a minute.
      const lastWarned = new Map<string, number>();
      const print = (e: WorkerEvent) => {
        if (e.type === 'warning') {
          const t = performance.now();
          if (t - (lastWarned.get(e.message) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
          lastWarned.set(e.message, t);
        }
        process.stdout.write(`${formatWorkerEvent(e)}\n`);
      };
      const worker = await startTrialWorker({
        redisUrl: o.redis,
        queueName: o.queue,
        concurrency: positiveIntFlag('concurrency')(o.concurrency),
        lockDurationMs: positiveIntFlag('lock-duration-ms')(o.lockDurationMs),
        stalledIntervalMs: positiveIntFlag('stalled-interval-ms')(o.stalledIntervalMs),
        maxStalledCount: numberFlag({ name: 'max-stalled-count', integer: true, min: 0 })(o.maxStalledCount),
        trialTimeoutMs: positiveIntFlag('trial-timeout-ms')(o.trialTimeoutMs),
        trialWorkerModule: o.trialWorker,
      }, { onEvent: print });
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stdout.write(`${new Date().toISOString()} stopping (${signal}): finishing running trials; signal again to exit now\n`);
          process.once(signal, () => process.exit(130));
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      await worker.close();
      process.stdout.write(`${new Date().toISOString()} stopped\n`);
    });
}
