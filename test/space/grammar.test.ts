import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBlock, encodeBlock, KERNEL_CHOICES, EXPANSION_CHOICES, SE_CHOICES, ACTIVATIONS, OPS } from '../../src/space/grammar.ts';
import type { BlockSpec } from '../../src/space/types.ts';

const blockArb: fc.Arbitrary<BlockSpec> = fc
  .record({
    op: fc.constantFrom(...OPS),
    repeats: fc.integer({ min: 1, max: 16 }),
    kernel: fc.constantFrom(...KERNEL_CHOICES),
    stride: fc.constantFrom(1 as const, 2 as const),
    expansion: fc.constantFrom(...EXPANSION_CHOICES),
    channels: fc.integer({ min: 1, max: 4096 }),
    seRatio: fc.constantFrom(...SE_CHOICES),
    skip: fc.boolean(),
    activation: fc.constantFrom(...ACTIVATIONS),
  })
  .map((b) => ({ ...b, expansion: b.op === 'ir' ? b.expansion : 1 }));

describe('block grammar', () => {
  it('decodes the example string from the MnasNet code base', () => {
    assert.deepEqual(decodeBlock('ir_r2_k3_s2_e6_c24_se0.25'), {
      op: 'ir', repeats: 2, kernel: 3, stride: 2, expansion: 6, channels: 24, seRatio: 0.25, skip: true, activation: 'relu',
    });
  });

  it('decode(encode(b)) == b over thousands of random blocks', () => {
    fc.assert(fc.property(blockArb, (b) => assert.deepEqual(decodeBlock(encodeBlock(b)), b)), { numRuns: 5000 });
  });

  it('encode(decode(s)) == s over thousands of canonical strings', () => {
    fc.assert(fc.property(blockArb, (b) => {
      const s = encodeBlock(b);
      assert.equal(encodeBlock(decodeBlock(s)), s);
    }), { numRuns: 5000 });
  });

  it('accepts tokens in any order after the op and canonicalises them', () => {
    assert.equal(encodeBlock(decodeBlock('ir_c24_se0.25_s2_e6_k3_r2_relu6')), 'ir_r2_k3_s2_e6_c24_se0.25_relu6');
  });

  const bad: Array<[string, RegExp]> = [
    ['xx_r1_k3_s1_c16', /unknown op "xx"/],
    ['ir_r1_k3_s1_e6_c16_foo', /unknown token "foo"/],
    ['ir_r1_k3_k5_s1_e6_c16', /duplicated kernel token "k5"/],
    ['ir_r1_k4_s1_e6_c16', /kernel 4 is outside the search space/],
    ['ir_r1_k3_s3_e6_c16', /stride 3 is outside the search space/],
    ['ir_r1_k3_s1_e4_c16', /expansion 4 is outside the search space/],
    ['ir_r1_k3_s1_e6_c16_se0.5', /SE ratio 0.5 is outside the search space/],
    ['ds_r1_k3_s1_e6_c16', /expansion token "e6" applies only to ir blocks/],
    ['ir_r1_k3_s1_c16', /missing expansion/],
    ['ir_k3_s1_e6', /missing repeats \(rN\), channels \(cN\)/],
    ['ir_r0_k3_s1_e6_c16', /repeats 0 must be in 1\.\.16/],
    ['ir_r1_k3_s1_e6_c0', /channels 0 must be in/],
    ['ir_r1__k3_s1_e6_c16', /empty token/],
    ['ir_r1_k3_s1_e6_c16_relu_hswish', /duplicated activation token "hswish"/],
    ['ir_rx_k3_s1_e6_c16', /repeats token "rx" is not r<integer>/],
    ['', /empty block string/],
  ];
  for (const [text, pattern] of bad) {
    it(`rejects "${text}" naming the problem`, () => {
      assert.throws(() => decodeBlock(text), (e: Error & { status?: number }) => pattern.test(e.message) && e.status === 400);
    });
  }
});
