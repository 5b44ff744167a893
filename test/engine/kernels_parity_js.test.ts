// Op-level parity of the fast path without the native addon (plain-JS
// gradient kernels, WASM BatchMatMul) against the tfjs CPU backend.
import { kernelParitySuite } from './kernel_parity_suite.ts';

kernelParitySuite('fast-js');
