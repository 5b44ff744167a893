// Datasets: POST /v1/datasets (a zip of class folders, streamed to disk,
// body-size- and rate-limited), GET /v1/datasets (the caller's own), GET /v1/datasets/{id}.

import type { Router } from 'express';
import { datasetView, listOwnDatasets, uploadDataset } from '../../app/datasets.ts';
import { getDataset } from '../../store/datasets.ts';
import { authOf, requireKey, requireOwned } from '../auth.ts';
import { rmSync } from 'node:fs';
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
}
