// Pieces every strategy shares: option and state validation with clear
// errors, the ledger of outstanding proposals (unique ids, each observed
// exactly once, in any order), reward checks and the windowed reward curve.

import { BLOCK_DECISIONS, type Decisions } from '../../space/sampler.ts';
import type { Skeleton } from '../../space/skeleton.ts';
import type { Observation, StrategyStats } from '../strategy.ts';

/** Bad strategy options or a state that does not fit: the caller's input (HTTP 400). */
export class StrategyInputError extends RangeError {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'StrategyInputError';
  }
}

/** A protocol violation by the caller: unknown or repeated proposal id (HTTP 409). */
export class StrategyProtocolError extends Error {
  readonly status = 409;
  constructor(message: string) {
    super(message);
    this.name = 'StrategyProtocolError';
  }
}

export function intOption(name: string, value: unknown, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new StrategyInputError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

export function numOption(name: string, value: unknown, dflt: number, min: number, max: number, exclusiveMin = false): number {
  if (value === undefined) return dflt;
  const ok = typeof value === 'number' && Number.isFinite(value) && (exclusiveMin ? value > min : value >= min) && value <= max;
  if (!ok) throw new StrategyInputError(`${name} must be a number in ${exclusiveMin ? '(' : '['}${min}, ${max}], got ${JSON.stringify(value)}`);
  return value as number;
}

export function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new StrategyInputError(`seed must be an integer in [0, 4294967295], got ${JSON.stringify(seed)}`);
  }
  return seed;
}

export function checkReward(obs: Observation): number | null {
  const r = obs.reward;
  if (r === null) return null;
  if (typeof r !== 'number' || !Number.isFinite(r)) {
    throw new StrategyInputError(`reward of proposal ${obs.proposalId} must be a finite number or null, got ${String(r)}`);
  }
  return r;
}

export function checkCount(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new StrategyInputError(`propose(n): n must be a non-negative integer, got ${String(n)}`);
  return n;
}

/** Throws unless `state` is an object made by getState() of strategy `name`. */
export function stateObject(state: unknown, name: string, version: number): Record<string, unknown> {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new StrategyInputError(`${name} state must be an object, got ${state === null ? 'null' : typeof state}`);
  }
  const s = state as Record<string, unknown>;
  if (s.strategy !== name) throw new StrategyInputError(`state belongs to strategy ${JSON.stringify(s.strategy)}, not ${name}`);
  if (s.version !== version) throw new StrategyInputError(`${name} state version ${JSON.stringify(s.version)} is not supported (expected ${version})`);
  return s;
}

export function checkRngState(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new StrategyInputError(`state.rng must be an unsigned 32-bit integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function checkDecisions(skeleton: Skeleton, d: unknown, where: string): Decisions {
  const ok = Array.isArray(d) && d.length === skeleton.blocks.length && d.every((b) =>
    Array.isArray(b) && b.length === BLOCK_DECISIONS.length &&
    b.every((v, i) => Number.isInteger(v) && v >= 0 && v < BLOCK_DECISIONS[i].choices.length));
  if (!ok) throw new StrategyInputError(`${where}: decisions do not fit skeleton ${skeleton.name}`);
  return (d as number[][]).map((b) => [...b]);
}

export function copyDecisions(d: Decisions): Decisions {
  return d.map((b) => [...b]);
}

/** Outstanding proposals keyed by id; ids are `${prefix}-${counter}` and never reused. */
export class ProposalLedger<T> {
  private nextId = 0;
  private pending = new Map<string, T>();
  constructor(private readonly prefix: string) {}

  issue(payload: T): string {
    const id = `${this.prefix}-${this.nextId++}`;
    this.pending.set(id, payload);
    return id;
  }

  /** Removes and returns the payload of an outstanding proposal; throws on unknown or repeated ids. */
  take(proposalId: string): T {
    const payload = this.pending.get(proposalId);
    if (payload === undefined) {
      const m = /^(.+)-(\d+)$/.exec(String(proposalId));
      const seen = m !== null && m[1] === this.prefix && Number(m[2]) < this.nextId;
      throw new StrategyProtocolError(seen
        ? `proposal ${proposalId} was already observed`
        : `unknown proposal id ${JSON.stringify(proposalId)}`);
    }
    this.pending.delete(proposalId);
    return payload;
  }

  get size(): number {
    return this.pending.size;
  }

  values(): IterableIterator<T> {
    return this.pending.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.pending.entries();
  }

  toJSON(encode: (p: T) => unknown): { nextId: number; pending: [string, unknown][] } {
    return { nextId: this.nextId, pending: [...this.pending].map(([id, p]) => [id, encode(p)]) };
  }

  restore(json: unknown, decode: (p: unknown, id: string) => T): void {
    const j = json as { nextId?: unknown; pending?: unknown } | null;
    if (!j || !Number.isInteger(j.nextId) || (j.nextId as number) < 0 || !Array.isArray(j.pending)) {
      throw new StrategyInputError('state.ledger must be {nextId, pending[]}');
    }
    const pending = new Map<string, T>();
    for (const e of j.pending as unknown[]) {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string') throw new StrategyInputError('state.ledger.pending entries must be [id, payload]');
      const m = /^(.+)-(\d+)$/.exec(e[0]);
      if (!m || m[1] !== this.prefix || Number(m[2]) >= (j.nextId as number) || pending.has(e[0])) {
        throw new StrategyInputError(`state.ledger: ${JSON.stringify(e[0])} is not a proposal id this ${this.prefix} strategy issued`);
      }
      pending.set(e[0], decode(e[1], e[0]));
    }
    this.nextId = j.nextId as number;
    this.pending = pending;
  }
}

/** Mean reward per window of `size` successful observations (random search's and evolution's "generations"). */
export class RewardCurve {
  curve: number[] = [];
  private sum = 0;
  private count = 0;
  observed = 0;
  failed = 0;
  best: number | null = null;
  constructor(private readonly size: number) {}

  add(reward: number | null): void {
    this.observed++;
    if (reward === null) {
      this.failed++;
      return;
    }
    if (this.best === null || reward > this.best) this.best = reward;
    this.sum += reward;
    if (++this.count === this.size) {
      this.curve.push(this.sum / this.count);
      this.sum = 0;
      this.count = 0;
    }
  }

  toJSON() {
    return { curve: [...this.curve], sum: this.sum, count: this.count, observed: this.observed, failed: this.failed, best: this.best };
  }

  restore(json: unknown): void {
    const j = json as Record<string, unknown> | null;
    const nums = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!j || !nums(j.curve) || typeof j.sum !== 'number' || !Number.isInteger(j.count) || !Number.isInteger(j.observed) ||
        !Number.isInteger(j.failed) || !(j.best === null || typeof j.best === 'number')) {
      throw new StrategyInputError('state.rewards is malformed');
    }
    this.curve = [...(j.curve as number[])];
    this.sum = j.sum as number;
    this.count = j.count as number;
    this.observed = j.observed as number;
    this.failed = j.failed as number;
    this.best = j.best as number | null;
  }
}

/** The stats every strategy reports from its reward curve and its outstanding proposals. */
export function curveStats(rewards: RewardCurve, pending: number): StrategyStats {
  return {
    updates: rewards.curve.length,
    rewardCurve: [...rewards.curve],
    observed: rewards.observed,
    failed: rewards.failed,
    pending,
    bestReward: rewards.best,
  };
}
