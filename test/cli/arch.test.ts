import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));

function nas(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('nas arch (CLI)', () => {
  it('show --json gives params, MACs, blocks and id for a preset', () => {
    const r = nas('arch', 'show', 'mobilenet-v2', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.params, 3_538_984);
    assert.equal(j.trainableParams, 3_504_872);
    assert.equal(j.macs, 300_774_272);
    assert.match(j.id, /^[0-9a-f]{16}$/);
    assert.equal(j.blocks.length, 9);
    assert.deepEqual(j.blocks[8].outShape, [1, 1, 1000]);
  });

  it('show accepts block strings and small inputs; table output names every block', () => {
    const r = nas('arch', 'show', 'ir_r1_k3_s1_e1_c16', 'ir_r2_k5_s2_e6_c24_se0.25', '--input', '28x28x1', '--classes', '10');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /ir_r2_k5_s2_e6_c24_se0\.25/);
    assert.match(r.out, /input 28x28x1 {2}classes 10/);
  });

  it('width multiplier changes the preset', () => {
    const j = JSON.parse(nas('arch', 'show', 'mobilenet-v2', '--width', '0.5', '--json').out);
    assert.equal(Math.round(j.macs / 1e6), 97);
  });

  it('sample is reproducible by seed and mutate changes the architecture', () => {
    const a = JSON.parse(nas('arch', 'sample', '--seed', '5', '--input', '32x32x3', '--classes', '10', '--json').out);
    const b = JSON.parse(nas('arch', 'sample', '--seed', '5', '--input', '32x32x3', '--classes', '10', '--json').out);
    assert.equal(a.id, b.id);
    const m = nas('arch', 'mutate', JSON.stringify(a.arch), '--seed', '1', '--input', '32x32x3', '--classes', '10', '--json');
    assert.equal(m.code, 0, m.err);
    assert.notEqual(JSON.parse(m.out).id, a.id);
  });

  const bad: Array<[string[], RegExp]> = [
    [['arch', 'show', 'ir_r1_k3_s1_e6_c16_bogus'], /unknown token "bogus"/],
    [['arch', 'show', 'ir_r1_k9_s1_e6_c16'], /kernel 9 is outside the search space/],
    [['arch', 'show', 'nosuchnet'], /neither a preset nor a block string/],
    [['arch', 'show', 'mobilenet-v2', '--input', '4x4x3'], /too small for a network of total stride 8/],
    [['arch', 'show', 'mobilenet-v2', '--input', '224by224'], /is not HxWxC/],
    [['arch', 'show', 'mobilenet-v2', '--classes', '1'], /--classes must be an integer >= 2/],
    [['arch', 'sample', '--seed', '-3'], /--seed must be a non-negative integer/],
  ];
  for (const [args, pattern] of bad) {
    it(`bad input exits non-zero with a one-line error: ${args.slice(2).join(' ')}`, () => {
      const r = nas(...args);
      assert.notEqual(r.code, 0);
      assert.match(r.err, pattern);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.doesNotMatch(r.err, /\n\s+at /);
    });
  }
});
