// Artifacts: files under <data dir>/artifacts (trained weights, exports,
// reports) with their SHA-256 and size in the store. The row holds the path
// relative to the data directory, so a moved data directory keeps working.
// Files are written to a temporary name and renamed, then the row inserted:
// a crash never leaves a row without its file. A full disk (ENOSPC, real or
// injected with NAS_FAULT_ENOSPC, see below) leaves neither a partial file
// nor a row, and is reported as "no space left on device while writing ...".

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { dataDir, dataPaths } from '../config/paths.ts';
import { type Db, StoreError } from './db.ts';
import { num, rowOf, text } from './rows.ts';

export interface ArtifactRecord {
  id: string;
  kind: string;
  /** relative to the data directory */
  path: string;
  sha256: string;
  sizeBytes: number;
  createdAt: string;
}

const T = 'artifacts';

function fromRow(v: unknown): ArtifactRecord {
  const r = rowOf(T, v);
  return {
    id: text(T, r, 'id'), kind: text(T, r, 'kind'), path: text(T, r, 'path'), sha256: text(T, r, 'sha256'),
    sizeBytes: num(T, r, 'size_bytes'), createdAt: text(T, r, 'created_at'),
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A write that failed because the disk is full: status 507 (Insufficient
 * Storage), a message naming what was being written; `code` and `path` as
 * Node's own ENOSPC error, so the CLI prints it as one `error:` line.
 */
export class DiskFullError extends StoreError {
  readonly code = 'ENOSPC';
  constructor(what: string, readonly path: string) {
    super(`no space left on device while writing ${what}`, 507);
    this.name = 'DiskFullError';
  }
}

/**
 * Fault injection for tests and drills: NAS_FAULT_ENOSPC=artifacts makes
 * every artifact write fail as a full disk would (ENOSPC);
 * NAS_FAULT_ENOSPC=artifacts:<kind>[,artifacts:<kind>...] only those kinds
 * (e.g. artifacts:model-tflite). Read at each write; unset in production.
 */
export function injectedEnospc(kind: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.NAS_FAULT_ENOSPC;
  if (!v) return false;
  return v.split(',').map((x) => x.trim()).some((x) => x === 'artifacts' || x === `artifacts:${kind}`);
}

/** The message for a full disk anywhere (our DiskFullError, or Node's own ENOSPC naming a path), else null. */
export function diskFullMessage(e: unknown): string | null {
  if (e instanceof DiskFullError) return e.message;
  const x = e as NodeJS.ErrnoException | null;
  if (x instanceof Error && x.code === 'ENOSPC') return `no space left on device while writing ${typeof x.path === 'string' ? x.path : 'a file'}`;
  return null;
}

function writeArtifactFile(kind: string, tmp: string, bytes: Uint8Array): void {
  if (injectedEnospc(kind)) {
    // like a real full disk: part of the file may already be on disk
    writeFileSync(tmp, bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected by NAS_FAULT_ENOSPC)`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
  writeFileSync(tmp, bytes);
}

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/;

/** Store bytes as an artifact of `kind` named `name` (e.g. "model.tflite"). */
export function putArtifact(db: Db, kind: string, name: string, bytes: Uint8Array, root: string = dataDir()): ArtifactRecord {
  if (!SAFE.test(kind)) throw new StoreError(`artifact kind ${JSON.stringify(kind)} must be letters, digits, . _ -`, 400);
  if (!SAFE.test(name)) throw new StoreError(`artifact name ${JSON.stringify(name)} must be letters, digits, . _ -`, 400);
  const id = `a-${randomBytes(8).toString('hex')}`;
  const dir = join(dataPaths(root).artifacts, kind, id);
  const file = join(dir, name);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeArtifactFile(kind, tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true }); // no partial file, no empty folder: the id was never stored
    if ((e as { code?: unknown }).code === 'ENOSPC') throw new DiskFullError(`artifact ${kind}/${name} (${bytes.byteLength} bytes)`, file);
    throw e;
  }
  const rec: ArtifactRecord = {
    id, kind, path: relative(root, file), sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength, createdAt: new Date().toISOString(),
  };
  db.prepare(`INSERT INTO ${T} (id, kind, path, sha256, size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
    .run(rec.id, rec.kind, rec.path, rec.sha256, rec.sizeBytes, rec.createdAt);
  return rec;
}

export function getArtifact(db: Db, id: string): ArtifactRecord {
  const v = db.prepare(`SELECT * FROM ${T} WHERE id = ?`).get(id);
  if (v === undefined) throw new StoreError(`no artifact with id ${JSON.stringify(id)}`, 404);
  return fromRow(v);
}

/** Delete an artifact's row, then its folder (a crash between the two leaves an orphan file, never a row without its file). */
export function deleteArtifact(db: Db, rec: ArtifactRecord, root: string = dataDir()): void {
  db.prepare(`DELETE FROM ${T} WHERE id = ?`).run(rec.id);
  rmSync(dirname(artifactFile(rec, root)), { recursive: true, force: true });
}

export function artifactFile(rec: ArtifactRecord, root: string = dataDir()): string {
  const abs = resolve(root, rec.path);
  if (isAbsolute(rec.path) || relative(root, abs).startsWith('..')) throw new StoreError(`artifact ${rec.id} path escapes the data directory`, 500);
  return abs;
}

/** The artifact's bytes, checked against the stored size and SHA-256 (a mismatch is an error naming the file). */
export function readArtifact(db: Db, id: string, root: string = dataDir()): Uint8Array {
  const rec = getArtifact(db, id);
  const file = artifactFile(rec, root);
  if (!existsSync(file)) throw new StoreError(`artifact ${id}: file ${file} is missing`, 500);
  const bytes = new Uint8Array(readFileSync(file));
  if (bytes.byteLength !== rec.sizeBytes || sha256Hex(bytes) !== rec.sha256) {
    throw new StoreError(`artifact ${id}: file ${file} does not match its stored checksum (corrupted or replaced)`, 500);
  }
  return bytes;
}
