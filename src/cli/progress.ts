// The terminal view of a `nas run` (local, or a whole run followed over the
// service's events): one line per stage change and log line, and the stage's
// progress events as a live bar on a TTY (task, done/total, images/s, the
// stage's and the whole job's ETA) or as plain lines otherwise. It reads
// the same typed events (src/app/events.ts) as SSE and the dashboard.

import cliProgress from 'cli-progress';
import type { NasEvent, ProgressEvent } from '../app/events.ts';

/** 42s, 5m20s, 1h02m */
export function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '-';
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** One line for a progress event: `[stage] task: done/total unit, images/s, ETA (job ETA) - message`. */
export function progressLine(e: ProgressEvent): string {
  const parts = [`${num(e.done)}/${num(e.total)} ${e.unit}${e.total === 1 ? '' : 's'}`];
  if (e.imagesPerSec !== undefined) parts.push(`${e.imagesPerSec.toFixed(0)} images/s`);
  if (e.etaS !== undefined) parts.push(`ETA ${formatDuration(e.etaS)}${e.jobEtaS !== undefined ? ` (job ${formatDuration(e.jobEtaS)})` : ''}`);
  return `  [${e.stage}] ${e.task}: ${parts.join(', ')}${e.message ? ` - ${e.message}` : ''}`;
}

/** Lines for the other events of a run (null: nothing to print). */
export function eventLine(e: NasEvent): string | null {
  return e.type === 'stage-changed' ? `[${e.stage}]${e.detail ? ` ${e.detail}` : ''}`
    : e.type === 'log' ? `  ${e.level === 'warn' ? 'warning: ' : ''}${e.message}`
    : e.type === 'trial-finished' ? `  trial ${e.trialsDone} ${e.archId} ${e.status} acc ${e.accuracy?.toFixed(3) ?? '-'} latency ${e.latencyMs.toFixed(3)} ms`
    : e.type === 'failed' ? `failed: ${e.error}`
    : e.type === 'cancelled' ? `cancelled${e.message ? `: ${e.message}` : ''}`
    : null;
}

export interface RunReporter {
  onEvent: (e: NasEvent) => void;
  stop: () => void;
}

/** Events of a run -> a live bar per stage (TTY) or plain lines. */
export function runReporter(out: NodeJS.WriteStream = process.stdout): RunReporter {
  if (!out.isTTY) {
    return {
      onEvent: (e) => {
        const line = e.type === 'progress' ? progressLine(e) : eventLine(e);
        if (line !== null) out.write(`${line}\n`);
      },
      stop: () => {},
    };
  }
  const multi = new cliProgress.MultiBar({
    format: '{stage} {bar} {value}/{total} {unit} | {task} | {rate} | ETA {eta_s} (job {job})',
    hideCursor: true, clearOnComplete: false, stopOnComplete: false, stream: out,
  }, cliProgress.Presets.shades_classic);
  let bar: cliProgress.SingleBar | null = null;
  let last: ProgressEvent | null = null;
  const payload = (e: ProgressEvent) => ({
    stage: `[${e.stage}]`, unit: `${e.unit}s`, task: e.task.slice(0, 60),
    rate: e.imagesPerSec === undefined ? '-' : `${e.imagesPerSec.toFixed(0)} img/s`,
    eta_s: formatDuration(e.etaS), job: formatDuration(e.jobEtaS),
  });
  // a stage's bar ends as a line with its last progress
  const endBar = () => {
    if (bar) multi.remove(bar);
    if (last) multi.log(`${progressLine(last)}\n`);
    bar = null;
    last = null;
  };
  return {
    onEvent: (e) => {
      if (e.type === 'progress') {
        const p = payload(e);
        last = e;
        if (!bar) bar = multi.create(e.total, e.done, p);
        else {
          if (bar.getTotal() !== e.total) bar.setTotal(e.total);
          bar.update(e.done, p);
        }
        multi.update();
        return;
      }
      if (e.type === 'stage-changed') endBar();
      const line = eventLine(e);
      if (line !== null) multi.log(`${line}\n`);
    },
    stop: () => {
      endBar();
      multi.stop();
    },
  };
}

/**
 * Ctrl-C as a cancel: the first sets the signal (the use case stops at its
 * next check and keeps what it has; `note` says what happens), a second
 * quits at once. `off()` removes the handler.
 */
export function cancelOnSigint(note: string): { cancel: { cancelled: boolean }; off: () => void } {
  const cancel = { cancelled: false };
  const onSigint = () => {
    if (cancel.cancelled) process.exit(130);
    cancel.cancelled = true;
    process.stderr.write(`\ncancelling: ${note}\n`);
  };
  process.on('SIGINT', onSigint);
  return { cancel, off: () => void process.off('SIGINT', onSigint) };
}
