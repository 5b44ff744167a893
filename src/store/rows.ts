// Reading SQLite rows at the edge: each column is checked for its type and
// JSON columns are parsed, so repositories hand typed objects inward and a
// corrupt or foreign row fails loudly with the table and column named.

import { StoreError } from './db.ts';

export type Row = Record<string, unknown>;

function bad(table: string, col: string, what: string, v: unknown): never {
  throw new StoreError(`${table}.${col}: expected ${what}, found ${JSON.stringify(v)}`, 500);
}

export function rowOf(table: string, v: unknown): Row {
  if (!v || typeof v !== 'object') throw new StoreError(`${table}: expected a row, found ${String(v)}`, 500);
  return v as Row;
}

export function text(table: string, r: Row, col: string): string {
  const v = r[col];
  return typeof v === 'string' ? v : bad(table, col, 'text', v);
}

export function textOrNull(table: string, r: Row, col: string): string | null {
  const v = r[col];
  return v === null || v === undefined ? null : typeof v === 'string' ? v : bad(table, col, 'text or NULL', v);
}

export function num(table: string, r: Row, col: string): number {
  const v = r[col];
  return typeof v === 'number' && Number.isFinite(v) ? v : bad(table, col, 'a finite number', v);
}

export function numOrNull(table: string, r: Row, col: string): number | null {
  const v = r[col];
  return v === null || v === undefined ? null : typeof v === 'number' && Number.isFinite(v) ? v : bad(table, col, 'a number or NULL', v);
}

export function oneOf<T extends string>(table: string, r: Row, col: string, values: readonly T[]): T {
  const v = r[col];
  return typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : bad(table, col, values.join('|'), v);
}

export function json(table: string, r: Row, col: string): unknown {
  const v = text(table, r, col);
  try {
    return JSON.parse(v);
  } catch {
    return bad(table, col, 'JSON', v.slice(0, 80));
  }
}

export function jsonOrNull(table: string, r: Row, col: string): unknown {
  return r[col] === null || r[col] === undefined ? null : json(table, r, col);
}
