// In-memory, per-search event bus: fans the NasEvents of running jobs out to
// live subscribers (SSE connections). It keeps no history beyond the latest
// progress event of each running stage: the store is the source of truth, so
// a late joiner first reads the current state from the store, then gets where
// each running stage stands (a progress bar at once, not after the next
// event, and not lost when a short stage ended before it joined), then
// follows the bus. A subscriber that throws is dropped; it never breaks the
// job that publishes.

import type { NasEvent } from '../app/events.ts';

export type EventListener = (e: NasEvent) => void;

/** Events after which a search's stream ends. */
export const TERMINAL_EVENTS: ReadonlySet<NasEvent['type']> = new Set(['done', 'failed', 'cancelled']);

/** Searches whose latest progress is remembered at most (the oldest is forgotten first). */
const MAX_REMEMBERED = 1000;

export class EventBus {
  private readonly byKey = new Map<string, Set<EventListener>>();
  private readonly all = new Set<EventListener>();
  /** per search: the latest progress event of each (stage, unit), until the search's terminal event */
  private readonly latest = new Map<string, Map<string, NasEvent>>();

  /** the latest progress event of each stage of a running search, oldest first */
  progressOf(searchId: string): NasEvent[] {
    return [...(this.latest.get(searchId)?.values() ?? [])];
  }

  private remember(e: NasEvent): void {
    if (TERMINAL_EVENTS.has(e.type)) return void this.latest.delete(e.searchId);
    if (e.type !== 'progress') return;
    let m = this.latest.get(e.searchId);
    if (!m) {
      if (this.latest.size >= MAX_REMEMBERED) this.latest.delete(this.latest.keys().next().value!);
      this.latest.set(e.searchId, (m = new Map()));
    }
    const k = `${e.stage}\u0000${e.unit}`;
    m.delete(k); // re-inserted last: the map stays in order of the latest update
    m.set(k, e);
  }

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
    this.remember(e);
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
