// Standard TFLite metadata as written and read back by our own code:
// ModelMetadata fields round-trip, the exported file carries TFLITE_METADATA,
// min_runtime_version, the JSON entry, and labels.txt in an appended ZIP.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { classifierMetadata, LABELS_FILE, MetadataInputError } from '../../src/export/classifier-metadata.ts';
import { exportModel } from '../../src/export/export-model.ts';
import { AssociatedFileType, buildModelMetadata, ColorSpace, type ModelMeta, readModelMetadata, TFLITE_METADATA_NAME } from '../../src/export/tflite-metadata.ts';
import { appendStoredZip, crc32, readStoredZip } from '../../src/export/zip-store.ts';
import { readTfliteModel } from '../../src/tflite/reader.ts';
import { arch } from './helpers.ts';

tf.setBackend('cpu');

const f32 = (v: number[]) => Array.from(Float32Array.from(v));

test('ModelMetadata fields round-trip through our writer and reader', () => {
  const meta: ModelMeta = {
    name: 'm', description: 'd', version: 'v2', author: 'a', license: 'Apache-2.0', minParserVersion: '1.0.0',
    inputs: [{
      name: 'image', description: 'in', content: { kind: 'image', colorSpace: ColorSpace.RGB, width: 40, height: 30 },
      normalization: { mean: [1.5, 2, 3], std: [0.1, 64, 255] }, stats: { min: [-1, -2, -3], max: [1, 2, 3] },
    }],
    outputs: [{
      name: 'probability', description: 'out', content: { kind: 'feature' }, stats: { min: [0], max: [1] },
      associatedFiles: [{ name: 'labels.txt', description: 'L', type: AssociatedFileType.TENSOR_AXIS_LABELS, locale: 'en' }],
    }],
  };
  const buf = buildModelMetadata(meta);
  assert.equal(new TextDecoder().decode(buf.subarray(4, 8)), 'M001', 'file identifier');
  const back = readModelMetadata(buf);
  assert.deepEqual(back.inputs[0].normalization, { mean: f32([1.5, 2, 3]), std: f32([0.1, 64, 255]) });
  assert.deepEqual(back.inputs[0].content, meta.inputs[0].content);
  assert.deepEqual(back.inputs[0].stats, meta.inputs[0].stats);
  assert.deepEqual(back.outputs[0].associatedFiles, meta.outputs[0].associatedFiles);
  assert.deepEqual(back.outputs[0].content, { kind: 'feature' });
  assert.deepEqual({ ...back, inputs: [], outputs: [] }, { ...meta, inputs: [], outputs: [] });
  assert.throws(() => readModelMetadata(new Uint8Array(16)), /M001/);
});

test('stored ZIP: entries round-trip, CRC-32 check value, prefix kept intact', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const prefix = Uint8Array.from({ length: 37 }, (_, i) => i);
  const entries = [{ name: 'a.txt', data: new TextEncoder().encode('x\ny\n') }, { name: 'b', data: new Uint8Array(0) }];
  const buf = appendStoredZip(prefix, entries);
  assert.deepEqual(buf.subarray(0, 37), prefix);
  const back = readStoredZip(buf);
  assert.deepEqual(back.map((e) => [e.name, Array.from(e.data)]), entries.map((e) => [e.name, Array.from(e.data)]));
  assert.deepEqual(readStoredZip(prefix), []);
});

test('classifierMetadata rejects inputs the Task Library cannot use', () => {
  const input = { height: 8, width: 8, channels: 3 };
  const normalization = { mean: [127.5], std: [127.5] };
  assert.throws(() => classifierMetadata({ input, numClasses: 2, labels: ['a'], normalization }), MetadataInputError);
  assert.throws(() => classifierMetadata({ input, numClasses: 2, labels: ['a', 'b\nc'], normalization }), /line break/);
  assert.throws(() => classifierMetadata({ input: { ...input, channels: 4 }, numClasses: 1, labels: ['a'], normalization }), /channels/);
  assert.throws(() => classifierMetadata({ input, numClasses: 1, labels: ['a'], normalization: { mean: [1, 2], std: [1] } }), /mean/);
  assert.throws(() => classifierMetadata({ input, numClasses: 1, labels: ['a'], normalization: { mean: [1], std: [0] } }), /std/);
});

test('exported .tflite carries TFLITE_METADATA, min_runtime_version, the JSON entry and labels.txt', async () => {
  const out = mkdtempSync(join(tmpdir(), 'nas-meta-'));
  const input = { height: 16, width: 16, channels: 3 };
  const labels = ['alpha', 'beta', 'gamma'];
  const r = await exportModel({ arch: arch('stem_k3_s2_c8_relu ds_r1_k3_s2_c8_relu head_c16_relu'), input, numClasses: 3, format: 'tflite', outDir: out, labels });
  const bytes = readFileSync(r.files[0]);
  const model = readTfliteModel(bytes);
  assert.ok(model.operators.length > 0, 'still a readable model');
  assert.match(new TextDecoder().decode(model.metadata.min_runtime_version).replace(/\0+$/, ''), /^\d+\.\d+\.\d+$/);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(model.metadata.mobile_nas_info)).labels, labels);
  const meta = readModelMetadata(model.metadata[TFLITE_METADATA_NAME]);
  assert.equal(meta.inputs.length, model.inputs.length);
  assert.equal(meta.outputs.length, model.outputs.length);
  assert.deepEqual(meta.inputs[0].content, { kind: 'image', colorSpace: ColorSpace.RGB, width: 16, height: 16 });
  assert.deepEqual(meta.inputs[0].normalization, { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
  assert.deepEqual(meta.inputs[0].stats, { min: [-1, -1, -1], max: [1, 1, 1] });
  const file = meta.outputs[0].associatedFiles?.[0];
  assert.equal(file?.name, LABELS_FILE);
  assert.equal(file?.type, AssociatedFileType.TENSOR_AXIS_LABELS);
  const zip = readStoredZip(bytes);
  assert.deepEqual(zip.map((e) => e.name), [LABELS_FILE]);
  assert.deepEqual(new TextDecoder().decode(zip[0].data).trimEnd().split('\n'), labels);
  // An independent ZIP reader agrees (when installed).
  if (existsSync('/usr/bin/unzip')) {
    assert.equal(execFileSync('/usr/bin/unzip', ['-p', r.files[0], LABELS_FILE], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(), labels.join('\n') + '\n');
  }
});
