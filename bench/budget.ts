// npm run bench:budget [-- --budgets 10,20,40 --dataset fashion-mnist --device node-tflite-wasm --target-ms 0.8
//                         --mode hard --strategy random --trials 40 --no-write]
//
// Budgets that hold, measured: the whole `nas run` job (search -> refine ->
// final training -> measurement -> export with verification) at each budget
// (`budgetMinutes`, what HTTP's `budget.maxWallTimeS` of a pipeline sets),
// with the product's defaults otherwise (proxy and final recipes, every
// export format). For each budget: the minutes each stage was planned at
// submission and the minutes it took (the job's own record, models.plan),
// the job's wall time from the call to its end, whether that is within the
// budget + 10%, and the cuts the run decided. The runs share one store, as
// a service's jobs do: the first budget plans with the default throughput
// estimate, each later one with the images/s the run before it measured.
// Replaces the "## Budgets that hold (bench:budget)" section of
// BENCHMARKS.md (not with --no-write); raw figures in bench/results/budget.json.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NasEvent } from '../src/app/events.ts';
import type { StoredPlan } from '../src/app/run-budget.ts';
import { PLAN_STAGES, type PlanStage } from '../src/app/run-plan.ts';
import { runRun } from '../src/app/run.ts';
import { dataPaths } from '../src/config/paths.ts';
import { describeCalibration, loadCalibratedPredictor } from '../src/latency/index.ts';
import type { StrategyName } from '../src/search/strategy.ts';
import { openDb } from '../src/store/db.ts';
import { getModel } from '../src/store/models.ts';
import { useTrainingBackend } from '../src/train/backend.ts';
import { arg, commandLine, machineLine, writeBenchmarksSection } from './common.ts';

