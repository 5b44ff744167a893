// The process one job runs in (forked by src/jobs/process.ts): opens the
// store of the data directory, runs the job's handler (the same use cases
// as in-process) and reports events and the outcome to the parent. Exits
// when done, and at once when the parent disconnects (the job stays
// 'running' in the store and resumes at the service's next start).

import { setDataDir, dataPaths } from '../config/paths.ts';
import { openDb } from '../store/db.ts';
import { useTrainingBackend } from '../train/backend.ts';
import { serviceHandlers } from './handlers.ts';
import type { ChildToParent, ParentToChild } from './process.ts';

const send = (m: ChildToParent): Promise<void> => new Promise((resolve) => {
  if (!process.connected) return resolve();
  process.send!(m, undefined, {}, () => resolve());
});

const signal = { cancelled: false };

process.on('disconnect', () => process.exit(0));
process.on('message', (m: ParentToChild) => {
  if (m.type === 'cancel') {
    signal.cancelled = true;
    return;
  }
  if (m.type !== 'run') return;
  void (async () => {
    setDataDir(m.dataDir);
    process.env.NAS_DATA_DIR = m.dataDir;
    const db = openDb(dataPaths(m.dataDir).store);
    try {
      // a run trains and exports in this process: the engine's fast backend, not tfjs' plain JS one
      if (m.job.kind === 'run') await useTrainingBackend();
      const handler = serviceHandlers({ db, dataDir: m.dataDir })[m.job.kind];
      if (!handler) throw new Error(`no handler for jobs of kind '${m.job.kind}'`);
      const outcome = await handler(m.job, { onEvent: (event) => void send({ type: 'event', event }), cancel: signal, resume: m.resume });
      await send({ type: 'outcome', outcome });
    } catch (e) {
      await send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    } finally {
      db.close();
      // the training pool's workers and timers must not keep this process alive
      process.exit(0);
    }
  })();
});
