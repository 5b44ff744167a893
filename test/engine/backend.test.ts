// Backend selection: order, reasons for skipped candidates, forcing, bad input.

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendError, initBackend } from '../../src/engine/backend.ts';
import { doctorReport, formatDoctor } from '../../src/cli/doctor.ts';

async function nodeInstalled(pkg: string): Promise<boolean> {
  try {
    await import(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('initBackend', () => {
  it('auto: records why tfjs-node(-gpu) were skipped and picks the fast path here', async (t) => {
    if ((await nodeInstalled('@tensorflow/tfjs-node')) || (await nodeInstalled('@tensorflow/tfjs-node-gpu'))) {
      t.skip('tfjs-node is installed on this machine');
      return;
    }
    const r = await initBackend({ backend: 'auto' });
    assert.match(r.reason[0], /tfjs-node-gpu: /);
    assert.match(r.reason[1], /tfjs-node: /);
    assert.ok(r.name === 'fast' || r.name === 'fast-js', r.name);
    assert.equal(tf.getBackend(), 'wasm');
    assert.ok(r.threads >= 1);
  });

  it('forcing cpu switches to the pure-JS backend, forcing fast switches back', async () => {
    const cpu = await initBackend({ backend: 'cpu' });
    assert.equal(cpu.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    const fast = await initBackend({ backend: 'fast-js' });
    assert.equal(fast.name, 'fast-js');
    assert.equal(fast.threads, 1);
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('rejects unknown backends and bad thread counts with user errors', async () => {
    const prev = process.env.NAS_BACKEND;
    process.env.NAS_BACKEND = 'tpu';
    try {
      await assert.rejects(initBackend(), (e: unknown) => e instanceof BackendError && /unknown backend "tpu"/.test(e.message) && e.status === 400);
    } finally {
      if (prev === undefined) delete process.env.NAS_BACKEND;
      else process.env.NAS_BACKEND = prev;
    }
    await assert.rejects(initBackend({ backend: 'fast', threads: 0 }), /positive integer/);
  });

  it('nas doctor reports backend, reasons, threads and machine', async () => {
    const text = formatDoctor(await doctorReport('fast'));
    assert.match(text, /^backend: {2}fast/m);
    assert.match(text, /^threads: {2}\d+/m);
    assert.match(text, /^machine: {2}.+, \d+ cores, [\d.]+ GiB, .*Node v\d+/m);
  });
});
