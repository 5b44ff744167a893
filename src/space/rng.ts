// Small seeded PRNG (mulberry32) so samples, mutations and shuffles are
// reproducible. Its 32-bit state can be saved and restored, so a search
// strategy's getState()/setState() resumes the exact sequence of draws.

export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

export interface StatefulRng extends Rng {
  /** the generator's 32-bit state (an unsigned integer) */
  getState(): number;
  setState(state: number): void;
}

export function createRng(seed: number): StatefulRng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  let a = Math.floor(seed) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('cannot pick from an empty list');
      return items[int(items.length)];
    },
    getState: () => a,
    setState(state: number) {
      if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) {
        throw new RangeError(`rng state must be an unsigned 32-bit integer, got ${String(state)}`);
      }
      a = state >>> 0;
    },
  };
}
