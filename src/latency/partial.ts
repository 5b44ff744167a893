// A profile in progress, kept on disk so that an interrupted profile (kill -9,
// Ctrl-C, a full disk) resumes where it stopped and never half-writes a
// table: one JSON record per line, appended as each measurement is made.
//
//   line 1: the header (device, runtime version, CPU, the source table and
//           the measuring plan, the reference latency that is the unit of
//           every record);
//   then:   {"t":"baseline",...} | {"t":"kernel","key":...} | {"t":"host",...}
//
// A kill in the middle of an append leaves a truncated last line: it is cut
// off when the file is opened again. A header that does not match (another
// CPU, runtime version, source table or plan) starts the file afresh. The
// table itself is written elsewhere, whole (temp file + rename), from the
// complete measurements only.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostMeasurements } from './calibration-run.ts';
import type { TableEntry } from './table.ts';

export const PARTIAL_FORMAT = 'nas-profile-partial';

export interface PartialHeader {
  format: typeof PARTIAL_FORMAT;
  formatVersion: 1;
  deviceId: string;
  runtimeVersion: string;
  cpu: string;
  /** hash of the table the plan was made from */
  sourceTableHash: string;
  /** hash of the kernel keys in measuring order */
  planHash: string;
  kernels: number;
  /** the reference network's latency that every record's unit is based on */
  referenceMs: number;
  startedAt: string;
}

export type PartialRecord =
  | ({ t: 'baseline'; s: number } & TableEntry)
  | ({ t: 'kernel'; key: string; s: number } & TableEntry)
  | { t: 'host'; s: number; host: HostMeasurements };

/** Appends one line (tests inject a failing one to play a full disk). */
export type AppendLine = (path: string, line: string) => void;
const appendLine: AppendLine = (path, line) => appendFileSync(path, line);

export function planHash(keys: readonly string[]): string {
  return createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 16);
}

/** Where a device's profile in progress is kept: <tables dir>/partial/<device>.jsonl. */
export function partialPath(tablesDir: string, deviceId: string): string {
  return join(tablesDir, 'partial', `${deviceId}.jsonl`);
}

const SAME: (keyof Omit<PartialHeader, 'referenceMs' | 'startedAt'>)[] = ['format', 'formatVersion', 'deviceId', 'runtimeVersion', 'cpu', 'sourceTableHash', 'planHash', 'kernels'];

export class PartialProfile {
  readonly kernels = new Map<string, TableEntry>();
  baseline?: TableEntry;
  host?: HostMeasurements;
  /** seconds spent measuring the records (all sessions) */
  measuredS = 0;
  /** records read back from an earlier session */
  readonly resumed: number;

  private constructor(readonly path: string, readonly header: PartialHeader, resumed: number, private readonly append: AppendLine) {
    this.resumed = resumed;
  }

  /** The header of the file at `path` when it matches `want` (all but referenceMs and startedAt), else undefined. */
  static readHeader(path: string, want: Omit<PartialHeader, 'referenceMs' | 'startedAt'>): PartialHeader | undefined {
    if (!existsSync(path)) return undefined;
    const first = readFileSync(path, 'utf8').split('\n', 1)[0];
    try {
      const h = JSON.parse(first) as PartialHeader;
      return SAME.every((k) => h[k] === want[k]) && h.referenceMs > 0 ? h : undefined;
    } catch {
      return undefined;
    }
  }

  /** Resume the file when its header matches, else start it afresh with `header`. */
  static open(path: string, header: PartialHeader, append: AppendLine = appendLine): PartialProfile {
    const old = PartialProfile.readHeader(path, header);
    mkdirSync(dirname(path), { recursive: true });
    if (!old) {
      writeFileSync(path, JSON.stringify(header) + '\n');
      return new PartialProfile(path, header, 0, append);
    }
    const text = readFileSync(path, 'utf8');
    // a kill in the middle of an append: cut the truncated last line off before appending again
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) truncateSync(path, end);
    const p = new PartialProfile(path, old, 0, append);
    let n = 0;
    for (const line of text.slice(0, end).split('\n').slice(1)) {
      if (line.trim() === '') continue;
      let r: PartialRecord;
      try {
        r = JSON.parse(line) as PartialRecord;
      } catch {
        continue;
      }
      p.apply(r);
      n++;
    }
    return Object.assign(p, { resumed: n }) as PartialProfile;
  }

  private apply(r: PartialRecord): void {
    const entry = (x: TableEntry): TableEntry => ({ latencyMs: x.latencyMs, rawMs: x.rawMs, relIqr: x.relIqr, repeats: x.repeats });
    if (r.t === 'kernel' && typeof r.key === 'string' && r.latencyMs > 0) this.kernels.set(r.key, entry(r));
    else if (r.t === 'baseline' && r.latencyMs > 0) this.baseline = entry(r);
    else if (r.t === 'host' && r.host && Array.isArray(r.host.networks)) this.host = r.host;
    else return;
    this.measuredS += typeof r.s === 'number' && r.s > 0 ? r.s : 0;
  }

  /** Append a record (it counts once it is on disk). */
  add(r: PartialRecord): void {
    this.append(this.path, JSON.stringify(r) + '\n');
    this.apply(r);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
