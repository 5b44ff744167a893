// Every failure a user must notice ends the `nas` process with a non-zero
// code. A verification that cannot pass is forced honestly with the
// documented `--verify-tolerance 0` (float32 .tflite vs tfjs: the interpreter
// and tfjs accumulate in different orders, so their outputs differ by a few
// ulps); the test checks that premise in the written card.

import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { errorLines, nas } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'nas-exit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { NAS_DATA_DIR: join(dir, 'data') };

const ARCH = 'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 ds_r1_k3_s2_c12_relu6 head_c16';
const exportArgs = (out: string) => ['export', '--arch', ARCH, '--input', '12x12x1', '--classes', '3', '--format', 'tflite', '--out', out, '--verify', '--json'];

describe('exit codes', () => {
  it('nas export --verify: a failed verification exits 1 with one error line; the files and card stay', async () => {
    const out = join(dir, 'export-fail');
    const r = await nas([...exportArgs(out), '--verify-tolerance', '0'], { env });
    assert.equal(r.code, 1, r.err + r.out);
    assert.deepEqual(errorLines(r.err).length, 1, r.err);
    assert.match(errorLines(r.err)[0], /^error: verification FAILED for .*model\.tflite \(max abs diff <= 0\)/);
    const card = JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8'));
    assert.equal(card.verification.passed, false);
    assert.ok(card.verification.maxAbsDiff > 0, `premise: the interpreter and tfjs differ (max abs diff ${card.verification.maxAbsDiff})`);
    assert.ok(existsSync(join(out, 'model.tflite')));
  });

  it('nas export --verify: the same export at the default tolerance passes and exits 0', async () => {
    const out = join(dir, 'export-ok');
    const r = await nas(exportArgs(out), { env });
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(JSON.parse(r.out.slice(r.out.indexOf('{'))).verification.passed, true);
  });

  it('nas train-export: a failed verification exits 1 after writing the summary', async () => {
    const out = join(dir, 'train-export-fail');
    // default data dir (like test/cli/train-export.test.ts): the host's latency calibration cached there is reused
    const r = await nas(['train-export', '--arch', ARCH, '--dataset', 'synthetic', '--epochs', '1', '--out', out, '--verify-tolerance', '0']);
    assert.equal(r.code, 1, r.err + r.out);
    assert.match(r.out, /tflite: .*FAILED/);
    assert.match(errorLines(r.err).join('\n'), /^error: verification failed for at least one export/);
    const [id] = readdirSync(out);
    const s = JSON.parse(readFileSync(join(out, id, 'train-export.json'), 'utf8'));
    assert.equal(s.exports.tflite.verification.passed, false);
    assert.equal(s.exports['tflite-int8'].verification.passed, true, 'the other exports are still verified and reported');
  });

  it('bad input exits 2, commander usage errors exit 2, --help exits 0', async () => {
    const bad = await nas(['export', '--arch', ARCH, '--input', '12x12x1', '--classes', '3', '--verify', '--verify-tolerance', '-1'], { env });
    assert.equal(bad.code, 2, bad.err);
    assert.deepEqual(errorLines(bad.err), ['error: --verify-tolerance must be a number >= 0, got "-1"']);
    const usage = await nas(['export', '--no-such-flag'], { env });
    assert.equal(usage.code, 2, usage.err);
    const help = await nas(['--help'], { env });
    assert.equal(help.code, 0);
    assert.match(help.out, /--data-dir <dir>/);
  });
});
