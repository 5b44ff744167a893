// Batch size for BN recalibration (a training-mode forward pass over many
// images) that fits in memory. The fast backend holds tensors in the WASM heap (at most
// 4 GiB, less in practice), and a training-mode forward pass keeps every
// layer's output until the batch is done: EfficientNet-B0's small-input
// variant at batch 256 (28x28, swish, SE, 96-144 channels at full
// resolution) overflowed it and aborted the process. The batch is capped
// so that the activations of one pass stay under a budget.

import { expandNetwork } from '../space/network.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';

/** Activation bytes one pass may hold (default 1 GiB; override with NAS_ACTIVATION_BUDGET_MB). */
export function activationBudgetBytes(): number {
  const mb = Number(process.env.NAS_ACTIVATION_BUDGET_MB);
  return (Number.isFinite(mb) && mb > 0 ? mb : 1024) * 2 ** 20;
}

/**
 * float32 bytes of the activations one image leaves alive through a forward
 * pass: every op's output, counted x2 for conv/depthwise (pre-BN and
 * post-BN/activation outputs) and for SE gating and adds.
 */
export function activationBytesPerImage(spec: ArchSpec, input: InputShape, numClasses: number): number {
  let elems = input.height * input.width * input.channels;
  for (const layer of expandNetwork(spec, input, numClasses).layers) {
    for (const op of layer.ops) {
      if (op.kind === 'conv2d') elems += 2 * op.outH * op.outW * op.outC;
      else if (op.kind === 'dwconv2d') elems += 2 * op.outH * op.outW * op.channels;
      else if (op.kind === 'se') elems += 2 * op.h * op.w * op.channels;
      else if (op.kind === 'add') elems += 2 * layer.outShape[0] * layer.outShape[1] * layer.outShape[2];
    }
  }
  return 4 * elems;
}

/** The requested batch, lowered (never below 1) so that one pass fits the activation budget. */
export function memoryBoundBatch(spec: ArchSpec, input: InputShape, numClasses: number, requested: number, budgetBytes = activationBudgetBytes()): number {
  const fit = Math.floor(budgetBytes / activationBytesPerImage(spec, input, numClasses));
  return Math.max(1, Math.min(requested, fit));
}
