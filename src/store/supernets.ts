// Supernets (migration 005): one row per training run of a weight-shared
// supernet; the latest checkpoint is an artifact the row points to (the one
// before it is deleted once the new one is stored). Rows are found again per
// (dataset, skeleton, input) so that searches reuse a trained supernet.

import { randomBytes } from 'node:crypto';
import type { InputShape } from '../space/types.ts';
import { deleteArtifact, getArtifact } from './artifacts.ts';
import { type Db, StoreError } from './db.ts';
import { json, num, numOrNull, oneOf, rowOf, text, textOrNull } from './rows.ts';

export const SUPERNET_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type SupernetStatus = (typeof SUPERNET_STATUSES)[number];

export interface SupernetRecord {
  id: string;
  owner: string | null;
  dataset: string;
  skeleton: string;
  input: InputShape;
  numClasses: number;
  options: Record<string, unknown>;
  status: SupernetStatus;
  /** steps done as of the stored checkpoint */
  step: number;
  totalSteps: number | null;
  checkpointArtifactId: string | null;
  metrics: Record<string, unknown>;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

const T = 'supernets';

function fromRow(v: unknown): SupernetRecord {
  const r = rowOf(T, v);
  return {
    id: text(T, r, 'id'), owner: textOrNull(T, r, 'owner'), dataset: text(T, r, 'dataset'), skeleton: text(T, r, 'skeleton'),
    input: json(T, r, 'input_json') as InputShape, numClasses: num(T, r, 'num_classes'),
    options: json(T, r, 'options') as Record<string, unknown>, status: oneOf(T, r, 'status', SUPERNET_STATUSES),
    step: num(T, r, 'step'), totalSteps: numOrNull(T, r, 'total_steps'), checkpointArtifactId: textOrNull(T, r, 'checkpoint_artifact_id'),
    metrics: json(T, r, 'metrics') as Record<string, unknown>, error: textOrNull(T, r, 'error'),
    createdAt: text(T, r, 'created_at'), updatedAt: text(T, r, 'updated_at'), finishedAt: textOrNull(T, r, 'finished_at'),
  };
}

export function newSupernetId(): string {
  return `sn_${randomBytes(8).toString('hex')}`;
}

export interface NewSupernet {
  owner: string | null;
  dataset: string;
  skeleton: string;
  input: InputShape;
  numClasses: number;
  options: Record<string, unknown>;
  status?: 'queued' | 'running';
}

export function insertSupernet(db: Db, s: NewSupernet): SupernetRecord {
  const at = new Date().toISOString();
  const id = newSupernetId();
  db.prepare(`INSERT INTO ${T} (id, owner, dataset, skeleton, input_json, num_classes, options, status, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(id, s.owner, s.dataset, s.skeleton, JSON.stringify(s.input), s.numClasses, JSON.stringify(s.options), s.status ?? 'queued', at, at);
  return getSupernet(db, id);
}

export function findSupernet(db: Db, id: string): SupernetRecord | null {
  const v = db.prepare(`SELECT * FROM ${T} WHERE id = ?`).get(id);
  return v === undefined ? null : fromRow(v);
}

export function getSupernet(db: Db, id: string): SupernetRecord {
  const s = findSupernet(db, id);
  if (!s) throw new StoreError(`no supernet with id ${JSON.stringify(id)}`, 404);
  return s;
}

export function listSupernets(db: Db, o: { owner?: string | null; dataset?: string } = {}): SupernetRecord[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (o.owner !== undefined) { where.push(o.owner === null ? 'owner IS NULL' : 'owner = ?'); if (o.owner !== null) args.push(o.owner); }
  if (o.dataset !== undefined) { where.push('dataset = ?'); args.push(o.dataset); }
  return db.prepare(`SELECT * FROM ${T}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`).all(...args).map(fromRow);
}

/** Imported from a file (src/app/supernet-file.ts): its weights are whatever its importer uploaded. */
export function isImportedSupernet(s: SupernetRecord): boolean {
  return s.metrics.imported !== undefined;
}

/**
 * May `owner` use this supernet? Its own; and of a dataset every
 * installation has (`shared`: a built-in one), one trained here or
 * imported locally (owner null): an API key's import serves that key only,
 * so no key can put weights of its choosing into another key's searches.
 */
export function supernetUsableBy(s: SupernetRecord, owner: string | null, shared: boolean): boolean {
  return s.owner === owner || (shared && (s.owner === null || !isImportedSupernet(s)));
}

/** Supernets of a (dataset, skeleton, input), newest first, that a caller may use (supernetUsableBy). */
export function supernetsFor(db: Db, k: { dataset: string; skeleton: string; input: InputShape; owner: string | null; shared: boolean }): SupernetRecord[] {
  return db.prepare(`SELECT * FROM ${T} WHERE dataset = ? AND skeleton = ? AND input_json = ? ORDER BY created_at DESC, id DESC`)
    .all(k.dataset, k.skeleton, JSON.stringify(k.input)).map(fromRow)
    .filter((s) => supernetUsableBy(s, k.owner, k.shared));
}

export interface SupernetUpdate {
  status?: SupernetStatus;
  step?: number;
  totalSteps?: number | null;
  checkpointArtifactId?: string | null;
  metrics?: Record<string, unknown>;
  error?: string | null;
  finished?: boolean;
}

export function updateSupernet(db: Db, id: string, u: SupernetUpdate): SupernetRecord {
  const sets: string[] = ['updated_at = ?'];
  const at = new Date().toISOString();
  const args: unknown[] = [at];
  const col = (c: string, v: unknown) => { sets.push(`${c} = ?`); args.push(v); };
  if (u.status !== undefined) col('status', u.status);
  if (u.step !== undefined) col('step', u.step);
  if (u.totalSteps !== undefined) col('total_steps', u.totalSteps);
  if (u.checkpointArtifactId !== undefined) col('checkpoint_artifact_id', u.checkpointArtifactId);
  if (u.metrics !== undefined) col('metrics', JSON.stringify(u.metrics));
  if (u.error !== undefined) col('error', u.error);
  if (u.finished) col('finished_at', at);
  const r = db.prepare(`UPDATE ${T} SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
  if (r.changes === 0) throw new StoreError(`no supernet with id ${JSON.stringify(id)}`, 404);
  return getSupernet(db, id);
}

/**
 * Point the row at a new checkpoint (and its step) in one transaction, then
 * delete the previous checkpoint's artifact row and file: a crash between
 * the two leaves an orphan file, never a row without its checkpoint.
 */
export function replaceSupernetCheckpoint(db: Db, id: string, artifactId: string, step: number, metrics: Record<string, unknown>, root?: string): void {
  const prev = getSupernet(db, id).checkpointArtifactId;
  db.transaction(() => updateSupernet(db, id, { checkpointArtifactId: artifactId, step, metrics }))();
  if (prev && prev !== artifactId) {
    deleteArtifact(db, getArtifact(db, prev), root);
  }
}

/**
 * Copy a supernet's row and the artifact rows it points to (checkpoint,
 * accuracy predictor) into another store of the same data directory (a
 * benchmark's scratch store): the files are shared, not copied.
 */
export function copySupernet(from: Db, to: Db, id: string): void {
  const row = from.prepare(`SELECT * FROM ${T} WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
  if (!row) throw new StoreError(`no supernet with id ${JSON.stringify(id)}`, 404);
  const s = fromRow(row);
  const ids = [s.checkpointArtifactId, (s.metrics.predictor as { artifactId?: string } | undefined)?.artifactId].filter((x): x is string => typeof x === 'string');
  to.transaction(() => {
    for (const a of ids) {
      const r = from.prepare('SELECT * FROM artifacts WHERE id = ?').get(a) as Record<string, unknown>;
      to.prepare(`INSERT OR REPLACE INTO artifacts (${Object.keys(r).join(', ')}) VALUES (${Object.keys(r).map(() => '?').join(', ')})`).run(...Object.values(r));
    }
    to.prepare(`INSERT OR REPLACE INTO ${T} (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row).map(() => '?').join(', ')})`).run(...Object.values(row));
  })();
}

/** A supernet from another installation (src/app/supernet-file.ts), stored as trained under its own id. */
export type ImportedSupernet = Pick<SupernetRecord, 'id' | 'owner' | 'dataset' | 'skeleton' | 'input' | 'numClasses' | 'options' | 'step' | 'totalSteps' | 'metrics' | 'createdAt' | 'finishedAt'>
  & { checkpointArtifactId: string };

export function insertImportedSupernet(db: Db, s: ImportedSupernet): SupernetRecord {
  if (findSupernet(db, s.id)) throw new StoreError(`supernet ${s.id} is already in this store`, 409);
  const at = new Date().toISOString();
  db.prepare(`INSERT INTO ${T} (id, owner, dataset, skeleton, input_json, num_classes, options, status, step, total_steps, checkpoint_artifact_id, metrics, created_at, updated_at, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'succeeded', ?, ?, ?, ?, ?, ?, ?)`)
    .run(s.id, s.owner, s.dataset, s.skeleton, JSON.stringify(s.input), s.numClasses, JSON.stringify(s.options), s.step, s.totalSteps, s.checkpointArtifactId,
      JSON.stringify(s.metrics), s.createdAt, at, s.finishedAt ?? at);
  return getSupernet(db, s.id);
}
