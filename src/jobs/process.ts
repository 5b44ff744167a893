// Jobs run in their own process. A `nas run` trains and exports on its main
// thread (final training, int8 calibration, verification), which would stall
// the HTTP server's event loop (SSE heartbeats, every request) for minutes;
// so the service runs each job in a forked child (src/jobs/child.ts) that
// opens the same store (SQLite WAL: one writer at a time, readers never
// blocked) and sends its NasEvents back over IPC. The parent keeps the job
// row and the event bus; cancel is a message. If the parent goes away the
// child exits at once, leaving the job 'running' to resume at the next start.

import { fork, type ChildProcess } from 'node:child_process';
import type { NasEvent } from '../app/events.ts';
import { forkExecArgv, packageModule } from '../config/paths.ts';
import type { JobKind, JobRecord } from '../store/jobs.ts';
import { JobCrashedError, type JobHandler, type JobHandlers, type JobOutcome } from './queue.ts';

export type ParentToChild =
  | { type: 'run'; job: JobRecord; resume: boolean; dataDir: string }
  | { type: 'cancel' };

export type ChildToParent =
  | { type: 'event'; event: NasEvent }
  | { type: 'outcome'; outcome: JobOutcome }
  | { type: 'error'; message: string };

export interface ProcessHandlerOptions {
  dataDir: string;
  /** the child's module (default: child.ts beside this one, child.js when compiled) and node flags (default: forkExecArgv) */
  childModule?: string;
  execArgv?: string[];
  /** how often the cancel signal is polled, ms */
  pollMs?: number;
}

const live = new Set<ChildProcess>();

/** Kill every job process this process started (shutdown). */
export function killJobProcesses(): void {
  for (const c of live) c.kill('SIGKILL');
}

export function processHandler(o: ProcessHandlerOptions): JobHandler {
  const module = o.childModule ?? packageModule(import.meta.url, './child.ts');
  const execArgv = o.execArgv ?? forkExecArgv(module);
  return (job, { onEvent, cancel, resume }) => new Promise<JobOutcome>((resolve, reject) => {
    const child = fork(module, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    let outcome: JobOutcome | undefined;
    let failure: string | undefined;
    let cancelSent = false;
    const timer = setInterval(() => {
      if (cancel.cancelled && !cancelSent && child.connected) {
        cancelSent = true;
        child.send({ type: 'cancel' } satisfies ParentToChild);
      }
    }, o.pollMs ?? 200);
    child.on('message', (m: ChildToParent) => {
      if (m.type === 'event') onEvent(m.event);
      else if (m.type === 'outcome') outcome = m.outcome;
      else if (m.type === 'error') failure = m.message;
    });
    child.once('exit', (code, signal) => {
      clearInterval(timer);
      live.delete(child);
      if (outcome) resolve(outcome);
      else if (failure !== undefined) reject(new Error(failure));
      else reject(new JobCrashedError(`the job's process exited (${signal ? `signal ${signal}` : `code ${code}`}) before it finished`));
    });
    child.send({ type: 'run', job, resume, dataDir: o.dataDir } satisfies ParentToChild);
  });
}

/** Every kind run in a child process. */
export function processHandlers(o: ProcessHandlerOptions, kinds: readonly JobKind[] = ['search', 'run', 'supernet']): JobHandlers {
  const h = processHandler(o);
  return Object.fromEntries(kinds.map((k) => [k, h]));
}
