// Adaptation events (src/app/adapt.ts) on a terminal: a progress bar per
// phase on a TTY, a line per 10% otherwise; `--events` prints the events
// themselves, one JSON object a line (the service reads them).

import cliProgress from 'cli-progress';
import type { AdaptEvent } from '../app/adapt.ts';

export function adaptReporter(o: { events?: boolean; out?: NodeJS.WriteStream } = {}): { onEvent: (e: AdaptEvent) => void; stop: () => void } {
  const out = o.out ?? process.stderr;
  if (o.events) return { onEvent: (e) => process.stdout.write(JSON.stringify(e) + '\n'), stop: () => {} };
  const tty = Boolean(out.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  let lastTenth = -1;
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  const onEvent = (e: AdaptEvent) => {
    switch (e.type) {
      case 'adapt-started':
        out.write(`adapting ${e.deviceId} to this host: ${e.reason}\n  from ${e.source}\n  quick: ${e.quickKernels} of ${e.totalKernels} kernels (stratified) and the calibration networks; then the full table` +
          `${e.resumedKernels > 0 ? ` (resuming: ${e.resumedKernels} kernels measured before)` : ''}\n`);
        break;
      case 'adapt-progress': {
        const eta = e.done > 0 ? Math.round(((e.total - e.done) * e.elapsedS) / Math.max(1, e.done)) : 0;
        if (phase !== e.phase) {
          stopBar();
          phase = e.phase;
          lastTenth = -1;
          if (tty) {
            bar = new cliProgress.SingleBar({ format: `${e.phase === 'quick' ? 'quick subset' : 'full table  '} {bar} {value}/{total} kernels | {elapsedText} | ETA {etaText}`, hideCursor: true, stream: out }, cliProgress.Presets.shades_classic);
            bar.start(e.total, e.done, { elapsedText: '0s', etaText: '-' });
          }
        }
        if (bar) bar.update(e.done, { elapsedText: `${Math.round(e.elapsedS)}s`, etaText: `${eta}s` });
        else if (Math.floor((10 * e.done) / e.total) !== lastTenth) {
          lastTenth = Math.floor((10 * e.done) / e.total);
          out.write(`${e.phase}: ${e.done}/${e.total} kernels (${Math.round(e.elapsedS)} s, ETA ${eta} s)\n`);
        }
        break;
      }
      case 'adapt-log':
        stopBar();
        phase = '';
        out.write(`  ${e.message}\n`);
        break;
      case 'adapt-table':
        stopBar();
        phase = '';
        out.write(`wrote the ${e.kind} table ${e.path}: ${e.summary}\n  calibration: ${e.calibration}\n`);
        break;
      case 'adapt-done':
        stopBar();
        out.write(`adaptation of ${e.deviceId} done: ${e.kind} table in force (${e.wallS.toFixed(0)} s)\n`);
        break;
      case 'adapt-failed':
        stopBar();
        out.write(`adaptation of ${e.deviceId} stopped: ${e.error}${e.partial ? `; the previous table stays in force, measurements so far kept in ${e.partial} (run again to resume)` : ''}\n`);
        break;
    }
  };
  return { onEvent, stop: stopBar };
}
