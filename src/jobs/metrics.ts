// Prometheus metrics of the job queue, read from the store at scrape time
// (the rows are the truth; nothing to keep in step): jobs per kind and
// status, and the live event-stream subscribers (SSE connections).

import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../store/db.ts';
import { JobsRepo } from '../store/jobs.ts';
import type { EventBus } from './bus.ts';

export function registerJobMetrics(registry: Registry, db: Db, bus: EventBus): void {
  const jobs = new JobsRepo(db);
  new Gauge({
    name: 'nas_jobs', help: 'jobs in the store by kind and status', labelNames: ['kind', 'status'], registers: [registry],
    collect() {
      this.reset();
      for (const r of jobs.countByKindAndStatus()) this.set({ kind: r.kind, status: r.status }, r.count);
    },
  });
  new Gauge({
    name: 'nas_event_subscribers', help: 'live subscribers of search events (SSE connections)', registers: [registry],
    collect() {
      this.set(bus.subscriberCount());
    },
  });
}
