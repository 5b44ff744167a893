// Models over HTTP: GET /v1/models (the caller's), GET /v1/models/{id} (with
// its model card), GET /v1/models/{id}/download?format=tflite|tflite-int8|tfjs.
// A .tflite export is sent as the file; a TF.js export (model.json + weight
// shards) as a zip of its files with the model card. Every download carries
// its SHA-256 (X-Checksum-Sha256 hex, Digest: sha-256=base64) and a
// Content-Disposition file name. Files are read through the artifacts
// repository, which checks their stored size and SHA-256.

import { createHash } from 'node:crypto';
import type { Router } from 'express';
import { appendStoredZip } from '../../export/zip-store.ts';
import { readArtifact } from '../../store/artifacts.ts';
import { findModel, listModelFilesWithDigests, listModels, type ModelRecord, type StoredModelFile } from '../../store/models.ts';
import { authOf, requireKey, requireOwned } from '../auth.ts';
import type { components } from '../api-types.ts';
import type { AppContext } from '../context.ts';
import { ApiError } from '../errors.ts';

export const MODEL_FORMATS = ['tflite', 'tflite-int8', 'tfjs'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// digests of multi-file downloads (the zip), by model and artifact ids
const zipDigests = new Map<string, { sha256: string; sizeBytes: number }>();

function zipDigest(ctx: AppContext, m: ModelRecord, format: ModelFormat, files: StoredModelFile[]): { sha256: string; sizeBytes: number } {
  const key = `${m.id}|${format}|${files.map((f) => f.artifactId).join(',')}|${m.updatedAt}`;
  let d = zipDigests.get(key);
  if (!d) {
    const p = payloadOf(ctx, m, format);
    d = { sha256: createHash('sha256').update(p.bytes).digest('hex'), sizeBytes: p.bytes.byteLength };
    if (zipDigests.size > 1000) zipDigests.clear();
    zipDigests.set(key, d);
  }
  return d;
}

function modelView(ctx: AppContext, m: ModelRecord): components['schemas']['Model'] {
  const card = m.card as Record<string, unknown> | null;
  const options = (m.options ?? {}) as Record<string, unknown>;
  const files = listModelFilesWithDigests(ctx.db, m.id);
  const formats = MODEL_FORMATS.filter((f) => files.some((x) => x.format === f)).map((format) => {
    const fs = files.filter((x) => x.format === format);
    // what the download sends: the single file, or the zip of several (tfjs)
    const one = format === 'tfjs' ? null : sentFiles(m, format, fs)[0]!;
    const sent = one ? { sha256: one.sha256, sizeBytes: one.sizeBytes } : zipDigest(ctx, m, format, fs);
    return { format, ...sent, files: fs.map((x) => ({ name: x.name, sizeBytes: x.sizeBytes, sha256: x.sha256 })) };
  });
  const acc = card?.accuracy as { top1?: unknown; split?: unknown } | undefined;
  const measured = card?.measuredLatency as { latencyMs?: unknown } | undefined;
  const predicted = card?.predictedLatency as { latencyMs?: unknown } | undefined;
  return {
    id: m.id,
    searchId: m.searchId,
    archId: m.archId,
    status: m.status,
    stage: m.stage,
    error: m.error,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    finishedAt: m.finishedAt,
    deviceId: typeof options.deviceId === 'string' ? options.deviceId : undefined,
    latencyTargetMs: num(options.latencyTargetMs),
    accuracy: num(acc?.top1),
    accuracySplit: typeof acc?.split === 'string' ? acc.split : null,
    latencyMs: num(measured?.latencyMs) ?? num(predicted?.latencyMs),
    latencyKind: num(measured?.latencyMs) !== null ? 'measured' : num(predicted?.latencyMs) !== null ? 'predicted' : null,
    formats,
    ...(card ? { card } : {}),
  };
}

interface Payload { bytes: Uint8Array; fileName: string; contentType: string }

/** The files a download sends: a .tflite format's model file, or every file of a TF.js export. */
function sentFiles(m: ModelRecord, format: ModelFormat, files: StoredModelFile[]): StoredModelFile[] {
  if (format === 'tfjs') return files;
  const models = files.filter((f) => f.name.endsWith('.tflite'));
  if (models.length !== 1) throw new Error(`model ${m.id}: expected one .tflite file in its ${format} export, found ${models.length}`);
  return models;
}

/** The bytes a download sends: the .tflite file, or a zip of the TF.js files with the model card. */
function payloadOf(ctx: AppContext, m: ModelRecord, format: ModelFormat): Payload {
  const files = listModelFilesWithDigests(ctx.db, m.id).filter((f) => f.format === format);
  if (files.length === 0) throw new ApiError(404, 'not_found', `model "${m.id}" has no ${format} export${m.status !== 'succeeded' ? ` (its run is ${m.status}, stage ${m.stage})` : ''}`);
  const read = (artifactId: string) => readArtifact(ctx.db, artifactId, ctx.dataDir);
  if (format !== 'tfjs') {
    return { bytes: read(sentFiles(m, format, files)[0]!.artifactId), fileName: `${m.id}${format === 'tflite-int8' ? '-int8' : ''}.tflite`, contentType: 'application/octet-stream' };
  }
  const entries = files.map((f) => ({ name: f.name, data: read(f.artifactId) }));
  if (!entries.some((e) => e.name === 'model-card.json') && m.card !== null) entries.push({ name: 'model-card.json', data: new TextEncoder().encode(JSON.stringify(m.card, null, 2)) });
  return { bytes: appendStoredZip(new Uint8Array(0), entries), fileName: `${m.id}-${format}.zip`, contentType: 'application/zip' };
}

export function register(router: Router, ctx: AppContext): void {
  const auth = requireKey(ctx.db);
  const owned = (req: Parameters<typeof authOf>[0]): ModelRecord => {
    const id = req.params.id as string;
    return requireOwned(findModel(ctx.db, id), req, 'model', id, (m) => m.owner);
  };

  router.get('/v1/models', auth, (req, res) => {
    const models = listModels(ctx.db, { owner: authOf(req).id, newestFirst: true, limit: 1000 });
    res.json({ items: models.map((m) => modelView(ctx, m)) });
  });

  router.get('/v1/models/:id', auth, (req, res) => {
    res.json(modelView(ctx, owned(req)));
  });

  router.get('/v1/models/:id/download', auth, (req, res) => {
    const m = owned(req);
    const format = req.query.format;
    if (typeof format !== 'string' || !(MODEL_FORMATS as readonly string[]).includes(format)) {
      throw new ApiError(400, 'invalid_request', `query format must be one of ${MODEL_FORMATS.join(', ')} (got ${JSON.stringify(format ?? null)})`);
    }
    const p = payloadOf(ctx, m, format as ModelFormat);
    const digest = createHash('sha256').update(p.bytes);
    const hex = digest.copy().digest('hex');
    res.setHeader('Content-Type', p.contentType);
    res.setHeader('Content-Length', String(p.bytes.byteLength));
    res.setHeader('Content-Disposition', `attachment; filename="${p.fileName}"`);
    res.setHeader('X-Checksum-Sha256', hex);
    res.setHeader('Digest', `sha-256=${digest.digest('base64')}`);
    res.setHeader('Link', `</v1/models/${m.id}>; rel="describedby"`);
    res.end(Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength));
  });
}

