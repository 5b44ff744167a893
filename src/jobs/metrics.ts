// Prometheus metrics of the job queue, read from the store at scrape time
// (the rows are the truth; nothing to keep in step): jobs per kind and
// status, and the live event-stream subscribers (SSE connections).

import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../store/db.ts';
import type { EventBus } from './bus.ts';

export function registerJobMetrics(registry: Registry, db: Db, bus: EventBus): void {
  new Gauge({
    name: 'nas_jobs', help: 'jobs in the store by kind and status', labelNames: ['kind', 'status'], registers: [registry],
    collect() {
      this.reset();
      const rows = db.prepare('SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status').all() as { kind: string; status: string; n: number }[];
      for (const r of rows) this.set({ kind: r.kind, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'nas_event_subscribers', help: 'live subscribers of search events (SSE connections)', registers: [registry],
    collect() {
      this.set(bus.subscriberCount());
    },
  });
}
