// User errors through the real CLI: one `error: ...` line naming the problem,
// exit 2, no stack trace, and nothing already stored is touched.

import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { errorLines, nas } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'nas-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { NAS_DATA_DIR: join(dir, 'data') };
const ARCH = 'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 head_c16';
const train = (...args: string[]) => nas(['train', '--arch', ARCH, '--dataset', 'synthetic', '--epochs', '1', ...args], { env });

/** Exactly one line on stderr that is an error, matching `pattern`; exit 2. */
function assertUserError(r: { code: number | null; err: string }, pattern: RegExp): void {
  const lines = errorLines(r.err);
  assert.equal(r.code, 2, r.err);
  assert.equal(lines.length, 1, `one error line, got:\n${r.err}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

async function pngFolder(name: string, classes: string[], perClass: number, width: number, height: number): Promise<string> {
  const root = join(dir, name);
  for (const c of classes) {
    mkdirSync(join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      await sharp(Buffer.alloc(width * height * 3, 30 * i), { raw: { width, height, channels: 3 } }).png().toFile(join(root, c, `${i}.png`));
    }
  }
  return root;
}

describe('CLI user errors are one line and exit 2', { concurrency: 4 }, () => {
  let nonSquare: string;
  let tooFew: string;
  before(async () => {
    nonSquare = await pngFolder('non-square', ['a', 'b'], 10, 8, 6);
    tooFew = await pngFolder('too-few', ['a', 'b'], 1, 8, 8);
  });

  const cases: [string, string[], RegExp][] = [
    ['--epochs 0', ['--epochs', '0'], /epochs must be an integer in \[1, 1000\], got 0/],
    ['--batch-size 99999', ['--batch-size', '99999'], /batch size must be an integer in \[1, 4096\], got 99999/],
    ['--lr abc', ['--lr', 'abc'], /--lr must be a number, got "abc"/],
    ['--warmup 5 (> epochs)', ['--warmup', '5'], /warm-up epochs must be in \[0, epochs\], got 5/],
    ['--optimizer rmsprop', ['--optimizer', 'rmsprop'], /--optimizer must be sgd or adam, got "rmsprop"/],
    ['--resolution 2', ['--resolution', '2'], /resolution must be an integer in \[4, 1024\], got 2/],
  ];
  for (const [name, args, pattern] of cases) {
    it(`train ${name}`, async () => assertUserError(await train(...args), pattern));
  }

  it('train --dataset nope: unknown dataset, with the known ones', async () => {
    assertUserError(await nas(['train', '--arch', ARCH, '--dataset', 'nope'], { env }), /unknown dataset "nope" \(known: fashion-mnist, mnist, folder:<path>, synthetic\)/);
  });

  it('train on a non-square image folder without --resolution (was a stack trace, exit 70)', async () => {
    assertUserError(await nas(['train', '--arch', ARCH, '--dataset', `folder:${nonSquare}`, '--epochs', '1'], { env }), /is 6x8; give a square resolution \(--resolution\)/);
  });

  it('train on a folder too small for a validation split (was a stack trace, exit 70)', async () => {
    assertUserError(await nas(['train', '--arch', ARCH, '--dataset', `folder:${tooFew}`, '--epochs', '1'], { env }), /empty train or validation split/);
  });

  it('train --out into a path that cannot be a directory: one line naming the path, and an existing result is kept', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep me');
    assertUserError(await train('--out', join(file, 'sub')), /ENOTDIR.*a-file\/sub/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
  });

  it('export --out under a file, --verify-tolerance without --verify, train-export --verify-tolerance x', async () => {
    const file = join(dir, 'b-file');
    writeFileSync(file, '');
    assertUserError(await nas(['export', '--arch', ARCH, '--input', '12x12x1', '--classes', '3', '--out', join(file, 'x')], { env }), /ENOTDIR/);
    assertUserError(await nas(['export', '--arch', ARCH, '--input', '12x12x1', '--classes', '3', '--verify-tolerance', '0'], { env }), /--verify-tolerance applies to --format tflite with --verify/);
    assertUserError(await nas(['train-export', '--arch', ARCH, '--dataset', 'synthetic', '--verify-tolerance', 'x'], { env }), /--verify-tolerance must be a number >= 0, got "x"/);
  });

  it('train-export checks training options before anything slow (data, device, calibration)', async () => {
    assertUserError(await nas(['train-export', '--arch', ARCH, '--dataset', 'synthetic', '--device', 'pixel-99', '--epochs', '0'], { env }), /--epochs must be a positive integer, got "0"/);
  });

  it('--data-dir with an empty value', async () => {
    assertUserError(await nas(['--data-dir', '', 'arch', 'presets'], { env }), /--data-dir needs a directory/);
  });
});
