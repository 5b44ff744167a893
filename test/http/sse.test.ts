// The SSE plumbing on a real HTTP server: state first, then live bus events
// (including those published while the state was being read), heartbeats,
// the end after a terminal event, an immediate end when the state is final,
// and the bus subscription released when the client goes away.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { now, type NasEvent } from '../../src/app/events.ts';
import { EventBus } from '../../src/jobs/bus.ts';
import { streamSearch } from '../../src/http/sse.ts';
import { readSse, type SseMessage } from './sse-client.ts';

describe('SSE search stream', () => {
  const bus = new EventBus();
  const states = new Map<string, { status: string; trials: number }>();
  let server: Server;
  let base: string;
  before(async () => {
    const app = express();
    app.get('/s/:id/events', (req, res) => {
      const id = req.params.id;
      void streamSearch(req, res, {
        bus, key: id, heartbeatMs: 20,
        snapshot: () => {
          const s = states.get(id);
          if (!s) throw new Error(`no search ${id}`);
          // an event published while the state is read must still arrive
          if (id === 'racy') bus.publish({ type: 'log', searchId: id, level: 'info', message: 'during snapshot', at: now() });
          return s;
        },
        isFinal: (s) => ['succeeded', 'failed', 'cancelled'].includes(s.status),
      });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => { server.closeAllConnections(); server.close(); });

  it('sends the state, then live events in order, heartbeats while idle, and ends after done', async () => {
    states.set('a', { status: 'running', trials: 1 });
    const got: SseMessage[] = [];
    const comments: string[] = [];
    const res = await fetch(`${base}/s/a/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reading = readSse(res, (m) => got.push(m), (c) => comments.push(c));
    for (let i = 0; i < 200 && bus.subscriberCount('a') === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 60)); // some heartbeats
    const trial: NasEvent = { type: 'trial-finished', searchId: 'a', trialId: 't2', archId: 'x', status: 'succeeded', accuracy: 0.5, latencyMs: 1.2, reward: 0.49, trialsDone: 2, cacheHits: 0, at: now() };
    bus.publish(trial);
    bus.publish({ type: 'log', searchId: 'other', level: 'info', message: 'not mine', at: now() });
    bus.publish({ type: 'done', searchId: 'a', status: 'succeeded', bestTrialId: 't2', at: now() });
    bus.publish({ type: 'log', searchId: 'a', level: 'info', message: 'after the end', at: now() });
    await reading; // the server ended the stream
    assert.deepEqual(got.map((m) => m.event), ['state', 'trial-finished', 'done']);
    assert.deepEqual(got[0]!.data, { status: 'running', trials: 1 });
    assert.deepEqual(got[1]!.data, trial);
    assert.deepEqual(got.map((m) => m.id), ['1', '2', '3']);
    assert.ok(comments.filter((c) => c === 'heartbeat').length >= 1, 'heartbeat comments while idle');
    assert.equal(bus.subscriberCount('a'), 0);
  });

  it('keeps events published while the state was read, after the state', async () => {
    states.set('racy', { status: 'running', trials: 0 });
    const got: SseMessage[] = [];
    const res = await fetch(`${base}/s/racy/events`);
    const reading = readSse(res, (m) => {
      got.push(m);
      if (m.event === 'log') bus.publish({ type: 'failed', searchId: 'racy', error: 'boom', at: now() });
    });
    await reading;
    assert.deepEqual(got.map((m) => m.event), ['state', 'log', 'failed']);
  });

  it('ends at once when the state is already final (a late joiner of a finished search)', async () => {
    states.set('b', { status: 'succeeded', trials: 4 });
    const got: SseMessage[] = [];
    await readSse(await fetch(`${base}/s/b/events`), (m) => got.push(m));
    assert.deepEqual(got, [{ event: 'state', id: '1', data: { status: 'succeeded', trials: 4 } }]);
    assert.equal(bus.subscriberCount('b'), 0);
  });

  it('a late joiner of a running search gets, after the state, the latest progress of each stage, then live events; nothing once the search ended', async () => {
    states.set('late', { status: 'running', trials: 0 });
    const progress = (stage: 'supernet' | 'final-training', unit: 'step' | 'network' | 'epoch', done: number): NasEvent =>
      ({ type: 'progress', searchId: 'late', stage, task: stage, done, total: 10, unit, at: now() });
    for (let d = 1; d <= 3; d++) bus.publish(progress('supernet', 'step', d)); // before anyone listens
    bus.publish(progress('supernet', 'network', 1));
    bus.publish(progress('supernet', 'step', 4));
    bus.publish(progress('final-training', 'epoch', 2));
    bus.publish({ type: 'log', searchId: 'late', level: 'info', message: 'not kept', at: now() });
    const got: SseMessage[] = [];
    const reading = readSse(await fetch(`${base}/s/late/events`), (m) => got.push(m));
    for (let i = 0; i < 200 && bus.subscriberCount('late') === 0; i++) await new Promise((r) => setTimeout(r, 5));
    bus.publish(progress('final-training', 'epoch', 3));
    bus.publish({ type: 'done', searchId: 'late', status: 'succeeded', bestTrialId: null, at: now() });
    await reading;
    assert.deepEqual(got.map((m) => m.event === 'progress' ? `${(m.data as { unit: string }).unit}:${(m.data as { done: number }).done}` : m.event),
      ['state', 'network:1', 'step:4', 'epoch:2', 'epoch:3', 'done']);
    assert.deepEqual(bus.progressOf('late'), [], 'forgotten once the search ended');
  });

  it('releases the subscription when the client disconnects', async () => {
    states.set('c', { status: 'running', trials: 0 });
    const ac = new AbortController();
    const res = await fetch(`${base}/s/c/events`, { signal: ac.signal });
    const reading = readSse(res, () => {}).catch(() => {});
    for (let i = 0; i < 200 && bus.subscriberCount('c') === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(bus.subscriberCount('c'), 1);
    ac.abort();
    await reading;
    for (let i = 0; i < 200 && bus.subscriberCount('c') > 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(bus.subscriberCount('c'), 0);
  });
});
