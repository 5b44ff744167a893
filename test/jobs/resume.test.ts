// Restart semantics of the service end to end: a search runs as a job in a
// child process of `nas serve`'s service; the service stops mid-search (its
// job process killed, as when the machine goes down); a new service on the
// same data directory resumes the job (attempt 2) from the search's
// checkpoint, keeps the trials already finished, and finishes the budget.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startService } from '../../src/cli/serve.ts';
import { createLogger } from '../../src/http/logger.ts';

const ADMIN = 'nas_resume-test-admin-0123456789abcdef';
const auth = { Authorization: `Bearer ${ADMIN}` };

interface SearchView { status: string; attempts: number; trials: { id: string; status: string }[]; progress: { trialsDone: number } }

describe('service restart', () => {
  it('resumes a search interrupted by a stop, keeping its finished trials', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nas-resume-'));
    const logger = createLogger({ level: 'silent' });
    const first = await startService({ dataDir, port: 0, host: '127.0.0.1', adminToken: ADMIN, logger });
    const res = await fetch(`${first.url}v1/searches`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', budget: { maxTrials: 6, maxParallelTrials: 1 }, proxy: { subset: 48, validationSubset: 24 } }),
    });
    assert.equal(res.status, 202);
    const { id } = await res.json() as { id: string };
    const view = async (url: string) => (await (await fetch(`${url}v1/searches/${id}`, { headers: auth })).json()) as SearchView;
    let before: SearchView | undefined;
    for (let i = 0; i < 1200; i++) {
      before = await view(first.url);
      if (before.progress.trialsDone >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(before && before.progress.trialsDone >= 2 && before.progress.trialsDone < 6, `stopped mid-search (${before?.progress.trialsDone} trials done)`);
    await first.close(); // kills the job process; the job row stays 'running'
    let metrics = '';
    const kept = (await (async () => {
      const second = await startService({ dataDir, port: 0, host: '127.0.0.1', adminToken: ADMIN, logger });
      try {
        await second.queue.idle();
        for (let i = 0; i < 50 && (await view(second.url)).status === 'running'; i++) await new Promise((r) => setTimeout(r, 100));
        metrics = await (await fetch(`${second.url}metrics`)).text();
        return await view(second.url);
      } finally {
        await second.close();
      }
    })());
    assert.equal(kept.status, 'succeeded');
    assert.match(metrics, /^nas_jobs\{kind="search",status="succeeded"\} 1$/m, metrics.split('\n').filter((l) => l.startsWith('nas_jobs')).join('\n'));
    assert.equal(kept.attempts, 2, 'the job was resumed, not started again');
    assert.equal(kept.trials.length, 6);
    assert.ok(kept.trials.every((t) => t.status === 'succeeded' || t.status === 'cached'), JSON.stringify(kept.trials.map((t) => t.status)));
    const finishedBefore = before!.trials.filter((t) => t.status === 'succeeded').map((t) => t.id);
    for (const t of finishedBefore) assert.ok(kept.trials.some((k) => k.id === t && k.status === 'succeeded'), `trial ${t} kept`);
  });
});
