// Supernets over HTTP: POST /v1/supernets (training queued as a job; 202 +
// Location; an interrupted supernet of the dataset is continued), GET
// /v1/supernets (those the caller may use: its own, and built-in datasets'),
// GET /v1/supernets/{id}, GET /v1/supernets/{id}/events (Server-Sent Events:
// the state, then progress like a search's), POST /v1/supernets/{id}/cancel,
// GET /v1/supernets/{id}/file (a trained supernet as one file, as `nas
// supernet export` writes it) and POST /v1/supernets/import (such a file
// stored; src/app/supernet-file.ts). Another key's supernet of an uploaded
// dataset answers 404.

import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Request, Router } from 'express';
import { isSharedDataset } from '../../app/supernet.ts';
import { exportSupernet, importSupernet } from '../../app/supernet-file.ts';
import { apiDatasetName, parseApiDatasetRef, resolveDatasetRef } from '../../app/datasets.ts';
import { jobQueueOf } from '../../jobs/queue.ts';
import { submitSupernet, type SupernetSubmission } from '../../jobs/submit.ts';
import type { Db } from '../../store/db.ts';
import { JobsRepo, TERMINAL_STATUSES } from '../../store/jobs.ts';
import { findSupernet, listSupernets, supernetUsableBy, type SupernetRecord } from '../../store/supernets.ts';
import type { components } from '../api-types.ts';
import { authOf, requireKey } from '../auth.ts';
import { jsonBody, requireType } from '../body.ts';
import type { AppContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { uploadLimiter } from '../ratelimit.ts';
import { streamSearch, tokenFromQuery } from '../sse.ts';
import { receiveFile } from '../upload.ts';
import { validateAgainst, validateBody } from '../validate.ts';

export type SupernetView = components['schemas']['Supernet'];

export function supernetView(db: Db, s: SupernetRecord): SupernetView {
  return {
    id: s.id, status: s.status, dataset: apiDatasetName(db, s.dataset), skeleton: s.skeleton, input: s.input, numClasses: s.numClasses,
    step: s.step, totalSteps: s.totalSteps, options: { ...s.options, dataset: apiDatasetName(db, s.dataset) }, metrics: s.metrics,
    error: s.error, createdAt: s.createdAt, updatedAt: s.updatedAt, finishedAt: s.finishedAt,
    jobId: new JobsRepo(db).bySearch(s.id)?.id ?? null,
  };
}

/** May this key use (see) this supernet? Its own, and one of a built-in dataset trained here or imported locally (supernetUsableBy). */
function visible(s: SupernetRecord, keyId: string): boolean {
  return supernetUsableBy(s, keyId, isSharedDataset(s.dataset));
}

function visibleSupernet(db: Db, req: Request): SupernetRecord {
  const id = req.params.id as string;
  const s = findSupernet(db, id);
  if (!s || !visible(s, authOf(req).id)) throw notFound('supernet', id);
  return s;
}

export function register(router: Router, ctx: AppContext): void {
  const auth = requireKey(ctx.db);

  router.post('/v1/supernets', auth, ...jsonBody(ctx.limits.jsonBytes), validateBody('CreateSupernetRequest'), async (req, res) => {
    const body = req.body as components['schemas']['CreateSupernetRequest'];
    const submission: SupernetSubmission = { ...body, dataset: parseApiDatasetRef(body.dataset) };
    const { supernet } = await submitSupernet(ctx.db, jobQueueOf(ctx), submission, authOf(req).id);
    res.status(202).location(`/v1/supernets/${supernet.id}`).json(supernetView(ctx.db, findSupernet(ctx.db, supernet.id)!));
  });

  // one import at a time: each holds a file of up to supernetBytes and loads a checkpoint to check it
  let importing = false;
  router.post('/v1/supernets/import', auth, uploadLimiter(ctx, 'supernet'), requireType('application/octet-stream', 'a supernet file (Content-Type: application/octet-stream)'), async (req, res) => {
    const q = validateAgainst<{ dataset?: string }>('SupernetImportQuery', { ...req.query }, 'query');
    const key = authOf(req).id;
    if (importing) throw new ApiError(429, 'rate_limited', 'another supernet import is being checked; retry in a minute');
    importing = true;
    try {
      // received in the OS temp folder (removed below): a refused import leaves nothing in the data directory
      const received = await receiveFile(req, tmpdir(), ctx.limits.supernetBytes);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(received.path);
      } finally {
        rmSync(received.path, { force: true });
      }
      // the dataset it serves here: one the caller may use, named as the API names datasets (never a server path from the file)
      const bind = (fileDataset: string): string => {
        if (q.dataset !== undefined) return resolveDatasetRef(ctx.db, parseApiDatasetRef(q.dataset), key);
        let ref;
        try {
          ref = parseApiDatasetRef(fileDataset);
        } catch {
          throw new ApiError(422, 'unprocessable', `the file's supernet was trained on dataset ${JSON.stringify(fileDataset.slice(0, 100))}, which this server cannot name: give ?dataset= (a built-in dataset or dataset:<id> of yours with the same input shape and classes)`);
        }
        if (ref.kind === 'upload') throw new ApiError(422, 'unprocessable', `the file's supernet was trained on an uploaded dataset of another installation (${fileDataset}): give ?dataset= (a built-in dataset or dataset:<id> of yours with the same input shape and classes)`);
        return ref.name;
      };
      const s = await importSupernet(ctx.db, bytes, { owner: key, dataset: bind });
      ctx.logger.info({ supernet: s.id, dataset: s.dataset, sizeBytes: received.sizeBytes }, 'imported a supernet');
      res.status(201).location(`/v1/supernets/${s.id}`).json(supernetView(ctx.db, s));
    } finally {
      importing = false;
    }
  });

  router.get('/v1/supernets/:id/file', auth, (req, res) => {
    const s = visibleSupernet(ctx.db, req);
    // the file names its dataset as the API does (dataset:<id> for an upload), never by its folder on this server
    const bytes = exportSupernet(ctx.db, s.id, { datasetName: (d) => apiDatasetName(ctx.db, d) });
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Disposition', `attachment; filename="${s.id}.nas-supernet"`);
    res.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  router.get('/v1/supernets', auth, (req, res) => {
    const key = authOf(req).id;
    const items = listSupernets(ctx.db).filter((s) => visible(s, key)).reverse().map((s) => supernetView(ctx.db, s));
    res.json({ items });
  });

  router.get('/v1/supernets/:id', auth, (req, res) => {
    res.json(supernetView(ctx.db, visibleSupernet(ctx.db, req)));
  });

  router.get('/v1/supernets/:id/events', tokenFromQuery, auth, async (req, res) => {
    const s = visibleSupernet(ctx.db, req);
    await streamSearch(req, res, {
      bus: jobQueueOf(ctx).events,
      key: s.id,
      snapshot: () => supernetView(ctx.db, findSupernet(ctx.db, s.id)!),
      isFinal: (v) => (TERMINAL_STATUSES as readonly string[]).includes(v.status),
    });
  });

  router.post('/v1/supernets/:id/cancel', auth, async (req, res) => {
    const s = visibleSupernet(ctx.db, req);
    if (s.owner !== null && s.owner !== authOf(req).id) throw new ApiError(403, 'forbidden', `supernet ${s.id} belongs to another key: it can be used, not cancelled`);
    if ((TERMINAL_STATUSES as readonly string[]).includes(s.status)) throw new ApiError(409, 'conflict', `supernet ${s.id} has already ended (${s.status}); nothing to cancel`);
    const job = new JobsRepo(ctx.db).bySearch(s.id);
    if (!job) throw new ApiError(409, 'conflict', `supernet ${s.id} has no job to cancel`);
    await jobQueueOf(ctx).cancel(job.id);
    res.status(202).json(supernetView(ctx.db, findSupernet(ctx.db, s.id)!));
  });
}
