// `nas profile --device <local device>` killed with SIGKILL in the middle:
// no table is written (the previous one, if any, stays in force), the
// measurements made so far are in <tables>/partial/<device>.jsonl, and the
// next run resumes there instead of starting over.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';
import { partialPath } from '../../src/latency/partial.ts';

const NAS = join(PACKAGE_ROOT, 'bin', 'nas.js');

describe('nas profile: interrupted and resumed', () => {
  it('kill -9 leaves no table and a partial profile; the rerun measures only the rest', { timeout: 240_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'nas-resume-'));
    const tables = join(data, 'tables');
    const args = [NAS, '--data-dir', data, 'profile', '--device', 'node-tflite-wasm', '--tables', tables, '--input', '28x28x1', '--max-kernels', '40', '--calibration', '5', '--repeats', '5'];
    const partial = partialPath(tables, 'node-tflite-wasm');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NAS_LOG_LEVEL: 'silent' } });
    let exited = false;
    child.once('exit', () => { exited = true; });
    const records = () => (existsSync(partial) ? readFileSync(partial, 'utf8').split('\n').filter(Boolean).length - 1 : 0);
    for (let i = 0; i < 2400 && !exited && records() < 8; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!exited, 'the profile finished before it could be killed');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const kept = records();
    assert.ok(kept >= 8 && kept < 41, `${kept} records kept`);
    assert.ok(!existsSync(join(tables, 'node-tflite-wasm.json')), 'no table written');
    assert.deepEqual(readdirSync(tables).filter((f) => f.includes('.tmp-')), []);
    const again = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NAS_LOG_LEVEL: 'silent' }, timeout: 200_000 });
    assert.equal(again.status, 0, again.stderr);
    const m = /resuming: (\d+) of 40 kernels measured before/.exec(again.stderr);
    assert.ok(m && Number(m[1]) >= kept - 1, again.stderr.slice(0, 500));
    const table = JSON.parse(readFileSync(join(tables, 'node-tflite-wasm.json'), 'utf8'));
    assert.equal(Object.keys(table.entries).length, 40);
    assert.ok(!existsSync(partial), 'the partial profile is removed once the table is written');
  });
});
