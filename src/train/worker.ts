// Child-process side of the trial pool: receives TrialRequests over IPC,
// trains them one at a time, replies with epoch reports and the result (or
// the error). Started by src/train/pool.ts with the tsx loader; running this
// file directly starts the training worker (no effect when imported).

import { pathToFileURL } from 'node:url';
import { loadDataset } from '../data/registry.ts';
import type { Dataset } from '../data/types.ts';
import { fromWire } from '../space/archspec.ts';
import { useTrainingBackend } from './backend.ts';
import type { EpochReport } from './trainer.ts';
import { trainArch } from './trainer.ts';
import { saveTrainedModel } from './weights_io.ts';
import { type ParentMessage, type TrialRequest, type TrialResult, toWireError, type WorkerMessage } from './protocol.ts';

export type TrialHandler = (req: TrialRequest, onEpoch: (r: EpochReport) => void) => Promise<TrialResult>;

const datasets = new Map<string, Promise<Dataset>>();

/** Trains one trial in this process (datasets stay loaded between trials). */
export async function trainTrial(req: TrialRequest, onEpoch: (r: EpochReport) => void): Promise<TrialResult> {
  const key = JSON.stringify([req.dataset, req.datasetOptions ?? {}]);
  let ds = datasets.get(key);
  if (!ds) {
    ds = loadDataset(req.dataset, req.datasetOptions);
    datasets.set(key, ds);
    ds.catch(() => datasets.delete(key));
  }
  const dataset = await ds;
  const arch = fromWire(req.arch);
  const r = await trainArch({ arch, dataset, config: req.config, evaluateTest: req.evaluateTest, onEpoch, keepModel: !!req.saveDir });
  if (r.model) {
    try {
      await saveTrainedModel(r.model, req.saveDir!);
    } finally {
      r.model.dispose();
      delete r.model;
    }
  }
  return r;
}

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

/** The worker's message loop; `backend` prepares tfjs before the first trial. */
export async function runWorker(handler: TrialHandler, backend: () => Promise<string>): Promise<void> {
  if (!process.send) throw new Error('the training worker must be started by the trial pool (no IPC channel)');
  const name = await backend();
  let queue = Promise.resolve();
  process.on('message', (msg: ParentMessage) => {
    if (msg.type === 'shutdown') {
      queue = queue.then(() => process.disconnect());
      return;
    }
    if (msg.type !== 'train') return;
    const req = msg.request;
    queue = queue.then(async () => {
      try {
        const result = await handler(req, (report) => send({ type: 'epoch', id: req.id, report }));
        send({ type: 'done', id: req.id, result });
      } catch (e) {
        send({ type: 'error', id: req.id, error: toWireError(e) });
      }
    });
  });
  send({ type: 'ready', pid: process.pid, backend: name });
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntry) {
  const threads = Number(process.env.NAS_TRAIN_THREADS) || undefined;
  await runWorker(trainTrial, async () => (await useTrainingBackend({ threads })).name);
}
