// Op-level parity of the fast path with the native addon (JS kernels if the
// addon is not built) against the tfjs CPU backend.
import { kernelParitySuite } from './kernel_parity_suite.ts';

kernelParitySuite('fast');
