// Typed runtime objects of the search space. Wire formats (block strings,
// canonical JSON) are decoded into these once, at the edge.

/** Convolution operator of a block. */
export type ConvOp =
  /** regular k x k convolution + BN + activation */
  | 'conv'
  /** depthwise-separable (MobileNetV1 style): depthwise k x k + BN + act, pointwise 1x1 + BN + act */
  | 'ds'
  /** mobile inverted bottleneck (MBConv): [1x1 expand + BN + act] -> depthwise k x k + BN + act -> [SE] -> 1x1 project + BN (linear) */
  | 'ir';

/**
 * Activations. The search space samples relu, relu6 and hswish; swish is
 * accepted by the grammar so that EfficientNet-B0 can be written down.
 */
export type Activation = 'relu' | 'relu6' | 'hswish' | 'swish';

export interface BlockSpec {
  op: ConvOp;
  /** number of layers (repetitions) in the block, >= 1 */
  repeats: number;
  /** spatial kernel size */
  kernel: number;
  /** stride of the first layer of the block; later layers use stride 1 */
  stride: 1 | 2;
  /** expansion ratio of 'ir' blocks (1 for 'conv' and 'ds') */
  expansion: number;
  /** output channels */
  channels: number;
  /** squeeze-and-excitation ratio relative to the block input channels, 0 = no SE */
  seRatio: number;
  /** identity skip where shapes allow (stride 1 and equal channels) */
  skip: boolean;
  activation: Activation;
}

export interface StemSpec {
  channels: number;
  kernel: number;
  stride: 1 | 2;
  activation: Activation;
}

export interface HeadSpec {
  /** channels of the final 1x1 conv before pooling; 0 = no head conv */
  channels: number;
  activation: Activation;
  /** dropout rate before the classifier (training only) */
  dropout: number;
}

export interface ArchSpec {
  version: typeof ARCH_SPEC_VERSION;
  stem: StemSpec;
  blocks: BlockSpec[];
  head: HeadSpec;
}

export const ARCH_SPEC_VERSION = 1 as const;

/** Input shape in NHWC order without the batch dimension. */
export interface InputShape {
  height: number;
  width: number;
  channels: number;
}

/** Error for bad user input (block strings, shapes, values outside the space). */
export class SpaceError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'SpaceError';
  }
}
