// Op-level parity of the fast path (WASM + native addon kernels) against the
// tfjs CPU backend: every conv/depthwise configuration of the search space,
// forward and both gradients, plus the replaced Tile/Sum/Mean kernels.

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type BackendChoice, initBackend } from '../../src/engine/backend.ts';
import { fastBackendInfo } from '../../src/engine/fast_backend.ts';
import { compare, convCases, convForwardAndGrads, label } from './parity_cases.ts';

const DNNL_HEADERS = ['/usr/include/oneapi/dnnl/dnnl.h', '/usr/local/include/oneapi/dnnl/dnnl.h'];

/**
 * Why the native addon must be in use on this machine, or null when a JS
 * fallback is legitimate: under CI (CI=true, where scripts/setup.sh installs
 * the build packages) or wherever its build packages are present (a C++
 * compiler on PATH and the oneDNN header of Debian's libdnnl-dev), the addon
 * should have been built by `npm ci`, so a missing one is a failure.
 */
export function nativeAddonRequired(): string | null {
  if (process.env.CI === 'true') return 'CI=true';
  const cxx = process.env.CXX || 'g++';
  const onPath = cxx.includes('/') ? existsSync(cxx) : (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, cxx)));
  const header = DNNL_HEADERS.find((h) => existsSync(h));
  return onPath && header ? `${cxx} and ${header} are installed` : null;
}

/** Defines the suite for 'fast' (native addon when built) or 'fast-js' (JS kernels). */
export function kernelParitySuite(choice: BackendChoice & ('fast' | 'fast-js')): void {
describe(`${choice} path kernels match the tfjs cpu backend`, () => {
  before(async () => {
    await initBackend({ backend: choice });
  });

  for (const c of convCases()) {
    it(`${label(c)}: forward, dx, dW`, async () => {
      await compare(label(c), 'wasm', convForwardAndGrads(c));
    });
  }

  it('broadcast Tile, outer-axis Sum and Mean, and their general cases', async () => {
    await compare('reductions', 'wasm', () => {
      const x = tf.randomNormal([4, 5, 6, 7], 0, 1, 'float32', 3);
      const v = tf.randomNormal([1, 1, 1, 7], 0, 1, 'float32', 4);
      return [
        tf.tile(v, [2, 3, 4, 1]), tf.tile(x, [1, 2, 1, 2]),
        x.sum([0, 1, 2]), x.mean([0, 1, 2], true), x.sum(0), x.mean([0, 1]), x.sum([1, 2]), x.mean(-1), x.sum(),
      ];
    });
  });

  if (choice === 'fast') {
    // Not a silent fallback: where the addon can be built, running these cases on JS kernels is a failure.
    const required = nativeAddonRequired();
    it('the native addon is loaded', (t) => {
      const info = fastBackendInfo();
      assert.ok(info, 'fast backend installed');
      if (!info.native && required === null) {
        t.skip(`${info.nativeReason}; its build packages (g++, libdnnl-dev) are absent, so the cases above ran on JS kernels`);
        return;
      }
      assert.ok(info.native, `the native addon is not in use although it should be (${required}): ${info.nativeReason}; build it with npm run build:native`);
    });
  }

  it('the project kernels actually ran', () => {
    const info = fastBackendInfo();
    assert.ok(info, 'fast backend installed');
    const { native, js, matmul } = info.stats;
    if (choice === 'fast-js' || !info.native) assert.ok(js > 0 && native === 0, `js kernels ran (${js}), native did not (${native})`);
    else assert.ok(native > 0 && matmul === 0, `native kernels ran (${native})`);
  });
});
}
