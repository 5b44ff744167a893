// Op-level parity of the fast path with the native addon against the tfjs
// CPU backend. Without the addon the cases run on JS kernels, which is a
// failure where the addon can be built (CI=true, or g++ and libdnnl-dev
// installed; see nativeAddonRequired) and a visible skip elsewhere.
import { kernelParitySuite } from './kernel_parity_suite.ts';

kernelParitySuite('fast');
