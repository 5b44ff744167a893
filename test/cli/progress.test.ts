// The terminal view of a run's events (src/cli/progress.ts): plain lines when
// stdout is not a terminal, a live bar on one that is; both show the stage,
// the task, done of total, images/s and the stage's and the job's ETA.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { NasEvent } from '../../src/app/events.ts';
import { formatDuration, progressLine, runReporter } from '../../src/cli/progress.ts';

const at = new Date(0).toISOString();
const events: NasEvent[] = [
  { type: 'stage-changed', searchId: 's', stage: 'final-training', at },
  { type: 'progress', searchId: 's', stage: 'final-training', task: 'final training', done: 2, total: 10, unit: 'epoch', imagesPerSec: 312.4, etaS: 95, jobEtaS: 3725, message: 'epoch 2 of 10: validation accuracy 81.20%', at },
  { type: 'log', searchId: 's', level: 'warn', message: 'something to know', at },
  { type: 'cancelled', searchId: 's', message: 'cancelled during final-training; kept 2 stage checkpoint(s)', at },
];

function stream(tty: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(w, { isTTY: tty, columns: 200, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true });
  return { out: w, text: () => text };
}

describe('the CLI view of a run', () => {
  it('formats durations and progress lines', () => {
    assert.deepEqual([formatDuration(42.4), formatDuration(320), formatDuration(3725), formatDuration(undefined)], ['42s', '5m20s', '1h02m', '-']);
    assert.equal(progressLine(events[1] as Extract<NasEvent, { type: 'progress' }>),
      '  [final-training] final training: 2/10 epochs, 312 images/s, ETA 1m35s (job 1h02m) - epoch 2 of 10: validation accuracy 81.20%');
  });

  it('writes one line per event when stdout is not a terminal', () => {
    const s = stream(false);
    const r = runReporter(s.out);
    for (const e of events) r.onEvent(e);
    r.stop();
    assert.deepEqual(s.text().trimEnd().split('\n'), [
      '[final-training]',
      '  [final-training] final training: 2/10 epochs, 312 images/s, ETA 1m35s (job 1h02m) - epoch 2 of 10: validation accuracy 81.20%',
      '  warning: something to know',
      'cancelled: cancelled during final-training; kept 2 stage checkpoint(s)',
    ]);
  });

  it('draws a bar with the task and both ETAs on a terminal', () => {
    const s = stream(true);
    const r = runReporter(s.out);
    for (const e of events.slice(0, 3)) r.onEvent(e);
    r.stop();
    const text = s.text();
    assert.match(text, /\[final-training\] .* 2\/10 epochs \| final training \| 312 img\/s \| ETA 1m35s \(job 1h02m\)/);
    assert.match(text, /something to know/);
  });
});
