// The overhead model with one kernel-sum slope per input: fitted only when
// every network names its input and each of >= 2 inputs has enough networks;
// a quick upload tries it beside the single slope and keeps whichever
// predicts the device's own networks better (leave-one-out: the larger share
// within ±10%, then the lower mean error), so a device on which one input's
// networks run slower than their kernels imply is predicted right at both
// inputs.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shippedPaths } from '../../src/config/paths.ts';
import { writeBundle } from '../../src/latency/bundle.ts';
import { applyOverhead, createPredictor, inputKey } from '../../src/latency/predictor.ts';
import { canFitPerInput, fitOverhead, type CalibrationPoint } from '../../src/latency/profile.ts';
import { loadTable, validateTable } from '../../src/latency/table.ts';
import { resultsToTable, type ProfileResults, type QuickTableInput } from '../../src/latency/upload.ts';
import { adaptedTable, bestAdaptedTable } from '../../src/latency/adapted-table.ts';
import { fromWire } from '../../src/space/archspec.ts';
import { createRng } from '../../src/space/rng.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { skeletonFor } from '../../src/space/skeleton.ts';
import type { InputShape } from '../../src/space/types.ts';

const SMALL: InputShape = { height: 28, width: 28, channels: 1 };
const CIFAR: InputShape = { height: 32, width: 32, channels: 3 };

/** Networks whose time is slope(input) x kernel sum + 0.02 ms per kernel + 0.1 ms. */
function points(slopes: Record<string, number>, perInput: number, seed = 3): CalibrationPoint[] {
  const rng = createRng(seed);
  return Object.entries(slopes).flatMap(([input, slope]) => Array.from({ length: perInput }, () => {
    const kernelSumMs = 1 + 30 * rng.next();
    const nKernels = 20 + Math.floor(40 * rng.next());
    return { input, kernelSumMs, nKernels, outMelems: 0.1 * rng.next(), measuredMs: slope * kernelSumMs + 0.02 * nKernels + 0.1 };
  }));
}

const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;

/**
 * A quick suite at 28x28x1 and 32x32x3 and a device's upload for it: every kernel 2x its transfer-table
 * time relative to the reference; whole networks 2x their transfer-table prediction, and `lean28` x that
 * again at 28x28x1.
 */
function quickUpload(lean28: number) {
  const transferFrom = loadTable('node-tflite-wasm', shippedPaths.latencyTables);
  const source = createPredictor(transferFrom);
  const refMs = transferFrom.measure.referenceMs;
  const deviceRatio = (arch: ReturnType<typeof fromWire>, input: InputShape) => 2 * (source.predict(arch, input, 10).latencyMs / refMs) * (inputKey(input) === '28x28x1' ? lean28 : 1);
  const targets = [SMALL, CIFAR].map((input) => ({ skeleton: skeletonFor(input), input }));
  const quick = writeBundle(mkdtempSync(join(tmpdir(), 'bundle-per-input-')), { targets, numClasses: 10, calibrationNetworks: 16, repeats: 5, quick: { transferFrom, maxKernels: 30, presets: false } });
  const models: ProfileResults['models'] = {};
  for (const m of [quick.reference, quick.baseline, ...quick.kernels, ...quick.networks]) {
    const net = quick.networks.find((n) => n.id === m.id);
    const ratio = m.id === 'reference' ? 1 : m.id === 'baseline' ? 0.05
      : net ? deviceRatio(fromWire(net.arch), { height: net.input[0], width: net.input[1], channels: net.input[2] })
        : 2 * transferFrom.entries[m.id].latencyMs / refMs;
    const ms = 0.2 * ratio;
    models[m.id] = { samplesMs: [ms, ms * 1.01, ms, ms * 0.99, ms], ...(m.id === 'reference' ? {} : { referenceMs: [0.2, 0.2, 0.2, 0.2, 0.2] }) };
  }
  const upload: ProfileResults = { format: 'nas-profile-results', formatVersion: 1, bundleId: quick.bundleId, device: { id: 'phone-two-inputs', name: 'x', runtime: 'tflite-browser', runtimeVersion: 'b', threads: 1, cpu: 'arm' }, models };
  return { quick, upload, transferFrom, deviceRatio };
}

