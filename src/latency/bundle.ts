// The profiling suite as a downloadable bundle for devices that cannot run
// this process (phones, browsers): one .tflite per kernel, the reference and
// empty-model networks, and whole calibration networks, with a manifest.
// Devices measure it with any TFLite runtime and upload results (upload.ts).
//
// Two modes. full: every kernel of the space at the suite's inputs (an hour
// and more on a phone). quick: the stratified subset of those kernels
// (strata.ts: every class, kernel size, stride, activation and input) plus
// the calibration networks and MobileNetV2 presets, the networks measured spread among the kernels;
// the upload becomes a table transferred from a reference table of the same
// runtime family (transfer.ts), named in the manifest.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toWire } from '../space/archspec.ts';
import { expandNetwork } from '../space/network.ts';
import { createRng } from '../space/rng.ts';
import { sampleArch } from '../space/sampler.ts';
import { resolveArch } from '../space/resolve.ts';
import { tableHash } from './calibration.ts';
import { kernelMacs, kernelPlan, parseKernelKey } from './kernels.ts';
import { classCoverage, kernelsOfInputs, stratifiedSubset, type SubsetOptions, type TableKernel } from './strata.ts';
import { BASELINE_KERNEL, profileKernels, type ProfileTarget } from './profile.ts';
import { REFERENCE_ID, referencePlan } from './runtime.ts';
import { inputKey } from './predictor.ts';
import { planToTflite } from './runtimes/tflite-wasm.ts';
import { LATENCY_SPACE_VERSION, TableError, type LatencyTable } from './table.ts';

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
  /**
   * how to measure: warm-up, then rounds of (one batch of the model, then one of the reference, each lasting >= batchMs);
   * rounds whose reference ran more than referenceGate off the device's usual speed are set aside (absent or 0: none)
   */
  measure: { warmup: number; repeats: number; batchMs: number; referenceGate?: number; reference: string };
  reference: BundleModel;
  baseline: BundleModel;
  kernels: BundleModel[];
  networks: (BundleModel & { arch: ReturnType<typeof toWire> })[];
  /** absent: full */
  mode?: BundleMode;
  /** quick: the table the unmeasured kernels are transferred from */
  transfer?: { deviceId: string; tableHash: string };
  /** quick: every class of the suite's inputs (strata.ts); an upload must measure a kernel of each */
  classes?: string[];
}

export type BundleMode = 'full' | 'quick';
/**
 * Rounds, batch length and reference gate of each suite. Long batches: a phone (or a throttled page) runs
 * the page in slices, and a batch must span many of them for its time to be the sliced speed. In an
 * exploratory run on a 4x-throttled Chromium (the phone stand-in; AMD EPYC family 25 model 17), 40 networks
 * measured 3 times: the ratios of two passes agreed within ±10% for 98% of pairs with one 40 ms batch of
 * each per round (7 rounds), 96% with 20 ms (7 or 11 rounds), 85% with the former fastest of 5 batches of 4 ms.
 * The gate: the throttled page's speed jumps for seconds at a time (its effective throttling fell from 4x
 * to about 1.5x, 2.7x and 3.3x within one run: the batch times of held-out networks clustered at those
 * fractions of their expected time), and relative costs measured in such a stretch do not repeat. Rounds
 * whose reference batch ran more than 5% off the median of the last 200 are set aside. Exploratory runs
 * (24 networks, 7 rounds, same page, schemes interleaved, a training job on both cores): pairs of passes
 * within ±10%: 100% of 72 with the 5% gate, 79% with a 10% gate, 78% with none; then 92% with a 10% gate
 * against 67% with none. bench:latency's foreign-host section compares the schemes on every run.
 * The full suite (thousands of kernels) takes 20 ms batches, to stay within the better part of an
 * hour on a phone.
 */
export const MEASURE_SETTINGS: Readonly<Record<BundleMode, { repeats: number; batchMs: number; referenceGate: number }>> = {
  quick: { repeats: 7, batchMs: 40, referenceGate: 0.05 },
  full: { repeats: 9, batchMs: 20, referenceGate: 0.05 },
};
export const BUNDLE_MODES: readonly BundleMode[] = ['full', 'quick'];

