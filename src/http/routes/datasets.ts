// Datasets: POST /v1/datasets (a zip of class folders, streamed to disk,
// body-size- and rate-limited), GET /v1/datasets (the caller's own), GET /v1/datasets/{id},
// GET /v1/datasets/{id}/archive (the uploaded zip as stored, for `nas worker`s on other
// machines: the owner's key, or the archive token a trial job carries, src/jobs/dataset-ref.ts).

import type { Router } from 'express';
import { datasetView, listOwnDatasets, uploadDataset } from '../../app/datasets.ts';
import { getDataset } from '../../store/datasets.ts';
import { authOf, requireKey, requireOwned } from '../auth.ts';
import { createReadStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { checkArchiveToken, datasetArchivePath, existingArchiveTokenSecret } from '../../jobs/dataset-ref.ts';
import { ApiError } from '../errors.ts';
import { dataPaths } from '../../config/paths.ts';
import { requireType } from '../body.ts';
import { receiveFile } from '../upload.ts';
import type { AppContext } from '../context.ts';
import { uploadLimiter } from '../ratelimit.ts';
import { validateAgainst } from '../validate.ts';

export function register(router: Router, ctx: AppContext): void {
  const key = requireKey(ctx.db);
  router.post('/v1/datasets', key, uploadLimiter(ctx, 'dataset'), requireType('application/zip', 'a zip archive (Content-Type: application/zip)'), async (req, res) => {
    const q = validateAgainst<{ name?: string }>('DatasetQuery', { ...req.query }, 'query');
    const archive = await receiveFile(req, dataPaths(ctx.dataDir).datasets, ctx.limits.datasetBytes);
    let d;
    try {
      d = await uploadDataset({ db: ctx.db, dataDir: ctx.dataDir, ownerKeyId: authOf(req).id, name: q.name, archive });
      // kept as received (its sha256 is the record's): workers on other machines fetch this file
      renameSync(archive.path, datasetArchivePath(ctx.dataDir, d.id));
    } finally {
      rmSync(archive.path, { force: true });
    }
    ctx.logger.info({ dataset: d.id, images: d.images, corrupt: d.corrupt.length }, 'stored an uploaded dataset');
    res.status(201).location(`/v1/datasets/${d.id}`).json(d);
  });
  router.get('/v1/datasets', key, (req, res) => {
    res.json({ items: listOwnDatasets(ctx.db, authOf(req).id) });
  });
  router.get('/v1/datasets/:id', key, (req, res) => {
    const id = req.params.id as string;
    res.json(datasetView(requireOwned(getDataset(ctx.db, id), req, 'dataset', id, (d) => d.ownerKeyId)));
  });
  let secret: Buffer | undefined;
  router.get('/v1/datasets/:id/archive', (req, res) => {
    const id = req.params.id as string;
    const token = req.query.token;
    if (token === undefined) return key(req, res, () => {
      const d = requireOwned(getDataset(ctx.db, id), req, 'dataset', id, (r) => r.ownerKeyId);
      sendArchive(d.id, d.sha256, res);
    });
    if (typeof token !== 'string') throw new ApiError(400, 'invalid_request', 'query token must be one string');
    const d = getDataset(ctx.db, id);
    // a rejected token creates nothing: without a secret on disk no token was ever issued
    secret ??= existingArchiveTokenSecret(ctx.dataDir) ?? undefined;
    if (!d || !secret || !checkArchiveToken(secret, d.id, d.sha256, token)) throw new ApiError(401, 'unauthorized', `invalid archive token for dataset "${id}"`);
    sendArchive(d.id, d.sha256, res);
  });

  function sendArchive(id: string, sha256: string, res: import('express').Response): void {
    const file = datasetArchivePath(ctx.dataDir, id);
    if (!existsSync(file)) throw new ApiError(409, 'conflict', `dataset "${id}" has no stored archive (uploaded before archives were kept): upload it again`);
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Length', String(statSync(file).size));
    res.setHeader('X-Checksum-Sha256', sha256);
    createReadStream(file).pipe(res);
  }
}
