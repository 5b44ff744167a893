// Shared by the `nas run` progress and budget tests: the synthetic 20x20
// dataset (3 classes, seconds per training run), a small base architecture
// and its predicted latency on node-tflite-wasm in the table's unit, a
// measurement double that agrees with the prediction (the device runtime's
// own is tested in test/app/run.test.ts), and a store in a temporary data
// directory opened before the file's tests and removed after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setDataDir } from '../../src/config/paths.ts';
import { loadPredictor } from '../../src/latency/index.ts';
import { parseArchString } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import type { ArchSpec, InputShape } from '../../src/space/types.ts';
import { openDb, type Db } from '../../src/store/db.ts';
import { useTrainingBackend } from '../../src/train/backend.ts';

export const device = 'node-tflite-wasm';
export const predictor = loadPredictor(device, { calibration: 'off' });
export const datasetOptions = { synthetic: { size: 20, perClass: 24 } };
export const input = { height: 20, width: 20, channels: 1 };
export const baseText = 'stem_k3_s1_c16 ir_r1_k3_s2_e3_c48_se0.25 ds_r1_k3_s2_c64 head_c64';
export const base = parseArchString(baseText, { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head });
export const baseMs = predictor.predict(base, input, 3).latencyMs;
/** a compound-scaling grid of 3 candidates */
export const grid3 = { alpha: [1.2, 1.3], beta: [1.1], gamma: [1.1, 1.15], tolerance: 0.1 };

export const measure = async (_d: string, spec: ArchSpec, i: InputShape, k: number) =>
  ({ measured: true as const, latencyMs: predictor.predict(spec, i, k).latencyMs, relIqr: 0, runtime: 'test double', repeats: 1 });

/** The file's store: `store.db` is open during its tests, in the data directory `store.dir`. */
export function tempStore(prefix: string): { db: Db; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = { dir } as { db: Db; dir: string };
  before(async () => {
    await useTrainingBackend();
    setDataDir(dir);
    store.db = openDb(join(dir, 'nas.sqlite'));
  });
  after(() => {
    store.db.close();
    setDataDir(undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}
