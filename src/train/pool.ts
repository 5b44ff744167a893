// A bounded pool of training worker processes (default: one per core). Each
// worker trains one trial at a time; trials queue when all are busy. A worker
// that dies mid-trial (crash, OOM kill, signal) or overruns the trial timeout
// fails only that trial, with the exit code / signal and the tail of its
// stderr recorded; the pool starts a fresh worker in its place.

import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { forkExecArgv, packageModule } from '../config/paths.ts';
import type { EpochReport } from './trainer.ts';
import type { ParentMessage, TrialRequest, TrialResult, WireError, WorkerMessage } from './protocol.ts';

export interface PoolOptions {
  /** worker processes (default: available cores) */
  size?: number;
  /** worker module (default: worker.ts beside this one, worker.js when compiled); tests pass their own */
  workerModule?: string;
  /** node flags of workers (default: forkExecArgv of the module: the tsx loader for a .ts module) */
  execArgv?: string[];
  /** extra environment of workers */
  env?: Record<string, string>;
  /** native-kernel threads per worker (default: max(1, floor(cores / size))) */
  threadsPerWorker?: number;
  /** fail (and kill the worker of) a trial that runs longer than this */
  trialTimeoutMs?: number;
}

export type TrialOutcome =
  | { ok: true; id: string; result: TrialResult; workerPid: number; wallMs: number }
  | {
      ok: false; id: string; workerPid: number; wallMs: number;
      /** error: the trial threw; crash: the worker died; timeout: killed after trialTimeoutMs */
      kind: 'error' | 'crash' | 'timeout';
      error: WireError;
      exitCode?: number | null;
      signal?: string | null;
      stderrTail?: string;
    };

interface Job {
  request: TrialRequest;
  onEpoch?: (r: EpochReport) => void;
  resolve: (o: TrialOutcome) => void;
  started?: number;
  timer?: NodeJS.Timeout;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  job?: Job;
  stderr: string;
  exited: boolean;
  /** killed (timeout): takes no new trial while it exits */
  retiring?: boolean;
}

const STDERR_TAIL = 4000;

export class TrialPool {
  readonly size: number;
  private readonly opts: PoolOptions;
  private readonly workers = new Set<Worker>();
  private readonly queue: Job[] = [];
  private closed = false;
  /** workers that died while running a trial */
  crashes = 0;
  /** workers started in all (initial + replacements) */
  started = 0;
  /** workers in a row that died before becoming ready */
  private startupFailures = 0;

  constructor(opts: PoolOptions = {}) {
    this.size = opts.size ?? availableParallelism();
    if (!(Number.isInteger(this.size) && this.size >= 1)) throw new RangeError(`pool size must be a positive integer, got ${opts.size}`);
    this.opts = opts;
  }

  /** Queues a trial; resolves (never rejects) with its outcome. */
  run(request: TrialRequest, onEpoch?: (r: EpochReport) => void): Promise<TrialOutcome> {
    if (this.closed) return Promise.reject(new Error('trial pool is closed'));
    return new Promise((resolve) => {
      this.queue.push({ request, onEpoch, resolve });
      this.dispatch();
    });
  }

