// The rows a job owns end with it. When the queue itself ends a job (its
// process crashed and is not retried, it was cancelled while queued, its
// attempts ran out, or a cancel was asked before it failed), the search it
// drives and a run's model row are still open ('queued' / 'running') or in
// another end state: each is given the job's end state and message, so job,
// search and model never disagree. A stage that had finished keeps its
// record (a search that succeeded before the run failed stays succeeded).

import { StoreError, type Db } from '../store/db.ts';
import type { JobRecord } from '../store/jobs.ts';
import { finishModel, getModel } from '../store/models.ts';
import { findSearch, finishSearch } from '../store/searches.ts';
import { findSupernet, updateSupernet } from '../store/supernets.ts';

export function settleJobRows(db: Db, job: JobRecord, status: 'failed' | 'cancelled', error: string): void {
  const p = (job.payload ?? {}) as { searchId?: unknown; modelId?: unknown; supernetId?: unknown };
  if (typeof p.supernetId === 'string') {
    const sn = findSupernet(db, p.supernetId);
    // a supernet keeps its checkpoint either way: a later request for the dataset continues it
    if (sn && (sn.status === 'queued' || sn.status === 'running')) updateSupernet(db, sn.id, { status, error, finished: true });
    return;
  }
  const searchId = typeof p.searchId === 'string' ? p.searchId : job.searchId;
  if (searchId) {
    const s = findSearch(db, searchId);
    if (s && (s.status === 'queued' || s.status === 'running')) finishSearch(db, searchId, status, error);
  }
  if (typeof p.modelId === 'string') {
    let m;
    try {
      m = getModel(db, p.modelId);
    } catch (e) {
      if (e instanceof StoreError) return; // the row is gone: nothing to settle
      throw e;
    }
    if (m.status !== 'succeeded' && m.status !== status) {
      finishModel(db, m.id, status, { error: m.error && m.status !== 'running' && m.status !== 'queued' ? `${error} (the run itself ended ${m.status}: ${m.error})` : error });
    }
  }
}
