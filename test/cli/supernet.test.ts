// `nas supernet` and the evaluator flags on the command line: bad input is
// one `error:` line and exit 2, a supernet search without a trained supernet
// says how to train one (exit 2), and a short training run reports progress
// and its result, after which `supernet list` shows it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';

const BIN = join(PACKAGE_ROOT, 'bin', 'nas.js');
const dir = mkdtempSync(join(tmpdir(), 'nas-cli-supernet-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function nas(...args: string[]) {
  return nasIn(dir, ...args);
}

function nasIn(dataDir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--data-dir', dataDir, ...args], { encoding: 'utf8', env: { ...process.env, NAS_HOST_CALIBRATION: 'cached' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('nas supernet', () => {
  it('bad flags: one error line naming the flag, exit 2', () => {
    for (const [args, re] of [
      [['supernet', 'train'], /--dataset is required/],
      [['supernet', 'train', '--dataset', 'synthetic', '--steps', '0'], /--steps must be a positive integer, got "0"/],
      [['supernet', 'train', '--dataset', 'synthetic', '--steps', '3', '--minutes', '2'], /--minutes or --steps, not both/],
      [['supernet', 'train', '--dataset', 'synthetic', '--random-subnets', '9'], /--random-subnets must be an integer in \[0, 8\]/],
      [['supernet', 'show', 'sn_0000000000000000'], /not found/],
    ] as const) {
      const r = nas(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
  });

  it('a supernet search with none trained exits 2 saying how to train one; after training, list shows it', () => {
    const s = nas('search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '5', '--evaluator', 'supernet', '--trials', '2');
    assert.equal(s.code, 2, s.err);
    assert.match(s.err, /no trained supernet for dataset synthetic.*nas supernet train --dataset synthetic/);
    const bad = nas('search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '5', '--evaluator', 'oracle');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown evaluator "oracle" \(known: proxy, supernet, predictor\)/);
    const t = nas('supernet', 'train', '--dataset', 'synthetic', '--steps', '2', '--batch-size', '8', '--random-subnets', '0', '--predictor-samples', '0');
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /\[supernet\].*2\/2 steps/);
    assert.match(t.out, /supernet sn_[0-9a-f]{16}: succeeded at step 2 of 2/);
    const l = nas('supernet', 'list', '--json');
    const rows = JSON.parse(l.out) as { status: string; dataset: string; step: number }[];
    assert.deepEqual(rows.map((r) => [r.status, r.dataset, r.step]), [['succeeded', 'synthetic', 2]]);
    // no predictor was fitted: the predictor evaluator is refused naming why
    const p = nas('search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '5', '--evaluator', 'predictor', '--trials', '2');
    assert.equal(p.code, 2, p.err);
    assert.match(p.err, /has no accuracy predictor/);
  });

  it('export writes the trained supernet to a file; import stores it in another data directory under the same id; a damaged file exits 2 naming the damage', () => {
    const [row] = JSON.parse(nas('supernet', 'list', '--json').out) as { id: string }[];
    const file = join(dir, 'moved.nas-supernet');
    const e = nas('supernet', 'export', row!.id, '--out', file);
    assert.equal(e.code, 0, e.err);
    assert.match(e.out, new RegExp(`supernet ${row!.id} written to .*moved\\.nas-supernet \\(\\d+ bytes\\)`));
    const other = join(dir, 'other-install');
    const i = nasIn(other, 'supernet', 'import', file);
    assert.equal(i.code, 0, i.err);
    assert.match(i.out, new RegExp(`supernet ${row!.id} imported for dataset synthetic`));
    const rows = JSON.parse(nasIn(other, 'supernet', 'list', '--json').out) as { id: string; status: string }[];
    assert.deepEqual(rows.map((r) => [r.id, r.status]), [[row!.id, 'succeeded']]);
    // again: already there
    const again = nasIn(other, 'supernet', 'import', file);
    assert.equal(again.code, 2);
    assert.match(again.err, /already in this store/);
    // truncated copy: refused, one line
    const cut = join(dir, 'cut.nas-supernet');
    const bytes = readFileSync(file);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const bad = nasIn(join(dir, 'third'), 'supernet', 'import', cut);
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, /^error: supernet file is truncated/);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
    const missing = nas('supernet', 'export', 'sn_0000000000000000');
    assert.equal(missing.code, 2);
    assert.match(missing.err, /not found/);
  });
});
