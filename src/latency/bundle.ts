// The profiling suite as a downloadable bundle for devices that cannot run
// this process (phones, browsers): one .tflite per kernel, the reference and
// empty-model networks, and whole calibration networks, with a manifest.
// Devices measure it with any TFLite runtime and upload results (upload.ts).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toWire } from '../space/archspec.ts';
import { expandNetwork } from '../space/network.ts';
import { createRng } from '../space/rng.ts';
import { sampleArch } from '../space/sampler.ts';
import { kernelPlan } from './kernels.ts';
import { BASELINE_KERNEL, profileKernels, type ProfileTarget } from './profile.ts';
import { REFERENCE_ID, referencePlan } from './runtime.ts';
import { planToTflite } from './runtimes/tflite-wasm.ts';
import { LATENCY_SPACE_VERSION, TableError } from './table.ts';

export const BUNDLE_FORMAT = 'nas-profile-bundle';

export interface BundleModel {
  /** kernel key, network arch id, 'reference' or 'baseline' */
  id: string;
  file: string;
  /** NHWC input without batch */
  input: [number, number, number];
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: 1;
  bundleId: string;
  spaceVersion: string;
  createdAt: string;
  numClasses: number;
  inputs: { skeleton: string; input: string; kernels: number }[];
  /** how to measure: warm-up, then rounds of (best of 3 batches of the model, best of 3 batches of the reference) */
  measure: { warmup: number; repeats: number; batchMs: number; reference: string };
  reference: BundleModel;
  baseline: BundleModel;
  kernels: BundleModel[];
  networks: (BundleModel & { arch: ReturnType<typeof toWire> })[];
}

export interface BundleOptions {
  targets: ProfileTarget[];
  numClasses: number;
  maxKernelsPerTarget?: number;
  calibrationNetworks?: number;
  seed?: number;
  repeats?: number;
}

/** Writes the bundle into `dir` and returns its manifest. */
export function writeBundle(dir: string, opts: BundleOptions): BundleManifest {
  mkdirSync(join(dir, 'models'), { recursive: true });
  let n = 0;
  const write = (id: string, plan: ReturnType<typeof referencePlan>): BundleModel => {
    const file = `models/${String(n++).padStart(5, '0')}.tflite`;
    writeFileSync(join(dir, file), planToTflite(plan));
    return { id, file, input: [plan.input.height, plan.input.width, plan.input.channels] };
  };
  const reference = write('reference', referencePlan());
  const baseline = write('baseline', kernelPlan({ ...BASELINE_KERNEL }));
  const kernels = profileKernels(opts).map((k) => write(k.key, kernelPlan(k.kernel, opts.numClasses)));
  const rng = createRng((opts.seed ?? 1) + 1_000_003);
  const networks: BundleManifest['networks'] = [];
  const nNet = opts.calibrationNetworks ?? 30;
  for (let i = 0; i < nNet; i++) {
    const t = opts.targets[i % opts.targets.length];
    const spec = sampleArch(t.skeleton, rng);
    const m = write(`net${i}`, expandNetwork(spec, t.input, opts.numClasses));
    networks.push({ ...m, arch: toWire(spec) });
  }
  const body = {
    format: BUNDLE_FORMAT as typeof BUNDLE_FORMAT, formatVersion: 1 as const, spaceVersion: LATENCY_SPACE_VERSION, createdAt: new Date().toISOString(), numClasses: opts.numClasses,
    inputs: opts.targets.map((t) => ({ skeleton: t.skeleton.name, input: `${t.input.height}x${t.input.width}x${t.input.channels}`, kernels: kernels.length })),
    measure: { warmup: 5, repeats: opts.repeats ?? 9, batchMs: 2, reference: REFERENCE_ID },
    reference, baseline, kernels, networks,
  };
  const bundleId = createHash('sha256').update(JSON.stringify({ ...body, createdAt: '' })).digest('hex').slice(0, 16);
  const manifest: BundleManifest = { ...body, bundleId };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

export function readBundleManifest(dir: string): BundleManifest {
  let m: BundleManifest;
  try {
    m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  } catch (e) {
    throw new TableError(`${dir}: no readable bundle manifest (${(e as Error).message})`);
  }
  if (m.format !== BUNDLE_FORMAT) throw new TableError(`${dir}: not a profiling bundle`);
  if (m.spaceVersion !== LATENCY_SPACE_VERSION) throw new TableError(`${dir}: bundle is for search space version "${m.spaceVersion}", this build uses "${LATENCY_SPACE_VERSION}"`, 409);
  return m;
}
