// Server-Sent Events for a search's live progress. The store is the source
// of truth: a connection first gets the current state (`event: state`), then
// the live NasEvents of the job bus, one SSE event per NasEvent with the
// event's type as its name (trial-finished, best-changed, stage-changed,
// progress, done, failed, cancelled, ...; api/openapi.json NasEvent), a
// heartbeat comment every `heartbeatMs`,
// and the stream ends after a terminal event (done / failed / cancelled) or
// at once when the state read first is already terminal.
//
// Subscription happens before the state is read, and events that arrive
// meanwhile are sent after it, so nothing between the two is lost (an event
// may repeat what the state already holds; clients key trials by id).

import type { Request, RequestHandler, Response } from 'express';
import type { NasEvent } from '../app/events.ts';
import { TERMINAL_EVENTS, type EventBus } from '../jobs/bus.ts';

export const DEFAULT_HEARTBEAT_MS = 15_000;

/** One open event stream on a response. */
export class SseStream {
  private seq = 0;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(private readonly res: Response, heartbeatMs = DEFAULT_HEARTBEAT_MS) {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    // the client's reconnect delay if the connection drops before the end
    res.write('retry: 3000\n\n');
    if (heartbeatMs > 0) {
      this.timer = setInterval(() => this.comment('heartbeat'), heartbeatMs);
      this.timer.unref();
    }
    res.on('close', () => this.finish());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(event: string, data: unknown): void {
    if (this.closed) return;
    this.seq++;
    const lines = JSON.stringify(data).split('\n').map((l) => `data: ${l}`).join('\n');
    this.res.write(`id: ${this.seq}\nevent: ${event}\n${lines}\n\n`);
  }

  comment(text: string): void {
    if (!this.closed) this.res.write(`: ${text}\n\n`);
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  /** end the stream (the client's EventSource should then close, not reconnect) */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const fn of this.closeHandlers.splice(0)) fn();
  }
}

export interface SearchStreamOptions<S> {
  bus: EventBus;
  /** the bus key (the search id) */
  key: string;
  /** the current state from the store */
  snapshot: () => S;
  /** true when the state is final (no more events will come) */
  isFinal: (s: S) => boolean;
  heartbeatMs?: number;
}

/** Stream state, then the latest progress of each running stage, then live events, for one search on `res`; resolves when the stream ends. */
export function streamSearch<S>(_req: Request, res: Response, o: SearchStreamOptions<S>): Promise<void> {
  const stream = new SseStream(res, o.heartbeatMs);
  return new Promise<void>((resolve) => {
    stream.onClose(resolve);
    const pending: NasEvent[] = [];
    let live = false;
    const deliver = (e: NasEvent): void => {
      stream.send(e.type, e);
      if (TERMINAL_EVENTS.has(e.type)) stream.end();
    };
    const off = o.bus.subscribe(o.key, (e) => (live ? deliver(e) : pending.push(e)));
    stream.onClose(off);
    let state: S;
    try {
      state = o.snapshot();
    } catch (err) {
      stream.send('failed', { type: 'failed', searchId: o.key, error: err instanceof Error ? err.message : String(err), at: new Date().toISOString() });
      stream.end();
      return;
    }
    stream.send('state', state);
    if (o.isFinal(state)) {
      stream.end();
      return;
    }
    live = true;
    // where each running stage stands now (events that also arrived meanwhile are sent once, in order)
    const queued = new Set(pending);
    for (const e of o.bus.progressOf(o.key)) {
      if (stream.isClosed) break;
      if (!queued.has(e)) deliver(e);
    }
    for (const e of pending.splice(0)) {
      if (stream.isClosed) break;
      deliver(e);
    }
  });
}

/** EventSource cannot send headers: the events route also takes the key as ?token= (masked in the logs). */
export const tokenFromQuery: RequestHandler = (req, _res, next) => {
  const t = req.query.token;
  if (req.get('authorization') === undefined && typeof t === 'string' && t !== '') req.headers.authorization = `Bearer ${t}`;
  next();
};
