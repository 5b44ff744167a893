// Export pipeline: files and model card, TF.js format round trip, weights
// directories that do not fit the ArchSpec, unsupported ops, and the CLI.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { UnsupportedOpError, WeightsMismatchError } from '../../src/export/errors.ts';
import { exportModel } from '../../src/export/export-model.ts';
import { lowerNetwork } from '../../src/export/lower.ts';
import { applyWeights, readTfjsWeights, saveTfjsModel } from '../../src/export/tfjs-format.ts';
import { foldWeights, modelWeightSource } from '../../src/export/weights.ts';
import { readTfliteModel } from '../../src/tflite/reader.ts';
import { buildModel } from '../../src/space/builder.ts';
import { archCost } from '../../src/space/cost.ts';
import { expandNetwork, type NetworkPlan } from '../../src/space/network.ts';
import { arch } from './helpers.ts';

tf.setBackend('cpu');
const SPEC = arch('stem_k3_s2_c8_hswish ir_r2_k3_s1_e3_c8_se0.25 ds_r1_k5_s2_c12_relu6 head_c16_swish');
const INPUT = { height: 12, width: 12, channels: 3 };
const tmp = () => mkdtempSync(join(tmpdir(), 'nas-export-'));

test('exportModel tflite --verify: file, model card, verification within 1e-4', async () => {
  const out = tmp();
  const r = await exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: out, verify: true, labels: ['a', 'b', 'c', 'd'] });
  assert.ok(existsSync(join(out, 'model.tflite')));
  const card = JSON.parse(readFileSync(r.cardPath, 'utf8'));
  const cost = archCost(SPEC, INPUT, 4);
  assert.equal(card.schema, 'mobile-nas/model-card@1');
  assert.equal(card.params, cost.params);
  assert.equal(card.macs, cost.macs);
  assert.deepEqual(card.blocks, ['ir_r2_k3_s1_e3_c8_se0.25', 'ds_r1_k5_s2_c12_relu6']);
  assert.deepEqual(card.labels, ['a', 'b', 'c', 'd']);
  assert.deepEqual(card.normalization.mean, [127.5, 127.5, 127.5]);
  assert.equal(card.files[0].name, 'model.tflite');
  assert.equal(card.files[0].sizeBytes, readFileSync(join(out, 'model.tflite')).byteLength);
  assert.equal(card.weightsSource, 'initial (seed 1)');
  assert.ok(r.verification!.passed && r.verification!.maxAbsDiff <= 1e-4, JSON.stringify(r.verification));
  const info = JSON.parse(new TextDecoder().decode(readTfliteModel(readFileSync(join(out, 'model.tflite'))).metadata.mobile_nas_info));
  assert.deepEqual(info.labels, ['a', 'b', 'c', 'd']);
  assert.deepEqual(info.normalization.std, [127.5, 127.5, 127.5]);
});

test('TF.js format: saved weights reload into the ArchSpec and export the same .tflite', async () => {
  const dir = tmp();
  const model = buildModel(SPEC, { inputShape: INPUT, numClasses: 4, seed: 9 });
  await saveTfjsModel(model, dir);
  assert.ok(existsSync(join(dir, 'model.json')) && existsSync(join(dir, 'weights.bin')));
  const fromDir = await exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), weightsDir: dir, seed: 123 });
  const direct = buildModel(SPEC, { inputShape: INPUT, numClasses: 4, seed: 123 });
  applyWeights(direct, readTfjsWeights(dir));
  const a = await exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), weightsDir: dir, seed: 5 });
  assert.deepEqual(readFileSync(a.files[0]), readFileSync(fromDir.files[0]), 'weights from the directory, not from the seed');
  const fresh = await exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), seed: 5 });
  assert.notDeepEqual(readFileSync(fresh.files[0]), readFileSync(fromDir.files[0]));
  model.dispose();
  direct.dispose();
});

