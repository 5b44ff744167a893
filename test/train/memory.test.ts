// BN recalibration runs training-mode forward passes with every activation
// alive until the batch ends; its batch is capped by an activation budget so
// that wide, full-resolution networks (EfficientNet-B0's small-input variant
// at batch 256 aborted the WASM heap) do not run out of memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activationBytesPerImage, memoryBoundBatch } from '../../src/train/memory.ts';
import { getPreset } from '../../src/space/presets.ts';

const input = { height: 28, width: 28, channels: 1 };

describe('activation memory bound for BN recalibration', () => {
  it('counts more bytes per image for a wider or higher-resolution network', () => {
    const small = activationBytesPerImage(getPreset('proxy-small', { smallInput: true }), input, 10);
    const effnet = activationBytesPerImage(getPreset('efficientnet-b0', { smallInput: true }), input, 10);
    const effnet56 = activationBytesPerImage(getPreset('efficientnet-b0', { smallInput: true }), { height: 56, width: 56, channels: 1 }, 10);
    assert.ok(small > 28 * 28 * 4 && effnet > small, `${small} vs ${effnet}`);
    assert.ok(effnet56 > 3.5 * effnet && effnet56 < 4.5 * effnet, 'activations scale with the pixel count');
  });

  it('caps EfficientNet-B0 (small input) under a 1 GiB budget, keeps the request when it fits, never goes below 1', () => {
    const spec = getPreset('efficientnet-b0', { smallInput: true });
    const b = memoryBoundBatch(spec, input, 10, 256, 2 ** 30);
    assert.ok(b < 256 && b >= 16, `batch ${b}`);
    assert.ok(b * activationBytesPerImage(spec, input, 10) <= 2 ** 30);
    assert.equal(memoryBoundBatch(getPreset('proxy-small', { smallInput: true }), input, 10, 32, 2 ** 30), 32);
    assert.equal(memoryBoundBatch(spec, { height: 224, width: 224, channels: 3 }, 10, 256, 1024), 1);
  });
});