  /** Stops all workers after their current trials (queued trials are failed). */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(this.failure(job, 0, 'error', { name: 'Error', message: 'trial pool closed' }));
    const exits = [...this.workers].map((w) => new Promise<void>((res) => {
      if (w.exited) return res();
      w.child.once('exit', () => res());
      // A worker still starting up may not listen yet: stop it outright.
      if (!w.ready) w.child.kill('SIGTERM');
      else if (!w.job) this.send(w, { type: 'shutdown' });
    }));
    await Promise.all(exits);
  }

  private spawn(): Worker {
    const module = this.opts.workerModule ?? packageModule(import.meta.url, './worker.ts');
    const cores = availableParallelism();
    const threads = this.opts.threadsPerWorker ?? Math.max(1, Math.floor(cores / this.size));
    const child = fork(module, [], {
      execArgv: this.opts.execArgv ?? forkExecArgv(module),
      env: { ...process.env, NAS_TRAIN_THREADS: String(threads), OMP_NUM_THREADS: String(threads), ...this.opts.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const w: Worker = { child, ready: false, stderr: '', exited: false };
    this.started++;
    this.workers.add(w);
    child.stderr?.on('data', (d: Buffer) => {
      w.stderr = (w.stderr + d.toString()).slice(-STDERR_TAIL);
    });
    child.on('message', (m: WorkerMessage) => this.onMessage(w, m));
    child.on('exit', (code, signal) => this.onExit(w, code, signal));
    child.on('error', (e) => {
      w.stderr = (w.stderr + `\n${e.message}`).slice(-STDERR_TAIL);
    });
    return w;
  }

  private send(w: Worker, msg: ParentMessage): void {
    if (!w.exited && w.child.connected) w.child.send(msg);
  }

  private dispatch(): void {
    if (this.closed) return;
    for (const w of this.workers) {
      if (this.queue.length === 0) return;
      if (w.ready && !w.job && !w.exited && !w.retiring) this.start(w, this.queue.shift()!);
    }
    // Start workers for what is still queued (not-yet-ready workers count as capacity).
    const pendingCapacity = [...this.workers].filter((w) => !w.ready && !w.exited).length;
    let missing = Math.min(this.queue.length - pendingCapacity, this.size - this.workers.size);
    while (missing-- > 0) this.spawn();
  }

  private start(w: Worker, job: Job): void {
    w.job = job;
    job.started = performance.now();
    if (this.opts.trialTimeoutMs) {
      job.timer = setTimeout(() => {
        if (w.job !== job) return;
        w.job = undefined;
        w.retiring = true;
        job.resolve(this.failure(job, w.child.pid ?? 0, 'timeout',
          { name: 'TrialTimeout', message: `trial ${job.request.id} exceeded ${this.opts.trialTimeoutMs} ms; worker killed` }));
        w.child.kill('SIGKILL');
      }, this.opts.trialTimeoutMs);
    }
    this.send(w, { type: 'train', request: job.request });
  }

  private failure(job: Job, pid: number, kind: 'error' | 'crash' | 'timeout', error: WireError, extra: Partial<TrialOutcome> = {}): TrialOutcome {
    return { ok: false, id: job.request.id, workerPid: pid, wallMs: job.started ? performance.now() - job.started : 0, kind, error, ...extra } as TrialOutcome;
  }

  private finish(w: Worker): Job | undefined {
    const job = w.job;
    w.job = undefined;
    if (job?.timer) clearTimeout(job.timer);
    return job;
  }

  private onMessage(w: Worker, m: WorkerMessage): void {
    if (m.type === 'ready') {
      w.ready = true;
      this.startupFailures = 0;
    } else if (m.type === 'epoch') {
      if (w.job?.request.id === m.id) w.job.onEpoch?.(m.report);
      return;
    } else if (w.job?.request.id === m.id) {
      const job = this.finish(w)!;
      const pid = w.child.pid ?? 0;
      if (m.type === 'done') job.resolve({ ok: true, id: job.request.id, result: m.result, workerPid: pid, wallMs: performance.now() - job.started! });
      else job.resolve(this.failure(job, pid, 'error', m.error));
      if (this.closed) this.send(w, { type: 'shutdown' });
    }
    this.dispatch();
  }

  private onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    w.exited = true;
    this.workers.delete(w);
    const job = this.finish(w);
    if (job) {
      this.crashes++;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      const tail = w.stderr.trim().split('\n').slice(-3).join(' | ');
      job.resolve(this.failure(job, w.child.pid ?? 0, 'crash',
        { name: 'WorkerCrash', message: `worker ${w.child.pid} died (${how}) during trial ${job.request.id}${tail ? `: ${tail}` : ''}` },
        { exitCode: code, signal, stderrTail: w.stderr }));
    } else if (!w.ready && ++this.startupFailures >= 3 && this.queue.length > 0) {
      // Workers die before becoming ready over and over: fail the queue instead of looping.
      this.startupFailures = 0;
      for (const q of this.queue.splice(0)) {
        q.resolve(this.failure(q, w.child.pid ?? 0, 'crash', { name: 'WorkerCrash', message: `workers fail to start: ${w.stderr.trim().split('\n').slice(-3).join(' | ')}` }, { exitCode: code, signal, stderrTail: w.stderr }));
      }
    }
    // Replace a worker lost mid-trial right away, so the pool stays at strength.
    if ((job || w.retiring) && !this.closed && this.workers.size < this.size) this.spawn();
    this.dispatch();
  }
}