describe('overhead model: a slope per input', () => {
  it('recovers each input\'s slope where one slope for both is off; refuses points that cannot support it', () => {
    const pts = points({ '28x28x1': 1.0, '32x32x3': 1.3 }, 10);
    const per = fitOverhead(pts, { perInput: true });
    assert.ok(per.slopeByInput, 'the model carries its slopes by input');
    assert.ok(Math.abs(per.slopeByInput['28x28x1'] - 1.0) < 0.01 && Math.abs(per.slopeByInput['32x32x3'] - 1.3) < 0.01, JSON.stringify(per));
    const errs = (m: ReturnType<typeof fitOverhead>) => pts.map((p) => Math.abs(applyOverhead(m, 0, p.kernelSumMs, p.nKernels, p.outMelems, p.input) / p.measuredMs - 1));
    assert.ok(Math.max(...errs(per)) < 0.01, `per-input worst error ${Math.max(...errs(per))}`);
    const one = fitOverhead(pts);
    assert.equal(one.slopeByInput, undefined, 'the default fit has one slope');
    assert.ok(share(errs(one).map((e) => e > 0.05)) > 0.5, `one slope should be off for most: ${errs(one).map((e) => e.toFixed(3))}`);
    // an input the model has no slope for (or no input named) uses the mean slope
    assert.equal(applyOverhead(per, 0, 10, 30, 0, '64x64x3'), applyOverhead(per, 0, 10, 30, 0));
    // not enough networks at one input, one input only, or a network without its input: no per-input fit
    assert.equal(canFitPerInput(points({ '28x28x1': 1, '32x32x3': 1.3 }, 5)), false, 'five networks per input are too few');
    assert.equal(canFitPerInput(points({ '28x28x1': 1 }, 12)), false, 'one input');
    assert.equal(canFitPerInput([...pts, { measuredMs: 1, kernelSumMs: 1, nKernels: 1, outMelems: 0 }]), false, 'a point without its input');
    assert.throws(() => fitOverhead(points({ '28x28x1': 1 }, 12), { perInput: true }), /a slope per input needs >= 2 inputs with >= 6 networks each/);
  });

  it('a table carrying slopes by input validates; malformed slopes are refused naming the field', () => {
    const t = loadTable('node-tflite-wasm', shippedPaths.latencyTables);
    const withSlopes = { ...t, overhead: { ...t.overhead!, slopeByInput: { '28x28x1': 1.1, '32x32x3': 0.9 } } };
    assert.doesNotThrow(() => validateTable(withSlopes, 'test'));
    assert.throws(() => validateTable({ ...t, overhead: { ...t.overhead!, slopeByInput: { '28x28x1': 'fast' } } }, 'test'), /"overhead\.slopeByInput" must map inputs/);
    assert.throws(() => validateTable({ ...t, overhead: { ...t.overhead!, slopeByInput: { small: 1 } } }, 'test'), /"overhead\.slopeByInput" must map inputs/);
  });

  it('a quick upload whose 28x28x1 networks run 1.3x their kernels keeps a slope per input and predicts both inputs within 10%', () => {
    const { quick, upload, transferFrom, deviceRatio } = quickUpload(1.3);
    const t = resultsToTable(quick, upload, { transferFrom });
    assert.deepEqual(Object.keys(t.overhead?.slopeByInput ?? {}).sort(), ['28x28x1', '32x32x3'], 'the upload keeps a slope per input');
    assert.match(t.provenance!.transfer!.chosenBy!, /overhead model with a slope per input \(one slope and a slope per input both tried\)/);
    // held-out random networks of both inputs, predicted by the table (in reference units) against the device
    const p = createPredictor(t);
    const single = createPredictor({ ...t, overhead: fitOverhead(quick.networks.map((n) => {
      const input = { height: n.input[0], width: n.input[1], channels: n.input[2] };
      const pk = createPredictor({ ...t, overhead: null }).predict(fromWire(n.arch), input, 10);
      return { measuredMs: 0.2 * deviceRatio(fromWire(n.arch), input) * (t.measure.referenceMs / 0.2), kernelSumMs: pk.kernelSumMs, nKernels: pk.kernels.length, outMelems: pk.outMelems };
    })) });
    const rng = createRng(99);
    const within = (pred: typeof p) => [SMALL, CIFAR].flatMap((input) => Array.from({ length: 10 }, () => {
      const arch = sampleArch(skeletonFor(input), rng);
      return Math.abs((pred.predict(arch, input, 10).latencyMs / t.measure.referenceMs) / deviceRatio(arch, input) - 1) <= 0.1;
    }));
    const perInput = share(within(p));
    const oneSlope = share(within(single));
    assert.ok(perInput >= 0.9, `a slope per input: ${perInput} of held-out networks within 10%`);
    assert.ok(oneSlope < perInput, `one slope (${oneSlope}) should do worse than a slope per input (${perInput})`);
  });

  it('choosing the build: the larger share within ±10% first; on a tie the lower mean error, not the simpler model', () => {
    const { quick, upload, transferFrom } = quickUpload(1.04);
    let input: QuickTableInput | undefined;
    resultsToTable(quick, upload, { transferFrom, build: (inp) => adaptedTable((input = inp)) });
    assert.ok(input && canFitPerInput(input.networks.map((n) => ({ measuredMs: n.measuredMs, kernelSumMs: 1, nKernels: 1, outMelems: 0, input: n.input }))), 'the quick networks allow a slope per input');
    // scores that tell the two overhead models apart by (share, mean error) only
    const pick = (perInput: { within10: number; meanAbsErr: number }, one: { within10: number; meanAbsErr: number }) =>
      bestAdaptedTable(input!, (t) => (t.overhead?.slopeByInput ? perInput : one));
    const slopes = (t: ReturnType<typeof pick>) => (t.overhead?.slopeByInput ? 'per input' : 'one');
    assert.equal(slopes(pick({ within10: 0.9, meanAbsErr: 0.03 }, { within10: 0.9, meanAbsErr: 0.04 })), 'per input', 'a tie on the share goes to the lower mean error');
    assert.equal(slopes(pick({ within10: 0.9, meanAbsErr: 0.05 }, { within10: 0.9, meanAbsErr: 0.04 })), 'one', 'a tie on the share goes to the lower mean error');
    assert.equal(slopes(pick({ within10: 0.95, meanAbsErr: 0.06 }, { within10: 0.9, meanAbsErr: 0.04 })), 'per input', 'the share comes first');
    const t = pick({ within10: 0.9, meanAbsErr: 0.03 }, { within10: 0.9, meanAbsErr: 0.04 });
    assert.match(t.provenance!.transfer!.chosenBy!, /within ±10% \(leave-one-out\), then their mean error/);
    // the upload's own choice records the mean error it chose by
    const own = resultsToTable(quick, upload, { transferFrom });
    const e = own.provenance!.expectedAccuracy!;
    assert.ok(e.meanAbsErr !== undefined && e.meanAbsErr >= 0 && e.meanAbsErr < 0.2, JSON.stringify(e));
  });
});
