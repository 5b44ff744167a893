import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nas-cli-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function nas(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', env: { ...process.env, NAS_THREADS: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('nas train', () => {
  it('trains block strings on the synthetic set, prints epochs and final accuracies, writes weights and result.json', () => {
    const out = join(dir, 'run');
    const r = nas('train', '--arch', 'stem_k3_s1_c8 ir_r1_k3_s2_e3_c8 ds_r1_k3_s2_c16 head_c16', '--dataset', 'synthetic',
      '--epochs', '2', '--batch-size', '8', '--optimizer', 'adam', '--lr', '0.01', '--warmup', '0', '--seed', '2', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /epoch 1\/2 .*val/);
    assert.match(r.stdout, /epoch 2\/2 /);
    assert.match(r.stdout, /validation accuracy \d+\.\d+% .*test accuracy \d+\.\d+%/);
    for (const f of ['model.json', 'weights.bin', 'result.json']) assert.ok(existsSync(join(out, f)), f);
    const doc = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(doc.config.epochs, 2);
    assert.equal(doc.config.seed, 2);
    assert.equal(typeof doc.result.testAccuracy, 'number');
    assert.equal(doc.result.epochs.filter((e: { attempt: number }) => e.attempt === doc.result.restarts).length, 2);
    assert.equal(doc.dataset.name, 'synthetic');
    assert.equal(doc.arch.blocks.length, 2);
  });

  it('rejects an unknown dataset and a bad option with one-line errors (exit 2)', () => {
    const a = nas('train', '--arch', 'proxy-small', '--dataset', 'imagenet');
    assert.equal(a.code, 2);
    assert.match(a.stderr, /^error: unknown dataset "imagenet"/m);
    assert.doesNotMatch(a.stderr, /\bat .*\.ts:\d+/);
    const b = nas('train', '--arch', 'proxy-small', '--dataset', 'synthetic', '--optimizer', 'rmsprop');
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--optimizer must be sgd or adam/);
    const c = nas('train', '--arch', 'no-such-preset', '--dataset', 'synthetic');
    assert.equal(c.code, 2);
    assert.match(c.stderr, /neither a preset nor a block string/);
  });
});
