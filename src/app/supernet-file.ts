// A trained supernet as one file, to move it between installations: train
// it where there is a GPU (or time), score architectures and serve new
// latency targets anywhere. `nas supernet export <id>` writes it, `nas
// supernet import <file>` stores it; over HTTP GET /v1/supernets/{id}/file
// and POST /v1/supernets/import.
//
// Layout: the magic line "NAS-SUPERNET\n", a little-endian uint32 header
// length, the header (UTF-8 JSON: format version, the supernet's row, and
// per part its size and SHA-256), then the parts' bytes in header order:
// the checkpoint (its weights; the optimizer's moments stay behind), and the
// accuracy predictor when the supernet has one.
//
// An import checks everything before it stores anything: the magic, the
// header, every part's size and checksum, the checkpoint against the
// supernet's layout (it is loaded as an evaluator would load it), and the
// dataset it is bound to here (it must exist with the same input shape and
// classes). The id stays the same across installations; one already in the
// store is refused (409). A failure leaves the store as it was.

import { AccuracyPredictor } from '../supernet/predictor.ts';
import { SupernetEvaluator } from '../supernet/evaluator.ts';
import { readCheckpointMeta, weightsOnlyCheckpoint } from '../supernet/checkpoint.ts';
import { getSkeleton } from '../space/skeleton.ts';
import { loadDataset } from '../data/registry.ts';
import { deleteArtifact, putArtifact, readArtifact, sha256Hex, type ArtifactRecord } from '../store/artifacts.ts';
import type { Db } from '../store/db.ts';
import { findSupernet, insertImportedSupernet, type SupernetRecord } from '../store/supernets.ts';
import { useTrainingBackend } from '../train/backend.ts';
import { dataPaths } from '../config/paths.ts';
import { isSharedDataset, type SupernetDeps } from './supernet.ts';

export const SUPERNET_FILE_MAGIC = 'NAS-SUPERNET\n';
export const SUPERNET_FILE_VERSION = 1;
/** the header is small JSON; anything claiming more is not a supernet file */
const MAX_HEADER_BYTES = 1 << 20;
/** a fitted accuracy predictor is a small MLP in JSON (about 1 MB); far more is not one */
const MAX_PREDICTOR_BYTES = 32 << 20;

/** A supernet that cannot be exported (404, 409 unfinished) or a file that cannot be imported (400 malformed or corrupt, 409 already here, 422 not matching this installation). */
export class SupernetFileError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 409 | 422 = 400) {
    super(message);
    this.name = 'SupernetFileError';
  }
}

type PartName = 'checkpoint' | 'predictor';
interface PartEntry { name: PartName; sizeBytes: number; sha256: string }

interface FileHeader {
  version: number;
  supernet: {
    id: string; dataset: string; skeleton: string; input: { height: number; width: number; channels: number }; numClasses: number;
    options: Record<string, unknown>; step: number; totalSteps: number | null; metrics: Record<string, unknown>;
    createdAt: string; finishedAt: string | null;
  };
  parts: PartEntry[];
  exportedAt: string;
}

/**
 * The file's bytes for a trained supernet the caller may use (its own, or a
 * built-in dataset's). `datasetName`: how the file names its dataset (the
 * API passes its own naming, so that no server path leaves the server).
 */