export interface QuickBundleOptions {
  /** the table of a device of the same runtime family that the unmeasured kernels are transferred from */
  transferFrom: LatencyTable;
  subset?: SubsetOptions;
  /** at most this many kernels: a prefix of the stratified order (which reaches every class first) */
  maxKernels?: number;
  /** MobileNetV2 at widths 0.5 and 1.0 per input among the networks (default true) */
  presets?: boolean;
}

export interface BundleOptions {
  targets: ProfileTarget[];
  numClasses: number;
  maxKernelsPerTarget?: number;
  calibrationNetworks?: number;
  seed?: number;
  repeats?: number;
  /** write the quick suite (default: the full one) */
  quick?: QuickBundleOptions;
  /** settings of the quick suite served beside this full one (its transfer table comes from the service) */
  quickSuite?: Omit<QuickBundleOptions, 'transferFrom'> & { calibrationNetworks?: number };
}

const inputText = (t: ProfileTarget) => inputKey(t.input);

/** The quick suite's kernels: the stratified subset of the inputs' kernels, by the transfer table's latencies (MACs for a kernel it lacks). */
function quickKernels(opts: BundleOptions, q: QuickBundleOptions): { kernels: TableKernel[]; classes: string[] } {
  const all = kernelsOfInputs(opts.targets.map((t) => ({ input: inputText(t), numClasses: opts.numClasses })));
  const latency = (key: string) => q.transferFrom.entries[key]?.latencyMs ?? kernelMacs(parseKernelKey(key)) * 1e-9;
  const sub = stratifiedSubset(all, latency, q.subset);
  return { kernels: q.maxKernels === undefined ? sub : sub.slice(0, q.maxKernels), classes: classCoverage(all, new Set()).map((c) => c.cls) };
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
  const quick = opts.quick ? quickKernels(opts, opts.quick) : undefined;
  const kernels = (quick?.kernels ?? profileKernels(opts)).map((k) => write(k.key, kernelPlan(k.kernel, opts.numClasses)));
  const rng = createRng((opts.seed ?? 1) + 1_000_003);
  const networks: BundleManifest['networks'] = [];
  const nNet = opts.calibrationNetworks ?? 30;
  for (let i = 0; i < nNet; i++) {
    const t = opts.targets[i % opts.targets.length];
    const spec = sampleArch(t.skeleton, rng);
    const m = write(`net${i}`, expandNetwork(spec, t.input, opts.numClasses));
    networks.push({ ...m, arch: toWire(spec) });
  }
  if (opts.quick && (opts.quick.presets ?? true)) {
    for (const t of opts.targets) {
      for (const w of [0.5, 1]) {
        const spec = resolveArch('mobilenet-v2', { input: t.input, widthMultiplier: w });
        networks.push({ ...write(`mobilenet-v2@${w}@${inputText(t)}`, expandNetwork(spec, t.input, opts.numClasses)), arch: toWire(spec) });
      }
    }
  }
  const body = {
    format: BUNDLE_FORMAT as typeof BUNDLE_FORMAT, formatVersion: 1 as const, spaceVersion: LATENCY_SPACE_VERSION, createdAt: new Date().toISOString(), numClasses: opts.numClasses,
    inputs: opts.targets.map((t) => ({ skeleton: t.skeleton.name, input: inputText(t), kernels: kernels.length })),
    measure: { warmup: 5, ...MEASURE_SETTINGS[opts.quick ? 'quick' : 'full'], ...(opts.repeats !== undefined ? { repeats: opts.repeats } : {}), reference: REFERENCE_ID },
    reference, baseline, kernels, networks,
    ...(opts.quick && quick ? { mode: 'quick' as const, transfer: { deviceId: opts.quick.transferFrom.device.id, tableHash: tableHash(opts.quick.transferFrom) }, classes: quick.classes } : { mode: 'full' as const }),
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
