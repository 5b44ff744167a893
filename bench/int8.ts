// bench:int8 — int8 post-training quantization on *trained* networks of
// every preset. The export tests run presets with untrained weights (thin
// decision margins); this bench trains each preset's small-input variant on
// Fashion-MNIST with the main job (`nas pipeline`: proxy training, then
// float32/int8/TF.js export verified in the TFLite interpreter) and reports
// the int8-vs-float top-1 agreement and accuracy drop on validation images.
//
//   npm run bench:int8 [-- --epochs 2 --subset 20000 --presets mobilenet-v2,mnasnet-a1 --no-write]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo } from '../src/cli/doctor.ts';
import { presetNames } from '../src/space/presets.ts';
import { commandLine, writeBenchmarksSection } from './common.ts';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    subset: { type: 'string', default: '20000' },
    width: { type: 'string', default: '0.5' },
    presets: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});

interface Verification { samples: number; top1Agreement: number; referenceAccuracy?: number; tfliteAccuracy?: number; accuracyDrop?: number; maxAbsDiff: number; passed: boolean; criterion: string }
interface Failed { preset: string; error: string }
interface Row { preset: string; archId: string; valAccuracy: number; trainS: number; float: Verification; int8: Verification; full: Verification; int8Ms?: number; floatMs?: number }

const HEADING = '## int8 quantization of trained presets (bench:int8)';
const presets = args.presets ? args.presets.split(',') : presetNames();
const rows: Row[] = [];
const failed: Failed[] = [];
const load = os.loadavg()[0];
const t0 = Date.now();
for (const preset of presets) {
  const out = mkdtempSync(join(os.tmpdir(), 'bench-int8-'));
  // Width multiplier for the presets that take one (proxy-small is already small; EfficientNet scales by compound scaling).
  const width = preset === 'proxy-small' || preset === 'efficientnet-b0' ? [] : ['--width', args.width];
  const cmd = ['bin/nas.js', 'pipeline', '--arch', preset, ...width, '--dataset', 'fashion-mnist', '--epochs', args.epochs, '--subset', args.subset, '--out', out];
  console.log(`$ node ${cmd.join(' ')}`);
  const t = Date.now();
  let stderr = '';
  try {
    execFileSync(process.execPath, cmd, { stdio: ['ignore', 'inherit', 'pipe'], cwd: join(import.meta.dirname, '..'), encoding: 'utf8' });
  } catch (e) {
    // verification failures exit 1 but still write pipeline.json; other failures are reported as a row
    stderr = String((e as { stderr?: string }).stderr ?? '');
    process.stderr.write(stderr);
  }
  const dirs = readdirSync(out);
  if (dirs.length !== 1) {
    const line = stderr.split('\n').find((l) => /error/i.test(l)) ?? 'no result written';
    failed.push({ preset, error: line.trim().slice(0, 200) });
    rmSync(out, { recursive: true, force: true });
    continue;
  }
  const s = JSON.parse(readFileSync(join(out, dirs[0], 'pipeline.json'), 'utf8'));
  // The same trained weights exported full-integer (int8 graph I/O, int8 classifier and softmax).
  const full = ['bin/nas.js', 'export', '--arch', s.archText, '--input', '28x28x1', '--classes', '10', '--weights', join(out, dirs[0], 'weights'),
    '--format', 'tflite-int8', '--int8-io', '--verify', '--dataset', 'fashion-mnist', '--calib', '64', '--out', join(out, 'full-int8'), '--json'];
  console.log(`$ node ${full.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
  let fullCard: { verification: Verification };
  try {
    fullCard = JSON.parse(execFileSync(process.execPath, full, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], cwd: join(import.meta.dirname, '..') }));
  } catch (e) {
    // a failed verification exits 1 with the card on stdout
    fullCard = JSON.parse((e as { stdout: string }).stdout);
  }
  rows.push({
    preset, archId: s.archId, valAccuracy: s.accuracy.validation, trainS: (Date.now() - t) / 1000,
    float: s.exports.tflite.verification, int8: s.exports['tflite-int8'].verification, full: fullCard.verification,
    floatMs: s.exports.tflite.measuredLatency?.latencyMs, int8Ms: s.exports['tflite-int8'].measuredLatency?.latencyMs,
  });
  rmSync(out, { recursive: true, force: true });
}

const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const table = [
  '| preset | arch id | validation acc. (training) | float32 .tflite max abs diff vs tfjs | int8 (float head) top-1 agreement with float32 | float32 acc. | int8 acc. | drop | int8 criterion | full-integer int8 agreement / acc. | float32 / int8 latency (ms) |',
  '|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ...rows.map((r) => `| ${r.preset} | ${r.archId} | ${pct(r.valAccuracy)} | ${r.float.maxAbsDiff.toExponential(1)} | ${pct(r.int8.top1Agreement)} (n=${r.int8.samples}) | ${pct(r.int8.referenceAccuracy)} | ${pct(r.int8.tfliteAccuracy)} | ${r.int8.accuracyDrop === undefined ? 'n/a' : (100 * r.int8.accuracyDrop).toFixed(1) + ' pt'} | ${r.int8.passed ? 'passed' : 'FAILED'} | ${pct(r.full.top1Agreement)} / ${pct(r.full.tfliteAccuracy)} | ${r.floatMs?.toFixed(2) ?? 'n/a'} / ${r.int8Ms?.toFixed(2) ?? 'n/a'} |`),
].join('\n');
const m = machineInfo();
const section = [
  HEADING,
  '',
  `Command: \`${commandLine('bench:int8')}\` (${new Date().toISOString().slice(0, 16)}Z, ${((Date.now() - t0) / 60000).toFixed(1)} min)`,
  '',
  `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; 1-minute load average ${load.toFixed(2)} at start.`,
  '',
  `Each preset's small-input variant (width ${args.width}, except proxy-small and efficientnet-b0 at width 1) is trained by the main job (\`nas pipeline --arch <preset> --dataset fashion-mnist ` +
    `--epochs ${args.epochs} --subset ${args.subset}\`) and exported: float32 .tflite compared with tfjs (criterion max abs diff <= 1e-4); int8 ` +
    '(per-channel conv weights, per-tensor activations calibrated on 64 training images; float32 graph I/O with a float classifier head: DEQUANTIZE of the pooled ' +
    `features, float FULLY_CONNECTED and SOFTMAX) compared with the float32 .tflite in the same interpreter on 500 validation images (criterion: ${rows[0]?.int8.criterion ?? 'n/a'}); ` +
    'the same weights exported full-integer (`nas export --format tflite-int8 --int8-io`: int8 I/O, int8 classifier and softmax) and compared the same way. ' +
    'Accuracies are on those validation images; latency is the interpreter median (1 thread, wall) of the float-head int8 file.',
  '',
  table,
  '',
  ...failed.map((f) => `- ${f.preset}: the main job failed before export: \`${f.error}\``),
  ...(failed.length > 0 ? [''] : []),
].join('\n');
console.log('\n' + table);
if (!args['no-write']) {
  writeBenchmarksSection(HEADING, section);
  console.log(`\nwrote BENCHMARKS.md section "${HEADING}"`);
}