export function exportSupernet(db: Db, id: string, o: { owner?: string | null; datasetName?: (dataset: string) => string } = {}): Uint8Array {
  const s = findSupernet(db, id);
  if (!s || (o.owner !== undefined && s.owner !== null && s.owner !== o.owner && !isSharedDataset(s.dataset))) {
    throw new SupernetFileError(`supernet "${id}" not found`, 404);
  }
  if (s.status !== 'succeeded' || !s.checkpointArtifactId) {
    throw new SupernetFileError(`supernet ${id} is ${s.status}, not trained: only a trained supernet can be exported (finish it with nas supernet resume ${id})`, 409);
  }
  // a trained supernet never resumes its training: the optimizer's moments stay behind (up to two thirds of the checkpoint)
  const name = o.datasetName ?? ((d: string) => d);
  const parts: { name: PartName; bytes: Uint8Array }[] = [{ name: 'checkpoint', bytes: weightsOnlyCheckpoint(readArtifact(db, s.checkpointArtifactId), { dataset: name(s.dataset) }) }];
  const predictorId = (s.metrics.predictor as { artifactId?: string } | undefined)?.artifactId;
  if (predictorId) parts.push({ name: 'predictor', bytes: readArtifact(db, predictorId) });
  const header: FileHeader = {
    version: SUPERNET_FILE_VERSION,
    supernet: {
      id: s.id, dataset: name(s.dataset), skeleton: s.skeleton, input: s.input, numClasses: s.numClasses,
      options: typeof s.options.dataset === 'string' ? { ...s.options, dataset: name(s.options.dataset) } : s.options,
      step: s.step, totalSteps: s.totalSteps, metrics: withoutArtifactId(s.metrics), createdAt: s.createdAt, finishedAt: s.finishedAt,
    },
    parts: parts.map((p) => ({ name: p.name, sizeBytes: p.bytes.byteLength, sha256: sha256Hex(p.bytes) })),
    exportedAt: new Date().toISOString(),
  };
  const magic = new TextEncoder().encode(SUPERNET_FILE_MAGIC);
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(magic.byteLength + 4 + head.byteLength + parts.reduce((n, p) => n + p.bytes.byteLength, 0));
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.byteLength, head.byteLength, true);
  let at = magic.byteLength + 4;
  out.set(head, at);
  at += head.byteLength;
  for (const p of parts) {
    out.set(p.bytes, at);
    at += p.bytes.byteLength;
  }
  return out;
}

/** The predictor's artifact id is this installation's; the file carries the predictor itself. */
function withoutArtifactId(metrics: Record<string, unknown>): Record<string, unknown> {
  const p = metrics.predictor as Record<string, unknown> | undefined;
  if (!p) return metrics;
  const { artifactId: _drop, ...rest } = p;
  return { ...metrics, predictor: rest };
}

