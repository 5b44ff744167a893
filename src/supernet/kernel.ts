// Elastic kernel size (Once-for-All, Cai et al. 2020, sec. 3.3): one 7x7
// master kernel per layer serves the 7, 5 and 3 choices. The 5x5 kernel is
// the master's centre 5x5 passed through a learned 25x25 transform; the 3x3
// is the centre 3x3 of that 5x5 passed through a learned 9x9 transform. The
// transforms are shared by every channel (pair) of the layer and start as the
// identity, so at initialisation a small kernel is exactly the master's
// centre. Because the centre is shared, training one size also moves the
// others; the transforms let each size keep a distribution of its own.
//
// Kernels are laid out [k, k, ...rest] (tfjs: [k, k, in, out] for a conv,
// [k, k, channels, 1] for a depthwise); the transform acts on the k x k
// spatial positions, flattened row-major.

import * as tf from '@tensorflow/tfjs';

export const KERNEL_SIZES = [3, 5, 7] as const;

export interface KernelTransforms {
  /** 7 -> 5: [25, 25] */
  t75: tf.Tensor2D;
  /** 5 -> 3: [9, 9] */
  t53: tf.Tensor2D;
}

/** The centre k x k of a [K, K, ...] kernel. */
export function centre(kernel: tf.Tensor, k: number): tf.Tensor {
  const K = kernel.shape[0]!;
  const o = (K - k) / 2;
  if (!Number.isInteger(o) || o < 0) throw new RangeError(`cannot take a ${k}x${k} centre of a ${K}x${K} kernel`);
  if (o === 0) return kernel;
  return tf.slice(kernel, [o, o, ...kernel.shape.slice(2).map(() => 0)], [k, k, ...kernel.shape.slice(2)]);
}

/** v' = v T for every spatial vector v of a [k, k, ...rest] kernel (T is [k*k, k*k]). */
export function transformSpatial(kernel: tf.Tensor, t: tf.Tensor2D): tf.Tensor {
  const [k] = kernel.shape as [number];
  const rest = kernel.shape.slice(2);
  const flat = tf.reshape(kernel, [k * k, rest.reduce((a, b) => a * b, 1)]);
  return tf.reshape(tf.matMul(t, flat, true, false), kernel.shape);
}

/**
 * The effective k x k kernel of a 7x7 master (channels already sliced): 7 as is,
 * 5 = T75(centre5(master)), 3 = T53(centre3(T75(centre5(master)))).
 */
export function elasticKernel(master: tf.Tensor, k: number, t: KernelTransforms): tf.Tensor {
  if (master.shape[0] !== 7 || master.shape[1] !== 7) throw new RangeError(`elastic kernels need a 7x7 master, got ${master.shape[0]}x${master.shape[1]}`);
  if (!(KERNEL_SIZES as readonly number[]).includes(k)) throw new RangeError(`kernel size ${k} is not one of ${KERNEL_SIZES.join(', ')}`);
  if (k === 7) return master;
  const k5 = transformSpatial(centre(master, 5), t.t75);
  return k === 5 ? k5 : transformSpatial(centre(k5, 3), t.t53);
}
