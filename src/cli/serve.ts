// `nas serve`: the HTTP service (REST API, live progress, dashboard) with the
// embedded in-process job queue on one data directory. On the first start
// the admin key is created and printed once. Jobs a previous process left
// running resume at start-up; on SIGINT/SIGTERM the server stops taking
// requests and exits, leaving running jobs to resume at the next start.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { dataDir, setDataDir } from '../config/paths.ts';
import { createApp } from '../http/app.ts';
import { createContext, type AppContext } from '../http/context.ts';
import { listenApp } from '../http/server.ts';
import { createLogger, type Logger } from '../http/logger.ts';
import { serviceHandlers, type HandlerEnv } from '../jobs/handlers.ts';
import { InProcessQueue } from '../jobs/inprocess.ts';
import { killJobProcesses, processHandlers } from '../jobs/process.ts';
import { registerJobMetrics } from '../jobs/metrics.ts';
import { attachJobQueue } from '../jobs/queue.ts';
import { UsageError } from './errors.ts';
import { numberFlag } from './flags.ts';
import { startupLatency, type StartupLatency } from './startup-latency.ts';

export interface ServeOptions {
  dataDir: string;
  port: number;
  host: string;
  /** jobs at once (default: sized to the cores, see defaultJobConcurrency) */
  concurrency?: number;
  /** use this token as the admin key ($NAS_ADMIN_KEY) */
  adminToken?: string;
  logger?: Logger;
  /**
   * Run jobs in this process with these use-case overrides (tests: a fake
   * trial executor). Default: each job in its own child process, so training
   * and export never stall the HTTP server.
   */
  inProcessDeps?: HandlerEnv['deps'];
}

export interface Service {
  url: string;
  server: Server;
  ctx: AppContext;
  queue: InProcessQueue;
  /** the admin token when this start created it (printed once), else undefined */
  newAdminToken?: string;
  /** stop serving and kill job processes; running jobs stay 'running' in the store and resume at the next start */
  close(): Promise<void>;
}

/** Open the store, start the job queue (resuming interrupted jobs) and listen. */
export async function startService(o: ServeOptions): Promise<Service> {
  // one data directory per process: use cases that default to dataDir() (artifacts, outputs) write here too
  setDataDir(o.dataDir);
  const { ctx, newAdminToken } = createContext({ dataDir: o.dataDir, adminToken: o.adminToken, logger: o.logger });
  const queue = new InProcessQueue({
    db: ctx.db,
    handlers: o.inProcessDeps ? serviceHandlers({ db: ctx.db, dataDir: ctx.dataDir, deps: o.inProcessDeps }) : processHandlers({ dataDir: ctx.dataDir }),
    concurrency: o.concurrency,
    onJobEnd: (job) => ctx.logger.info({ job: job.id, kind: job.kind, search: job.searchId, status: job.status, error: job.error }, 'job ended'),
  });
  attachJobQueue(ctx, queue);
  registerJobMetrics(ctx.metrics.registry, ctx.db, queue.events);
  await queue.start();
  const server = listenApp(createApp(ctx), o.port, o.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? new UsageError(`port ${o.port} on ${o.host} is already in use; choose another with --port`)
      : e));
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    server,
    ctx,
    queue,
    newAdminToken,
    close: async () => {
      queue.abandon();
      killJobProcesses();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      ctx.db.close();
    },
  };
}

const parsePort = numberFlag({ name: 'port', integer: true, min: 0, max: 65535 });
const parseConcurrency = numberFlag({ name: 'jobs', integer: true, min: 1, max: 64 });

export function registerServeCommand(program: Command): void {
  program.command('serve')
    .description('run the HTTP service: REST API, live progress (SSE), dashboard at /, in-process job queue')
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--host <addr>', 'address to listen on (0.0.0.0: all interfaces)', '127.0.0.1')
    .option('--data-dir <dir>', 'data directory: store, artifacts, dataset cache (default: $NAS_DATA_DIR or ~/.mobile-nas)')
    .option('--jobs <n>', 'jobs run at once (default: 1 per 8 cores, at least 1; each search already uses all cores)')
    .option('--latency-check <device>', 'after start: calibrate this local device to the host and print predicted vs measured latency of a check network; re-profile it here when its table does not fit this host ("none" to skip)', 'node-tflite-wasm')
    .action(async (o: { port: string; host: string; dataDir?: string; jobs?: string; latencyCheck: string }) => {
      if (o.dataDir !== undefined) {
        if (o.dataDir.trim() === '') throw new UsageError('--data-dir needs a directory');
        setDataDir(o.dataDir);
      }
      // worker processes (the training pool) inherit the data directory
      process.env.NAS_DATA_DIR = dataDir();
      const svc = await startService({
        dataDir: dataDir(), port: parsePort(o.port), host: o.host,
        concurrency: parseConcurrency(o.jobs),
        adminToken: process.env.NAS_ADMIN_KEY || undefined,
        logger: createLogger(),
      });
      process.stdout.write(`mobile-nas serving on ${svc.url} (dashboard at /, API at /v1, data in ${svc.ctx.dataDir})\n`);
      if (svc.newAdminToken) {
        process.stdout.write(`admin API key (shown once, keep it): ${svc.newAdminToken}\n`);
      }
      let latency: StartupLatency | undefined;
      if (o.latencyCheck !== 'none') {
        // in the background: the service answers meanwhile; searches read the calibration and tables it writes
        latency = startupLatency(o.latencyCheck, svc.ctx.dataDir, (m) => process.stdout.write(`${m}\n`));
      }
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          latency?.stop();
          process.stdout.write(`${sig}: stopping; running jobs resume at the next start\n`);
          void svc.close().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      // the training pool's workers and timers must not keep the process alive
      process.exit(0);
    });
}
