// In-memory, per-search event bus: fans the NasEvents of running jobs out to
// live subscribers (SSE connections). It keeps no history: the store is the
// source of truth, so a late joiner first reads the current state from the
// store and then follows the bus. A subscriber that throws is dropped; it
// never breaks the job that publishes.

import type { NasEvent } from '../app/events.ts';

export type EventListener = (e: NasEvent) => void;

/** Events after which a search's stream ends. */
export const TERMINAL_EVENTS: ReadonlySet<NasEvent['type']> = new Set(['done', 'failed', 'cancelled']);

export class EventBus {
  private readonly byKey = new Map<string, Set<EventListener>>();
  private readonly all = new Set<EventListener>();

  /** listen to one search's events; returns the unsubscribe function */
  subscribe(searchId: string, fn: EventListener): () => void {
    let set = this.byKey.get(searchId);
    if (!set) this.byKey.set(searchId, (set = new Set()));
    set.add(fn);
    return () => {
      const s = this.byKey.get(searchId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.byKey.delete(searchId);
    };
  }

  /** listen to every search's events */
  subscribeAll(fn: EventListener): () => void {
    this.all.add(fn);
    return () => void this.all.delete(fn);
  }

  publish(e: NasEvent): void {
    const targets = [...(this.byKey.get(e.searchId) ?? []), ...this.all];
    for (const fn of targets) {
      try {
        fn(e);
      } catch {
        this.all.delete(fn);
        this.byKey.get(e.searchId)?.delete(fn);
      }
    }
  }

  /** live subscribers of one search (for tests and metrics) */
  subscriberCount(searchId?: string): number {
    return searchId === undefined ? [...this.byKey.values()].reduce((n, s) => n + s.size, 0) + this.all.size : (this.byKey.get(searchId)?.size ?? 0);
  }
}
