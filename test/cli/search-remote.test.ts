// `nas search --server URL --key K`: the search submitted to a live service
// and followed over its event stream with the same progress lines as a local
// search; bad input is one `error:` line and exit 2.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startService, type Service } from '../../src/cli/serve.ts';
import { createSearchBody } from '../../src/cli/search-remote.ts';
import { errorLines, nas } from './run-cli.ts';

const ADMIN = 'nas_admin-remote-search-test-0123456789abcdef';

describe('nas search --server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nas-remote-search-'));
  let svc: Service;
  let key: string;
  before(async () => {
    svc = await startService({ dataDir: dir, port: 0, host: '127.0.0.1', adminToken: ADMIN });
    const res = await fetch(new URL('v1/keys', svc.url), {
      method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'cli' }),
    });
    key = ((await res.json()) as { token: string }).token;
  });
  after(async () => {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('submits, prints each trial as it finishes, and ends with the search status and best', async () => {
    const r = await nas(['search', '--server', svc.url, '--key', key, '--dataset', 'synthetic', '--device', 'node-tflite-wasm',
      '--target-ms', '1000', '--strategy', 'random', '--trials', '2', '--parallel', '1', '--subset', '48', '--val-subset', '24']);
    assert.equal(r.code, 0, r.err + r.out);
    const id = /search (s-[a-z0-9]+) submitted to http:\/\/127\.0\.0\.1:\d+/.exec(r.out)?.[1];
    assert.ok(id, r.out);
    assert.equal((r.out.match(/^trial \d\/2 /gm) ?? []).length, 2, r.out);
    assert.match(r.out, new RegExp(`^search ${id} succeeded; best [0-9a-f]{16}: accuracy \\d\\.\\d{4}, \\d+\\.\\d{3} ms$`, 'm'));
    // the service stored it under this key
    const list = await (await fetch(new URL('v1/searches', svc.url), { headers: { Authorization: `Bearer ${key}` } })).json() as { items?: { id: string }[] } | { id: string }[];
    const ids = (Array.isArray(list) ? list : list.items ?? []).map((s) => s.id);
    assert.ok(ids.includes(id), JSON.stringify(list));
  });

  it('bad input is one error line and exit 2: unknown device (the server\'s 400), bad key (401), bad URL, a local-only flag', async () => {
    const base = ['search', '--dataset', 'synthetic', '--target-ms', '1000', '--trials', '2'];
    const cases: [string[], RegExp][] = [
      [[...base, '--device', 'no-such-phone', '--server', svc.url, '--key', key], /^error: the server answered 4\d\d: .*no-such-phone/],
      [[...base, '--device', 'node-tflite-wasm', '--server', svc.url, '--key', 'nas_wrong'], /^error: the server answered 401/],
      [[...base, '--device', 'node-tflite-wasm', '--server', 'ftp://x', '--key', key], /^error: --server must be a URL/],
      [[...base, '--device', 'node-tflite-wasm', '--server', svc.url, '--key', key, '--skip-factor', '2'], /^error: --skip-factor is not available with --server/],
    ];
    for (const [args, re] of cases) {
      const r = await nas(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      const lines = errorLines(r.err);
      assert.equal(lines.length, 1, r.err);
      assert.match(lines[0]!, re);
    }
  });

  it('maps CLI options to the API body (objective, budget in seconds, proxy without unset fields)', () => {
    assert.deepEqual(createSearchBody({
      dataset: 'synthetic', deviceId: 'd', latencyTargetMs: 3, mode: 'hard', strategy: 'rl', maxTrials: 5, maxWallMs: 90_000, seed: 2,
      proxy: { subset: 100, epochs: undefined },
    }), { dataset: 'synthetic', deviceId: 'd', latencyTargetMs: 3, objective: 'hard', strategy: 'rl', seed: 2, budget: { maxTrials: 5, maxWallTimeS: 90 }, proxy: { subset: 100 } });
  });
});