/** Parse and check a supernet file's framing and checksums (no store, no dataset). */
export function parseSupernetFile(bytes: Uint8Array): { header: FileHeader; parts: Map<PartName, Uint8Array> } {
  const magic = new TextEncoder().encode(SUPERNET_FILE_MAGIC);
  const startsWithMagic = bytes.byteLength >= magic.byteLength && magic.every((b, i) => bytes[i] === b);
  if (!startsWithMagic) throw new SupernetFileError('not a supernet file: it does not start with the NAS-SUPERNET header (write one with nas supernet export)');
  if (bytes.byteLength < magic.byteLength + 4) throw new SupernetFileError('supernet file is truncated inside its header');
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(magic.byteLength, true);
  if (hl > MAX_HEADER_BYTES) throw new SupernetFileError(`supernet file header claims ${hl} bytes (at most ${MAX_HEADER_BYTES}): not a supernet file`);
  const start = magic.byteLength + 4;
  if (start + hl > bytes.byteLength) throw new SupernetFileError('supernet file is truncated inside its header');
  let header: FileHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, start + hl))) as FileHeader;
  } catch (e) {
    throw new SupernetFileError(`supernet file header is not valid JSON: ${(e as Error).message}`);
  }
  if (header?.version !== SUPERNET_FILE_VERSION) throw new SupernetFileError(`supernet file version ${JSON.stringify(header?.version)} is not supported (this installation reads version ${SUPERNET_FILE_VERSION})`);
  const s = header.supernet;
  const shapeOk = (x: unknown) => Number.isInteger(x) && (x as number) > 0 && (x as number) <= 100_000;
  const isObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  const isTime = (x: unknown) => typeof x === 'string' && x.length <= 40 && Number.isFinite(Date.parse(x));
  if (!isObject(s) || typeof s.id !== 'string' || !/^sn_[0-9a-f]{16}$/.test(s.id) || typeof s.dataset !== 'string' || !s.dataset || s.dataset.length > 1000 || typeof s.skeleton !== 'string'
    || !isObject(s.input) || !shapeOk(s.input.height) || !shapeOk(s.input.width) || !shapeOk(s.input.channels) || !shapeOk(s.numClasses)
    || !isObject(s.options) || !isObject(s.metrics) || (s.metrics.predictor !== undefined && !isObject(s.metrics.predictor))
    || !Number.isInteger(s.step) || s.step < 0 || (s.totalSteps !== null && !(Number.isInteger(s.totalSteps) && s.totalSteps >= 0))
    || !isTime(s.createdAt) || (s.finishedAt !== null && !isTime(s.finishedAt)) || !isTime(header.exportedAt)) {
    throw new SupernetFileError('supernet file header does not describe a supernet (id, dataset, skeleton, input, classes, options, metrics, steps, times)');
  }
  if (!Array.isArray(header.parts) || header.parts.length === 0 || header.parts[0]?.name !== 'checkpoint') throw new SupernetFileError('supernet file has no checkpoint part');
  const parts = new Map<PartName, Uint8Array>();
  let at = start + hl;
  for (const p of header.parts) {
    if (!isObject(p) || (p.name !== 'checkpoint' && p.name !== 'predictor') || parts.has(p.name) || !Number.isInteger(p.sizeBytes) || p.sizeBytes < 0 || typeof p.sha256 !== 'string') {
      throw new SupernetFileError(`supernet file header lists a malformed part ${JSON.stringify(isObject(p) ? p.name : p)}`);
    }
    if (p.name === 'predictor' && p.sizeBytes > MAX_PREDICTOR_BYTES) throw new SupernetFileError(`supernet file's predictor is ${p.sizeBytes} bytes (at most ${MAX_PREDICTOR_BYTES})`);
    if (at + p.sizeBytes > bytes.byteLength) throw new SupernetFileError(`supernet file is truncated: its ${p.name} needs ${p.sizeBytes} bytes, ${Math.max(0, bytes.byteLength - at)} are there`);
    const b = bytes.subarray(at, at + p.sizeBytes);
    if (sha256Hex(b) !== p.sha256) throw new SupernetFileError(`supernet file is corrupt: its ${p.name} does not match its SHA-256`);
    parts.set(p.name, b);
    at += p.sizeBytes;
  }
  if (at !== bytes.byteLength) throw new SupernetFileError(`supernet file has ${bytes.byteLength - at} bytes after its last part`);
  return { header, parts };
}

/**
 * Store a supernet file's supernet after checking it (see the top of this
 * file). `dataset`: bind it to this installation's dataset of that name
 * instead of the one it was trained on (same input shape and classes).
 */
