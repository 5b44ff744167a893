// Models (migration 004): one row per `nas run`, created when the run starts
// and finished with its model card; stage checkpoints a restarted run
// continues from; exported files as artifacts (sha256 in `artifacts`).

import { randomBytes } from 'node:crypto';
import { fromWire, toWire } from '../space/archspec.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { type Db, StoreError } from './db.ts';
import { json, jsonOrNull, num, oneOf, rowOf, text, textOrNull } from './rows.ts';

export const MODEL_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export interface ModelRecord {
  id: string;
  owner: string | null;
  searchId: string | null;
  archId: string | null;
  spec: ArchSpec | null;
  options: unknown;
  card: unknown;
  status: ModelStatus;
  stage: string;
  /** the run's time plan and what it spent (src/app/run-budget.ts StoredPlan); null before one was made */
  plan: unknown;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface ModelCheckpoint {
  modelId: string;
  seq: number;
  stage: string;
  spec: ArchSpec;
  input: InputShape;
  weightsArtifactId: string | null;
  detail: Record<string, unknown>;
  createdAt: string;
}

export interface ModelFile { format: string; name: string; artifactId: string }

/** A model file with its artifact's SHA-256 and size. */
export interface StoredModelFile extends ModelFile { sha256: string; sizeBytes: number }

const T = 'models';

function fromRow(v: unknown): ModelRecord {
  const r = rowOf(T, v);
  const spec = jsonOrNull(T, r, 'spec');
  return {
    id: text(T, r, 'id'), owner: textOrNull(T, r, 'owner'), searchId: textOrNull(T, r, 'search_id'),
    archId: textOrNull(T, r, 'arch_id'), spec: spec === null ? null : fromWire(spec),
    options: json(T, r, 'options'), card: jsonOrNull(T, r, 'card'),
    status: oneOf(T, r, 'status', MODEL_STATUSES), stage: text(T, r, 'stage'), plan: jsonOrNull(T, r, 'plan'), error: textOrNull(T, r, 'error'),
    createdAt: text(T, r, 'created_at'), updatedAt: text(T, r, 'updated_at'), finishedAt: textOrNull(T, r, 'finished_at'),
  };
}

export function newModelId(): string {
  return `mdl_${randomBytes(8).toString('hex')}`;
}

export function insertModel(db: Db, m: { id?: string; owner?: string | null; searchId?: string | null; options: unknown; stage: string; status?: 'queued' | 'running'; plan?: unknown }): ModelRecord {
  const at = new Date().toISOString();
  const id = m.id ?? newModelId();
  db.prepare(`INSERT INTO ${T} (id, owner, search_id, options, status, stage, plan, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(id, m.owner ?? null, m.searchId ?? null, JSON.stringify(m.options), m.status ?? 'running', m.stage,
    m.plan === undefined ? null : JSON.stringify(m.plan), at, at);
  return getModel(db, id);
}

export function setModelPlan(db: Db, id: string, plan: unknown): void {
  db.prepare(`UPDATE ${T} SET plan = ?, updated_at = ? WHERE id = ?`).run(JSON.stringify(plan), new Date().toISOString(), id);
}

/** The training images/s the latest runs on `dataset` measured (plan.measuredImagesPerSec), newest first; null when none. */
export function recentMeasuredThroughput(db: Db, dataset: string): number | null {
  const row = db.prepare(`SELECT json_extract(plan, '$.measuredImagesPerSec') AS ips FROM ${T}
    WHERE json_extract(options, '$.dataset') = ? AND json_extract(plan, '$.measuredImagesPerSec') > 0
    ORDER BY updated_at DESC LIMIT 1`).get(dataset) as { ips: number } | undefined;
  return row ? row.ips : null;
}

export function getModel(db: Db, id: string): ModelRecord {
  const m = findModel(db, id);
  if (m === null) throw new StoreError(`no model with id ${JSON.stringify(id)}`, 404);
  return m;
}

/** The model, or null when no model has that id. */
export function findModel(db: Db, id: string): ModelRecord | null {
  const v = db.prepare(`SELECT * FROM ${T} WHERE id = ?`).get(id);
  return v === undefined ? null : fromRow(v);
}

/** The latest model a search's whole run produced (or is producing); null: none. */
export function latestModelOfSearch(db: Db, searchId: string): ModelRecord | null {
  const v = db.prepare(`SELECT * FROM ${T} WHERE search_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`).get(searchId);
  return v === undefined ? null : fromRow(v);
}

/** Models, oldest first (newestFirst: the other way), at most `limit` of them. */
export function listModels(db: Db, o: { owner?: string | null; searchId?: string; newestFirst?: boolean; limit?: number } = {}): ModelRecord[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (o.owner !== undefined) { where.push(o.owner === null ? 'owner IS NULL' : 'owner = ?'); if (o.owner !== null) args.push(o.owner); }
  if (o.searchId !== undefined) { where.push('search_id = ?'); args.push(o.searchId); }
  const order = o.newestFirst ? 'created_at DESC, rowid DESC' : 'created_at, id';
  const sql = `SELECT * FROM ${T}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}${o.limit !== undefined ? ' LIMIT ?' : ''}`;
  if (o.limit !== undefined) args.push(o.limit);
  return db.prepare(sql).all(...args).map(fromRow);
}

export function updateModel(db: Db, id: string, u: { stage?: string; searchId?: string | null; spec?: ArchSpec; archId?: string; status?: ModelStatus }): void {
  const cur = getModel(db, id);
  db.prepare(`UPDATE ${T} SET stage = ?, search_id = ?, spec = ?, arch_id = ?, status = ?, updated_at = ? WHERE id = ?`).run(
    u.stage ?? cur.stage, u.searchId === undefined ? cur.searchId : u.searchId,
    u.spec ? JSON.stringify(toWire(u.spec)) : cur.spec ? JSON.stringify(toWire(cur.spec)) : null,
    u.archId ?? cur.archId, u.status ?? cur.status, new Date().toISOString(), id);
}

export function finishModel(db: Db, id: string, status: Exclude<ModelStatus, 'running' | 'queued'>, o: { card?: unknown; error?: string | null } = {}): void {
  const at = new Date().toISOString();
  db.prepare(`UPDATE ${T} SET status = ?, card = COALESCE(?, card), error = ?, updated_at = ?, finished_at = ? WHERE id = ?`)
    .run(status, o.card === undefined ? null : JSON.stringify(o.card), o.error ?? null, at, at, id);
}

export function addCheckpoint(db: Db, c: Omit<ModelCheckpoint, 'seq' | 'createdAt'>): ModelCheckpoint {
  const row = db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM model_checkpoints WHERE model_id = ?').get(c.modelId) as { s: number };
  const createdAt = new Date().toISOString();
  db.prepare(`INSERT INTO model_checkpoints (model_id, seq, stage, spec, input_json, weights_artifact_id, detail, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(c.modelId, row.s, c.stage, JSON.stringify(toWire(c.spec)), JSON.stringify(c.input),
    c.weightsArtifactId, JSON.stringify(c.detail), createdAt);
  return { ...c, seq: row.s, createdAt };
}

function checkpointFromRow(v: unknown): ModelCheckpoint {
  const t = 'model_checkpoints';
  const r = rowOf(t, v);
  const input = json(t, r, 'input_json') as InputShape;
  return {
    modelId: text(t, r, 'model_id'), seq: num(t, r, 'seq'), stage: text(t, r, 'stage'), spec: fromWire(json(t, r, 'spec')),
    input: { height: input.height, width: input.width, channels: input.channels },
    weightsArtifactId: textOrNull(t, r, 'weights_artifact_id'), detail: json(t, r, 'detail') as Record<string, unknown>,
    createdAt: text(t, r, 'created_at'),
  };
}

export function listCheckpoints(db: Db, modelId: string): ModelCheckpoint[] {
  return db.prepare('SELECT * FROM model_checkpoints WHERE model_id = ? ORDER BY seq').all(modelId).map(checkpointFromRow);
}

export function latestModelCheckpoint(db: Db, modelId: string, stage?: string): ModelCheckpoint | null {
  const all = listCheckpoints(db, modelId).filter((c) => stage === undefined || c.stage === stage);
  return all.length === 0 ? null : all[all.length - 1]!;
}

export function addModelFile(db: Db, modelId: string, f: ModelFile): void {
  db.prepare('INSERT OR REPLACE INTO model_files (model_id, format, name, artifact_id) VALUES (?, ?, ?, ?)').run(modelId, f.format, f.name, f.artifactId);
}

export function listModelFiles(db: Db, modelId: string): ModelFile[] {
  return (db.prepare('SELECT format, name, artifact_id FROM model_files WHERE model_id = ? ORDER BY format, name').all(modelId) as Array<{ format: string; name: string; artifact_id: string }>)
    .map((r) => ({ format: r.format, name: r.name, artifactId: r.artifact_id }));
}

/** The model's files with their artifacts' SHA-256 and size, by format and name. */
export function listModelFilesWithDigests(db: Db, modelId: string): StoredModelFile[] {
  return (db.prepare(`SELECT f.format, f.name, f.artifact_id, a.sha256, a.size_bytes FROM model_files f
    JOIN artifacts a ON a.id = f.artifact_id WHERE f.model_id = ? ORDER BY f.format, f.name`).all(modelId) as Array<{ format: string; name: string; artifact_id: string; sha256: string; size_bytes: number }>)
    .map((r) => ({ format: r.format, name: r.name, artifactId: r.artifact_id, sha256: r.sha256, sizeBytes: r.size_bytes }));
}
