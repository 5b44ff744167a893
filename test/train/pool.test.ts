import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArchString, toCanonicalJson } from '../../src/space/archspec.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { defaultTrainConfig } from '../../src/train/config.ts';
import { TrialPool } from '../../src/train/pool.ts';
import type { TrialRequest } from '../../src/train/protocol.ts';

const faulty = fileURLToPath(new URL('./fixtures/faulty_worker.ts', import.meta.url));
const arch = toCanonicalJson(parseArchString('stem_k3_s1_c8 ir_r1_k3_s2_e3_c8 ds_r1_k3_s2_c16 head_c16', { stem: SKELETON_SMALL.stem, head: SKELETON_SMALL.head }));
const config = defaultTrainConfig({ epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 0.01, warmupEpochs: 0, restartOnChance: false });
const dir = mkdtempSync(join(tmpdir(), 'nas-pool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const trial = (id: string, extra: Partial<TrialRequest> = {}): TrialRequest =>
  ({ id, arch, dataset: 'synthetic', datasetOptions: { synthetic: { perClass: 12, size: 12 } }, config, ...extra });

describe('trial pool', () => {
  it('trains trials in parallel workers; a crashing trial fails alone and its worker is replaced', async () => {
    const pool = new TrialPool({ size: 2, workerModule: faulty });
    const epochs: string[] = [];
    try {
      const outcomes = await Promise.all([
        pool.run(trial('ok-1', { saveDir: join(dir, 'ok-1') }), (r) => epochs.push(`ok-1:${r.epoch}`)),
        pool.run(trial('crash-1')),
        pool.run(trial('ok-2')),
        pool.run(trial('ok-3', { dataset: 'no-such-set' })),
      ]);
      const [ok1, crash, ok2, bad] = outcomes;
      assert.ok(ok1.ok && ok2.ok, JSON.stringify(outcomes.map((o) => (o.ok ? 'ok' : o.error.message))));
      assert.ok(ok1.ok && ok1.result.valAccuracy >= 0 && ok1.result.epochs.length === 1);
      assert.ok(existsSync(join(dir, 'ok-1', 'model.json')) && existsSync(join(dir, 'ok-1', 'weights.bin')));
      assert.deepEqual(epochs, ['ok-1:1']);
      assert.ok(!crash.ok);
      assert.equal(crash.kind, 'crash');
      assert.equal(crash.exitCode, 7);
      assert.match(crash.error.message, /died \(exit code 7\) during trial crash-1: fatal: deliberate crash/);
      assert.ok(!bad.ok);
      assert.equal(bad.kind, 'error');
      assert.equal(bad.error.status, 400);
      assert.match(bad.error.message, /unknown dataset "no-such-set"/);
      assert.equal(pool.crashes, 1);
      assert.equal(pool.started, 3, 'two workers plus one replacement');
      // the pool still works after the crash
      const again = await pool.run(trial('ok-4'));
      assert.ok(again.ok);
    } finally {
      await pool.close();
    }
  });

  it('kills a trial that overruns its timeout and reports a signal death', async () => {
    const pool = new TrialPool({ size: 1, workerModule: faulty, trialTimeoutMs: 3000 });
    try {
      const hang = await pool.run(trial('hang-1'));
      assert.ok(!hang.ok);
      assert.equal(hang.kind, 'timeout');
      const segv = await pool.run(trial('segv-1'));
      assert.ok(!segv.ok);
      assert.equal(segv.kind, 'crash');
      assert.equal(segv.signal, 'SIGSEGV');
      assert.equal(pool.started, 3);
    } finally {
      await pool.close();
    }
  });
});