export async function importSupernet(db: Db, bytes: Uint8Array, o: { owner?: string | null; dataset?: string | ((fileDataset: string) => string); deps?: SupernetDeps } = {}): Promise<SupernetRecord> {
  const { header, parts } = parseSupernetFile(bytes);
  const s = header.supernet;
  const dataset = typeof o.dataset === 'function' ? o.dataset(s.dataset) : o.dataset ?? s.dataset;
  if (findSupernet(db, s.id)) throw new SupernetFileError(`supernet ${s.id} is already in this store`, 409);
  try {
    getSkeleton(s.skeleton);
  } catch {
    throw new SupernetFileError(`supernet ${s.id} uses skeleton "${s.skeleton}", which this installation does not know`, 422);
  }
  const checkpoint = parts.get('checkpoint')!;
  const shape = (x: { height: number; width: number; channels: number }) => `${x.height}x${x.width}x${x.channels}`;
  let meta;
  try {
    meta = readCheckpointMeta(checkpoint);
    if (typeof meta.input !== 'object' || meta.input === null) throw new Error('its meta has no input shape');
  } catch (e) {
    throw new SupernetFileError(`supernet file's checkpoint is unreadable: ${(e as Error).message}`);
  }
  if (meta.skeleton !== s.skeleton || shape(meta.input) !== shape(s.input) || meta.numClasses !== s.numClasses) {
    throw new SupernetFileError(`supernet file's checkpoint (${meta.skeleton}, ${shape(meta.input)}, ${meta.numClasses} classes) does not match its header (${s.skeleton}, ${shape(s.input)}, ${s.numClasses} classes)`);
  }
  let ds;
  try {
    ds = await loadDataset(dataset, o.deps?.datasetOptions ?? { cacheDir: dataPaths().datasets });
  } catch (e) {
    throw new SupernetFileError(`supernet ${s.id} was trained on dataset "${s.dataset}"; ${o.dataset ? `dataset "${dataset}"` : 'it'} is not available here (${(e as Error).message})${o.dataset ? '' : '; name a local dataset of the same shape and classes with --dataset'}`, 422);
  }
  const m = ds.manifest;
  if (shape(m) !== shape(s.input) || m.classes.length !== s.numClasses) {
    throw new SupernetFileError(`supernet ${s.id} is for ${shape(s.input)} inputs with ${s.numClasses} classes; dataset ${dataset} here is ${shape(m)} with ${m.classes.length}`, 422);
  }
  // the checkpoint loads into this installation's layout of the skeleton, as a search would load it
  await useTrainingBackend();
  try {
    new SupernetEvaluator(checkpoint, ds).dispose();
  } catch (e) {
    throw new SupernetFileError(`supernet file's checkpoint does not load here: ${(e as Error).message}`, 422);
  }
  const predictorBytes = parts.get('predictor');
  if (predictorBytes) {
    try {
      const j = JSON.parse(new TextDecoder().decode(predictorBytes)) as { predictor: unknown };
      const p = AccuracyPredictor.fromJSON(j.predictor);
      const sk = p.skeleton;
      p.dispose();
      if (sk !== s.skeleton) throw new Error(`it was fitted for skeleton ${sk}, the supernet is ${s.skeleton}`);
    } catch (e) {
      throw new SupernetFileError(`supernet file's accuracy predictor does not load: ${(e as Error).message}`);
    }
  }
  // store: the files first, then the rows in one transaction; a failure removes the files again
  const stored: ArtifactRecord[] = [];
  try {
    const ck = putArtifact(db, 'supernet-checkpoint', 'supernet.ckpt', checkpoint);
    stored.push(ck);
    const pr = predictorBytes ? putArtifact(db, 'supernet-predictor', 'predictor.json', predictorBytes) : null;
    if (pr) stored.push(pr);
    // the row points only at what this import stored: a predictor entry (and its artifact id) only with the predictor part
    const { predictor: filePredictor, imported: _old, ...rest } = s.metrics;
    const metrics: Record<string, unknown> = { ...rest, ...(pr ? { predictor: { ...(filePredictor as Record<string, unknown>), artifactId: pr.id } } : {}) };
    const at = new Date().toISOString();
    return db.transaction(() => insertImportedSupernet(db, {
      id: s.id, owner: o.owner ?? null, dataset, skeleton: s.skeleton,
      input: { height: s.input.height, width: s.input.width, channels: s.input.channels }, numClasses: s.numClasses, options: { ...s.options, dataset },
      step: s.step, totalSteps: s.totalSteps, checkpointArtifactId: ck.id,
      // stored as created now (the newest supernet of a dataset is the one searches take); the original times kept here
      metrics: { ...metrics, imported: { at, exportedAt: header.exportedAt, createdAt: s.createdAt, finishedAt: s.finishedAt, trainedOn: s.dataset } },
      createdAt: at, finishedAt: at,
    }))();
  } catch (e) {
    for (const a of stored) deleteArtifact(db, a);
    throw e;
  }
}
