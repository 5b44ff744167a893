// The one parser of number-valued CLI flags. A value is a decimal number
// (`12`, `-0.5`, `1e3`; not `abc`, `0x10`, an empty string or one that
// overflows to Infinity) within the flag's bounds, else a UsageError naming
// the flag, what it takes and the value given: one `error: ...` line, exit 2.
//
//   const epochs = numberFlag({ name: 'epochs', integer: true, min: 1 });
//   epochs('3') === 3; epochs(undefined) === undefined; epochs('2.5') throws
//   `--epochs must be a positive integer, got "2.5"`
//
// The parser also fits commander's argParser: .option('--epochs <n>', '...', epochs).

import { UsageError } from './errors.ts';

export interface NumberFlagSpec {
  /** the flag without its dashes: 'epochs' for --epochs */
  name: string;
  /** whole numbers only */
  integer?: boolean;
  /** smallest value allowed */
  min?: number;
  /** values must be above this one (0: a positive number) */
  greaterThan?: number;
  /** largest value allowed */
  max?: number;
}

export interface NumberFlagParser {
  (value: string): number;
  (value: string | undefined): number | undefined;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** What the flag takes, in words: "a positive integer", "a number >= 0", "an integer in [1, 64]". */
export function describeNumberFlag(s: Omit<NumberFlagSpec, 'name'>): string {
  const kind = s.integer ? 'integer' : 'number';
  const a = s.integer ? 'an integer' : 'a number';
  const { min, max, greaterThan: gt } = s;
  if (max === undefined) {
    if (gt === 0 && min === undefined) return `a positive ${kind}`;
    if (s.integer && min === 1 && gt === undefined) return 'a positive integer';
    if (s.integer && min === 0 && gt === undefined) return 'a non-negative integer';
  }
  if (min !== undefined && max !== undefined) return `${a} in [${min}, ${max}]`;
  if (gt !== undefined && max !== undefined) return `${a} in (${gt}, ${max}]`;
  if (min !== undefined) return `${a} >= ${min}`;
  if (gt !== undefined) return `${a} > ${gt}`;
  if (max !== undefined) return `${a} <= ${max}`;
  return a;
}

/** A parser for one number flag (undefined, an absent flag, passes through). */
export function numberFlag(spec: NumberFlagSpec): NumberFlagParser {
  if (spec.min !== undefined && spec.greaterThan !== undefined) throw new RangeError(`--${spec.name}: give min or greaterThan, not both`);
  const parse = (value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value.trim());
    const ok = DECIMAL.test(value.trim()) && Number.isFinite(n)
      && (!spec.integer || Number.isInteger(n))
      && (spec.min === undefined || n >= spec.min)
      && (spec.greaterThan === undefined || n > spec.greaterThan)
      && (spec.max === undefined || n <= spec.max);
    if (!ok) throw new UsageError(`--${spec.name} must be ${describeNumberFlag(spec)}, got ${JSON.stringify(value)}`);
    return n;
  };
  return parse as NumberFlagParser;
}

/** The commonest case: a count (epochs, trials, batch size, ...), an integer >= 1. */
export function positiveIntFlag(name: string): NumberFlagParser {
  return numberFlag({ name, integer: true, min: 1 });
}
