import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { archId, archToString, fromWire, parseArchString, toCanonicalJson, toWire, decodeStem, decodeHead } from '../../src/space/archspec.ts';
import { getPreset, presetNames } from '../../src/space/presets.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { SKELETON_224, SKELETON_SMALL } from '../../src/space/skeleton.ts';

describe('ArchSpec wire formats', () => {
  it('canonical JSON round-trips presets and random samples, ids stable', () => {
    const rng = createRng(7);
    const specs = [...presetNames().map((n) => getPreset(n)), ...Array.from({ length: 300 }, (_, i) => sampleArch(i % 2 ? SKELETON_224 : SKELETON_SMALL, rng))];
    for (const s of specs) {
      const back = fromWire(toCanonicalJson(s));
      assert.deepEqual(back, s);
      assert.equal(archId(back), archId(s));
      assert.match(archId(s), /^[0-9a-f]{16}$/);
      assert.deepEqual(parseArchString(archToString(s), { stem: SKELETON_224.stem, head: SKELETON_224.head }), s);
    }
  });

  it('different architectures get different ids', () => {
    const rng = createRng(1);
    const ids = new Set<string>();
    const texts = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const s = sampleArch(SKELETON_SMALL, rng);
      ids.add(archId(s));
      texts.add(toCanonicalJson(s));
    }
    assert.equal(ids.size, texts.size);
  });

  it('the canonical JSON is versioned and uses block strings', () => {
    const w = toWire(getPreset('mnasnet-a1'));
    assert.equal(w.version, 1);
    assert.equal(w.blocks[2], 'ir_r3_k5_s2_e3_c40_se0.25');
    assert.equal(w.stem, 'stem_k3_s2_c32');
    assert.equal(w.head, 'head_c1280_d0.2');
  });

  it('rejects another version, bad JSON and misplaced stem/head with clear messages', () => {
    const w = toWire(getPreset('mobilenet-v2'));
    assert.throws(() => fromWire({ ...w, version: 2 }), /version 2 is not supported/);
    assert.throws(() => fromWire('{not json'), /not valid JSON/);
    assert.throws(() => fromWire({ ...w, blocks: [1] }), /blocks\[0\] is not a string/);
    const d = { stem: SKELETON_224.stem, head: SKELETON_224.head };
    assert.throws(() => parseArchString('ir_r1_k3_s1_e1_c16 stem_k3_s2_c32', d), /stem must come first/);
    assert.throws(() => parseArchString('head_c10 ir_r1_k3_s1_e1_c16', d), /head must come last/);
    assert.throws(() => decodeStem('stem_k3_s3_c32'), /stride must be 1 or 2/);
    assert.throws(() => decodeHead('head_c1280_d1.5'), /dropout "d1.5"/);
    assert.throws(() => decodeHead('head_c1280_x3'), /unknown token/);
  });
});
