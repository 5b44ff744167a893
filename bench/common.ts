// Helpers shared by the speed benchmarks (bench/train.ts, bench/eval.ts):
// the PyTorch reference run (bench/torch_train.py), the result table with
// ratios to PyTorch at the same thread count, the machine line, and the
// replacement of one "## ..." section of BENCHMARKS.md.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { machineInfo } from '../src/cli/doctor.ts';
import { describeCpu, describeMachine } from '../src/latency/machine.ts';
import type { NetworkPlan } from '../src/space/network.ts';

export interface SpeedRow {
  engine: string;
  threads: number;
  imagesPerSec: number;
  steps: number;
  note: string;
}

export const TORCH_ENGINE = 'PyTorch CPU';

export interface TorchRunOptions {
  python: string;
  plan: NetworkPlan;
  batch: number;
  seconds: number;
  threads: number;
  /** 'train' (default) or 'eval' (model.eval(), torch.no_grad()) */
  mode?: 'train' | 'eval';
}

/** Runs bench/torch_train.py on the plan; a missing python or a failure gives a row with NaN and the reason. */
export function timeTorch(o: TorchRunOptions): SpeedRow {
  if (!existsSync(o.python)) {
    return { engine: TORCH_ENGINE, threads: o.threads, imagesPerSec: NaN, steps: 0, note: `${o.python} not found (apt-get install python3-torch)` };
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'nas-bench-'));
  const cfg = join(dir, 'plan.json');
  writeFileSync(cfg, JSON.stringify({ plan: o.plan, batch: o.batch, seconds: o.seconds, threads: o.threads, mode: o.mode ?? 'train' }));
  try {
    // same OpenMP environment as the fast path (GOMP_SPINCOUNT set by src/engine/native.ts unless the user set one)
    const out = execFileSync(o.python, [join(import.meta.dirname, 'torch_train.py'), cfg],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(o.threads) } });
    const res = JSON.parse(out.trim().split('\n').at(-1)!) as { imagesPerSec: number; steps: number; torch: string; params: number };
    console.log(`PyTorch ${o.mode ?? 'train'} (${o.threads} threads): ${res.imagesPerSec.toFixed(1)} images/s over ${res.steps} steps`);
    return { engine: TORCH_ENGINE, threads: o.threads, imagesPerSec: res.imagesPerSec, steps: res.steps, note: `torch ${res.torch}, ${res.params} trainable params` };
  } catch (e) {
    return { engine: TORCH_ENGINE, threads: o.threads, imagesPerSec: NaN, steps: 0, note: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

export function fmt(v: number): string {
  return !Number.isFinite(v) ? 'n/a' : v < 1 ? v.toPrecision(2) : v.toFixed(1);
}

/** Markdown table of the rows with images/s relative to the PyTorch row of the same thread count. */
export function speedTable(rows: SpeedRow[], stepsHeader = 'steps timed'): string {
  const torchAt = (t: number) => rows.find((r) => r.engine === TORCH_ENGINE && r.threads === t)?.imagesPerSec ?? NaN;
  const lines = [`| engine | threads | images/s | vs PyTorch (same threads) | ${stepsHeader} | note |`, '|---|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const ratio = r.imagesPerSec / torchAt(r.threads);
    const ratioText = !Number.isFinite(ratio) ? 'n/a' : ratio < 0.1 ? ratio.toPrecision(2) + 'x' : ratio.toFixed(2) + 'x';
    lines.push(`| ${r.engine} | ${r.threads} | ${fmt(r.imagesPerSec)} | ${ratioText} | ${r.steps} | ${r.note} |`);
  }
  return lines.join('\n');
}

/** "Machine: ..." line with the 1-minute load average before and after the run. */
export function machineLine(loadBefore: number, loadAfter: number): string {
  const m = machineInfo();
  return `Machine: ${describeCpu(describeMachine())}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; 1-minute load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after` +
    (Math.max(loadBefore, loadAfter) > 0.5 ? ' (other processes were running: figures are noisy)' : '');
}

/** Replaces the section starting at `heading` (up to the next "## ") in BENCHMARKS.md, or appends it. */
export function writeBenchmarksSection(heading: string, section: string): void {
  const path = join(import.meta.dirname, '..', 'BENCHMARKS.md');
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(heading);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + heading.length);
    text = text.slice(0, start) + section.trimEnd() + '\n' + (next >= 0 ? '\n' + text.slice(next + 1) : '');
  } else {
    text = text.trimEnd() + '\n\n' + section;
  }
  writeFileSync(path, text.endsWith('\n') ? text : text + '\n');
}

/** The value after `--name` on the command line, or `def`. */
export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** The command line as typed through npm, e.g. `npm run bench:eval -- --seconds 5`. */
export function commandLine(script: string): string {
  return `npm run ${script}${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
}