const SECTION = '## Budgets that hold (bench:budget)';
const RESULTS = join(import.meta.dirname, 'results', 'budget.json');
const log = (s: string) => process.stderr.write(`[bench:budget ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

interface BudgetRow {
  budgetMinutes: number;
  status: string;
  error: string | null;
  /** the job's wall time, from the call to its end (dataset load and everything) */
  wallMinutes: number;
  planned: Record<PlanStage, number>;
  actual: Partial<Record<PlanStage, number>>;
  decisions: StoredPlan['decisions'];
  plannedCuts: StoredPlan['cuts'];
  throughput: { assumed: number; source: string; measured: number | null };
  testAccuracy: number | null;
  measuredLatencyMs: number | null;
  refinement: string;
  loadAvg: [number, number];
}

const fmtMin = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2));

function table(rows: BudgetRow[]): string {
  const head = ['budget (min)', ...PLAN_STAGES.map((k) => `${k} planned / actual`), 'stages total', 'job wall time', 'within +10%', 'status', 'test acc.', 'cuts made while running'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || i > PLAN_STAGES.length + 3 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const sum = PLAN_STAGES.reduce((s, k) => s + (r.actual[k] ?? 0), 0);
    const cuts = r.decisions.map((d) => `${d.what} ${d.planned} -> ${d.actual}`).join('; ') || 'none';
    lines.push(`| ${r.budgetMinutes} | ${PLAN_STAGES.map((k) => `${fmtMin(r.planned[k])} / ${fmtMin(r.actual[k])}`).join(' | ')} | ${fmtMin(sum)} | ${fmtMin(r.wallMinutes)}` +
      ` | ${r.wallMinutes <= 1.1 * r.budgetMinutes ? 'yes' : `no (+${(100 * (r.wallMinutes / r.budgetMinutes - 1)).toFixed(0)}%)`} | ${r.status}${r.error ? `: ${r.error.slice(0, 120)}` : ''}` +
      ` | ${r.testAccuracy === null ? '-' : `${(100 * r.testAccuracy).toFixed(2)}%`} | ${cuts} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const budgets = arg('budgets', '10,20,40').split(',').map(Number);
  if (budgets.some((b) => !(b > 0))) throw new Error(`--budgets must be positive minutes, got ${arg('budgets', '')}`);
  const dataset = arg('dataset', 'fashion-mnist');
  const deviceId = arg('device', 'node-tflite-wasm');
  const targetMs = Number(arg('target-ms', '0.8'));
  const mode = arg('mode', 'hard') as 'hard' | 'soft';
  const strategy = arg('strategy', 'random') as StrategyName;
  const maxTrials = Number(arg('trials', '40'));
  await useTrainingBackend();
  // the host calibration is measured once (then cached), before any budget's clock runs
  const predictor = await loadCalibratedPredictor(deviceId, { onProgress: log });
  log(`latency on ${deviceId}: ${describeCalibration(predictor.calibration)}`);
  const dir = mkdtempSync(join(tmpdir(), 'nas-bench-budget-'));
  const db = openDb(join(dir, 'bench.sqlite'));
  const rows: BudgetRow[] = [];
  const l0 = loadavg()[0];
  try {
    for (const budgetMinutes of budgets) {
      const lb = loadavg()[0];
      const t0 = Date.now();
      log(`nas run on ${dataset}, ${deviceId}, T = ${targetMs} ms (${mode}), budget ${budgetMinutes} min`);
      const r = await runRun({ dataset, deviceId, latencyTargetMs: targetMs, mode, budgetMinutes, seed: 1, search: { strategy, maxTrials } }, {
        deps: { db, predictor, outDir: join(dir, 'models'), datasetOptions: { cacheDir: dataPaths().datasets } },
        onEvent: (e: NasEvent) => {
          if (e.type === 'stage-changed') log(`  [${e.stage}]${e.detail ? ` ${e.detail}` : ''}`);
          else if (e.type === 'log') log(`  ${e.message}`);
        },
      });
      const wallMinutes = (Date.now() - t0) / 60_000;
      const plan = getModel(db, r.modelId).plan as StoredPlan;
      const refinement = r.card?.run?.refinement;
      rows.push({
        budgetMinutes, status: r.status, error: r.error, wallMinutes, planned: plan.minutes, actual: plan.actual, decisions: plan.decisions, plannedCuts: plan.cuts,
        throughput: { assumed: plan.imagesPerSec, source: plan.throughputSource, measured: plan.measuredImagesPerSec },
        testAccuracy: r.card?.run?.testAccuracy ?? null, measuredLatencyMs: r.measuredLatencyMs, refinement: refinement?.method ?? 'n/a', loadAvg: [lb, loadavg()[0]],
      });
      log(`budget ${budgetMinutes} min: ${r.status}, ${wallMinutes.toFixed(2)} min wall; planned ${PLAN_STAGES.map((k) => `${k} ${fmtMin(plan.minutes[k])}`).join(', ')}; actual ${PLAN_STAGES.map((k) => `${k} ${fmtMin(plan.actual[k])}`).join(', ')}`);
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ at: new Date().toISOString(), command: commandLine('bench:budget'), dataset, deviceId, targetMs, mode, strategy, maxTrials, rows }, null, 2)}\n`);
  const section = [
    SECTION, '',
    `Command: \`${commandLine('bench:budget')}\` (${new Date().toISOString().slice(0, 16)}Z)`, '',
    machineLine(l0, loadavg()[0]), '',
    `The whole \`nas run\` job on ${dataset}, device ${deviceId} (${describeCalibration(predictor.calibration)}), target ${targetMs} ms, ${mode} mode, ` +
      `${strategy} search of up to ${maxTrials} trials, the default proxy and final recipes and every export format, at each budget (\`budgetMinutes\`, HTTP \`budget.maxWallTimeS\` of a pipeline). ` +
      'Planned: the minutes the plan gave each stage at submission (src/app/run-plan.ts); actual: the minutes the stage took (the job\'s record in models.plan); ' +
      'job wall time: from the call to its end, all included. The runs share one store: the first plans with the default throughput estimate, each later one with the images/s the run before measured.',
    '',
    table(rows), '',
    ...rows.map((r) => `- ${r.budgetMinutes} min: refinement ${r.refinement}; throughput assumed ${r.throughput.assumed.toFixed(0)} images/s (${r.throughput.source}), final training measured ${r.throughput.measured === null ? '-' : r.throughput.measured.toFixed(0)} images/s; ` +
      `planned cuts: ${r.plannedCuts.map((c) => `${c.what} ${c.from} -> ${c.to}`).join('; ') || 'none'}; load ${r.loadAvg[0].toFixed(2)} -> ${r.loadAvg[1].toFixed(2)}`),
    '', 'Raw figures: `bench/results/budget.json`.',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!process.argv.includes('--no-write')) writeBenchmarksSection(SECTION, section);
}

main().catch((e) => {
  process.stderr.write(`bench:budget failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