test('weights that do not fit the ArchSpec: the error names the first mismatching tensor', async () => {
  const dir = tmp();
  const other = buildModel(arch('stem_k3_s2_c8_hswish ir_r2_k5_s1_e3_c8_se0.25 ds_r1_k5_s2_c12_relu6 head_c16_swish'), { inputShape: INPUT, numClasses: 4, seed: 1 });
  await saveTfjsModel(other, dir);
  other.dispose();
  await assert.rejects(
    exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), weightsDir: dir }),
    (e: Error) => e instanceof WeightsMismatchError && /tensor b0_l0_dw_dwconv\/depthwise_kernel has shape \[5,5,24,1\].*needs \[3,3,24,1\]/.test(e.message),
  );
  const fewer = buildModel(arch('stem_k3_s2_c8_hswish ir_r1_k3_s1_e3_c8_se0.25 ds_r1_k5_s2_c12_relu6 head_c16_swish'), { inputShape: INPUT, numClasses: 4, seed: 1 });
  const dir2 = tmp();
  await saveTfjsModel(fewer, dir2);
  fewer.dispose();
  await assert.rejects(
    exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), weightsDir: dir2 }),
    /tensor b0_l1_expand_conv\/kernel .* is missing from the weights file/,
  );
  await assert.rejects(exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), weightsDir: tmp() }), /has no model.json/);
  const dir3 = tmp();
  writeFileSync(join(dir3, 'model.json'), '{"weightsManifest": [{"paths": ["./weights.bin"], "weights": [{"name": "stem_conv/kernel", "shape": [3,3,3,8], "dtype": "float32"}]}]}');
  writeFileSync(join(dir3, 'weights.bin'), new Uint8Array(10));
  await assert.rejects(exportModel({ arch: SPEC, input: INPUT, numClasses: 4, format: 'tflite', outDir: tmp(), weightsDir: dir3 }), /10 bytes, the manifest describes 864/);
});

test('an op or activation the exporter does not support: a clear error naming it', () => {
  const plan = expandNetwork(SPEC, INPUT, 4);
  const model = buildModel(SPEC, { inputShape: INPUT, numClasses: 4, seed: 1 });
  const weights = foldWeights(plan, modelWeightSource(model));
  model.dispose();
  const withPool: NetworkPlan = { ...plan, layers: [...plan.layers] };
  withPool.layers[1] = { ...plan.layers[1], ops: [{ kind: 'maxpool', name: 'b0_l0_maxpool' } as never, ...plan.layers[1].ops] };
  assert.throws(() => lowerNetwork(withPool, weights), (e: Error) => e instanceof UnsupportedOpError && /op kind "maxpool" \(b0_l0_maxpool\)/.test(e.message));
  const withGelu: NetworkPlan = { ...plan, layers: [{ ...plan.layers[0], ops: [{ ...plan.layers[0].ops[0], activation: 'gelu' } as never] }, ...plan.layers.slice(1)] };
  assert.throws(() => lowerNetwork(withGelu, weights), (e: Error) => e instanceof UnsupportedOpError && /activation "gelu" in stem is not supported/.test(e.message));
});

test('CLI: nas export int8 --verify prints figures; a bad weights dir is a one-line error', async () => {
  const run = promisify(execFile);
  const out = tmp();
  const ok = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'export', '--arch', 'stem_k3_s2_c8', 'ir_r1_k3_s1_e3_c8_se0.25_hswish', 'head_c16',
    '--input', '12x12x1', '--classes', '3', '--format', 'tflite-int8', '--out', out, '--verify']);
  assert.match(ok.stdout, /wrote model_int8\.tflite \(\d+ bytes\)/);
  assert.match(ok.stdout, /verify \(float32 \.tflite in the same interpreter, 32 inputs\): PASSED/);
  assert.match(ok.stdout, /top-1 agreement \d+\.\d+%/);
  const card = JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8'));
  assert.equal(card.quantization.ioType, 'float32');
  assert.equal(card.format, 'tflite-int8');
  const bad = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'export', '--arch', 'proxy-small', '--input', '32x32x3', '--classes', '10', '--weights', tmp(), '--out', tmp()])
    .then(() => assert.fail('should fail'), (e: { code: number; stderr: string }) => e);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: weights directory \S+ has no model\.json$/m);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});
