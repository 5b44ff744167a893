// The dashboard in a real headless Chromium (playwright-core, Debian's
// /usr/bin/chromium) against `nas serve`'s service on an ephemeral port with
// a temporary data directory: the key is entered once (kept in
// localStorage), the device field defaults to the local TFLite device (not
// the alphabetically first) and then to the user's last choice, the whole
// `nas run` is started from the form on tiny data (synthetic, 2 trials,
// node-tflite-wasm, generous target, a 30-minute budget) and runs for real
// (search, final training, export, measurement); the page follows it live
// (SSE) until it shows as done, showing each stage's progress bar, task and
// stage/job ETA on the way, the time plan, its trial table, plots and a
// model whose .tflite downloads from its card. The evaluator field: without a
// trained supernet of the chosen dataset its supernet choices are disabled
// with a hint how to train one; with one they are offered, the choice is
// sent as `evaluator`, and the server's 409 supernet_unavailable is shown as
// such. Screenshots go to test-artifacts/ (gitignored); one is copied
// to docs/dashboard.png for the README.
// Under CI (CI=true) a missing Chromium fails this test instead of skipping it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';
import { startService } from '../../src/cli/serve.ts';
import { createLogger } from '../../src/http/logger.ts';
import { insertSupernet, updateSupernet } from '../../src/store/supernets.ts';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = 'nas_browser-test-admin-0123456789abcdef';
const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' && `${CHROMIUM} not installed`;

type Service = Awaited<ReturnType<typeof startService>>;
type Page = import('playwright-core').Page;

/** `nas serve` on an ephemeral port with a fresh data directory, a user key entered in a Chromium page that records errors. */
async function withDashboard(fn: (x: { svc: Service; page: Page; userKey: string; pageErrors: string[] }) => Promise<void>): Promise<void> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is not installed (apt-get install chromium; listed in scripts/apt-packages.txt)`);
  const { chromium } = await import('playwright-core');
  const dataDir = mkdtempSync(join(tmpdir(), 'nas-dashboard-'));
  const svc = await startService({ dataDir, port: 0, host: '127.0.0.1', adminToken: ADMIN, logger: createLogger({ level: 'silent' }) });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  const pageErrors: string[] = [];
  try {
    const keyRes = await fetch(`${svc.url}v1/keys`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'browser' }) });
    const userKey = ((await keyRes.json()) as { token: string }).token;
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => { if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`); });
    // the key is entered once in the page's form
    await page.goto(svc.url);
    await page.fill('#api-key', userKey);
    await page.click('#save-key');
    await page.waitForSelector('#key-status:text("key accepted")');
    await fn({ svc, page, userKey, pageErrors });
  } finally {
    await browser.close();
    await svc.queue.idle();
    await svc.close();
  }
}

describe('dashboard (headless Chromium)', () => {
  it('enters the key, starts a whole run from the form, follows it live until done, shows trials, plots and a downloadable model', {
    skip, timeout: 300_000,
  }, () => withDashboard(async ({ svc, page, userKey, pageErrors }) => {
    // the key is kept: a reload needs no typing
    await page.reload();
    await page.waitForSelector('#key-status:text("key accepted")');
    await page.waitForSelector('#device-rows tr[data-device-id="node-tflite-wasm"]');
    assert.match(await page.textContent('#device-rows tr[data-device-id="node-tflite-wasm"]') ?? '', /32x32x3 \(small-32\): [\d,]+ kernels/);

    // the device field: the local TFLite device by default (the alphabetically first is node-tfjs-wasm), then the user's last choice
    const deviceValue = async () => {
      await page.waitForFunction(() => (document.querySelector('#f-device') as HTMLSelectElement).value !== '');
      return page.inputValue('#f-device');
    };
    assert.equal(await page.textContent('#f-device option:first-child'), 'node-tfjs-wasm (tfjs-wasm)');
    assert.equal(await deviceValue(), 'node-tflite-wasm');
    await page.selectOption('#f-device', 'node-tfjs-wasm');
    await page.reload();
    await page.waitForSelector('#device-rows tr[data-device-id="node-tflite-wasm"]');
    assert.equal(await deviceValue(), 'node-tfjs-wasm', 'the last choice is remembered');

    // every state the stage line shows, recorded as it changes (a MutationObserver misses none); a string, so
    // the test's TypeScript transform adds no helper the page lacks
    await page.evaluate(`(() => {
      const seen = [];
      window.stageSeen = seen;
      const box = document.querySelector('#stage-progress');
      const bar = document.querySelector('#stage-bar');
      const text = (id) => document.querySelector(id).textContent;
      new MutationObserver(() => seen.push({
        stage: box.dataset.stage, unit: box.dataset.unit, task: text('#stage-task'), eta: text('#stage-eta'), jobEta: text('#job-eta'),
        message: text('#stage-message'), value: bar.value, max: bar.max, hidden: box.hidden ? 1 : 0,
      })).observe(box, { subtree: true, childList: true, characterData: true, attributes: true });
    })()`);

    // target device and latency limit first, as the form shows them
    await page.selectOption('#f-device', 'node-tflite-wasm');
    await page.fill('#f-latency', '1000');
    await page.fill('#f-dataset', 'synthetic');
    await page.selectOption('#f-strategy', 'random');
    await page.fill('#f-trials', '2');
    await page.fill('#f-minutes', '30');
    assert.equal(await page.isChecked('#f-run'), true, 'the whole nas run is the default');
    assert.equal((await page.textContent('label:has(#f-run)'))?.trim(), 'Whole run: search, then train and export a model');
    // no supernet on a fresh server: proxy training, the supernet choices disabled
    assert.equal(await page.inputValue('#f-evaluator'), 'proxy');
    assert.equal(await page.isDisabled('#f-evaluator option[value="supernet"]'), true);
    // a generous target would make compound scaling grow the network to fill it (minutes of training): deliver the searched one
    await page.uncheck('#f-scaleup');
    // int8 verification (top-1 agreement >= 99% with float) is not meaningful on the toy set's few validation images
    await page.uncheck('#f-formats input[value="tflite-int8"]');
    const [created] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/searches'),
      page.click('#f-submit'),
    ]);
    // what the form sent: the whole run, scored by proxy training
    const sent = created.request().postDataJSON() as Record<string, unknown>;
    assert.equal(sent.run, true);
    assert.equal(sent.pipeline, undefined, 'the deprecated name is not sent');
    assert.equal(sent.evaluator, 'proxy');
    assert.equal(sent.scaleUp, false);
    assert.deepEqual(sent.formats, ['tflite', 'tfjs']);
    // the 202 body carries the job's time plan: the 30 minutes shared among the stages
    const accepted = await created.json() as { plan: { budgetMinutes: number; minutes: Record<string, number> } };
    assert.equal(created.status(), 202);
    assert.equal(accepted.plan.budgetMinutes, 30);
    assert.ok(Math.abs(Object.values(accepted.plan.minutes).reduce((a, b) => a + b, 0) - 30) < 1e-9, JSON.stringify(accepted.plan.minutes));
    await page.waitForSelector('#search-detail:not([hidden])');
    const id = (await page.textContent('#detail-id'))!;
    assert.match(id, /^s-/);
    await page.waitForSelector('#detail-status[data-status="succeeded"], #detail-status[data-status="failed"], #detail-status[data-status="cancelled"]', { timeout: 280_000 });
    await page.waitForFunction(() => document.querySelectorAll('#trial-rows tr').length === 2);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-search.png'), fullPage: true });
    assert.equal(await page.getAttribute('#detail-status', 'data-status'), 'succeeded', await page.textContent('#detail-error') ?? '');
    // what the page shows is what the API says
    const api = await (await fetch(`${svc.url}v1/searches/${id}`, { headers: { Authorization: `Bearer ${userKey}` } })).json() as { trials: { id: string; accuracy: number; evaluator: string }[]; status: string; modelId: string | null };
    assert.equal(api.status, 'succeeded');
    for (const t of api.trials) {
      const row = await page.textContent(`#trial-rows tr[data-trial-id="${t.id}"]`);
      assert.ok(row?.includes(`${(t.accuracy * 100).toFixed(1)}%`), `${row} shows ${t.accuracy}`);
      assert.equal(t.evaluator, 'proxy');
      assert.equal(await page.textContent(`#trial-rows tr[data-trial-id="${t.id}"] td.evaluator`), 'proxy');
    }
    assert.match(await page.textContent('#detail-summary') ?? '', /scored by proxy training, then refine\/train\/export/);
    assert.equal(await page.locator('#pareto-plot canvas').count(), 1, 'the Pareto plot is drawn');
    assert.equal(await page.locator('#reward-plot canvas').count(), 1, 'the reward curve is drawn');
    assert.match(await page.textContent(`#search-rows tr[data-search-id="${id}"]`) ?? '', /succeeded/);
    // live progress arrived over SSE while it ran
    const log = await page.textContent('#event-log') ?? '';
    assert.match(log, /trial .*-t000\d: succeeded/, log);
    assert.match(log, /stage final-training/, log);
    assert.match(log, /stage export/, log);
    assert.match(log, /search: search trials 2\/2 trials/, log);
    assert.match(log, /final-training: final training 10\/10 epochs, ETA 0s \(job \S+\)/, log);
    assert.match(log, /export: export and verification 2\/2 formats/, log);
    // the stage line showed each stage's bar, task and ETAs while it ran, and shows done at the end
    type Seen = { stage?: string; unit?: string; task: string; eta: string; jobEta: string; message: string; value: number; max: number; hidden: number };
    const seen = await page.evaluate('window.stageSeen') as Seen[];
    const duration = /^(\d+s|\d+m\d\ds|\d+h\d\dm)$/;
    const training = seen.filter((x) => x.stage === 'final-training' && x.unit === 'epoch' && x.hidden === 0);
    assert.ok(training.length >= 10, `${training.length} final-training states shown for 10 epochs`);
    for (const x of training) {
      assert.equal(x.task, 'final training');
      assert.equal(x.max, 10);
      assert.match(x.eta, duration, JSON.stringify(x));
      assert.match(x.jobEta, duration, JSON.stringify(x));
      assert.match(x.message, /of 10 epochs/);
    }
    assert.ok(seen.some((x) => x.stage === 'search' && x.unit === 'trial' && x.value === 2 && x.max === 2), 'the search stage showed its trials');
    assert.ok(seen.some((x) => x.stage === 'export' && x.unit === 'format' && /verification passed/.test(x.message)), 'the export stage showed each verified format');
    assert.equal(await page.textContent('#stage-name'), 'done');
    // the time plan of the 30-minute budget, as the API states it
    const plan = (api as unknown as { plan: { budgetMinutes: number; minutes: Record<string, number>; actual: Record<string, number> } }).plan;
    assert.equal(plan.budgetMinutes, 30);
    assert.ok(Math.abs(Object.values(plan.minutes).reduce((a, b) => a + b, 0) - 30) < 1e-9);
    assert.match(await page.textContent('#plan-summary') ?? '', /time plan for a 30 min budget/);
    for (const k of ['search', 'refine', 'final-training', 'measure', 'export']) {
      const row = await page.textContent(`#plan-rows tr[data-plan-stage="${k}"]`) ?? '';
      assert.ok(row.includes(plan.minutes[k]!.toFixed(2)), `${k}: ${row}`);
      assert.ok(row.includes(plan.actual[k]!.toFixed(2)), `${k} spent: ${row}`);
    }

    // the model, its card and a download from the page
    const modelId = (api as unknown as { modelId: string }).modelId;
    assert.match(modelId, /^mdl_/);
    const card = page.locator(`#model-list [data-model-id="${modelId}"]`);
    await card.waitFor();
    const model = await (await fetch(`${svc.url}v1/models/${modelId}`, { headers: { Authorization: `Bearer ${userKey}` } })).json() as { formats: { format: string; sizeBytes: number; sha256: string }[] };
    assert.deepEqual(model.formats.map((f) => f.format).sort(), ['tfjs', 'tflite']);
    const [download] = await Promise.all([page.waitForEvent('download'), card.locator('button[data-format="tflite"]').click()]);
    const saved = join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(saved);
    const bytes = readFileSync(saved);
    const tfl = model.formats.find((f) => f.format === 'tflite')!;
    assert.equal(download.suggestedFilename(), `${modelId}.tflite`);
    assert.equal(bytes.byteLength, tfl.sizeBytes);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), tfl.sha256);
    assert.equal(bytes.subarray(4, 8).toString('latin1'), 'TFL3', 'a TFLite flatbuffer');
    await card.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-model.png'), fullPage: true });
    copyFileSync(join(ARTIFACTS, 'dashboard-model.png'), join(PACKAGE_ROOT, 'docs', 'dashboard.png'));
    assert.deepEqual(pageErrors, []);
  }));

  it('evaluator field: supernet choices disabled with a how-to-train hint without a trained supernet; offered with one; the choice is sent; a 409 supernet_unavailable is shown', {
    skip, timeout: 120_000,
  }, () => withDashboard(async ({ svc, page, userKey, pageErrors }) => {
    const hint = async () => (await page.isHidden('#f-supernet-hint')) ? null : page.textContent('#f-supernet-hint');
    // no supernet at all: both supernet choices disabled, the hint says how to train one for the chosen dataset
    assert.equal(await page.inputValue('#f-dataset'), 'fashion-mnist');
    assert.equal(await page.isDisabled('#f-evaluator option[value="supernet"]'), true);
    assert.equal(await page.isDisabled('#f-evaluator option[value="predictor"]'), true);
    assert.equal(await page.isDisabled('#f-evaluator option[value="proxy"]'), false);
    assert.equal(await hint(), 'no trained supernet for fashion-mnist: train one: POST /v1/supernets or nas supernet train --dataset fashion-mnist; or import one: POST /v1/supernets/import');
    assert.match(await page.textContent('#f-evaluator-hint') ?? '', /trains each candidate briefly/);
    await page.fill('#f-dataset', 'synthetic');
    assert.equal(await hint(), 'no trained supernet for synthetic: train one: POST /v1/supernets or nas supernet train --dataset synthetic; or import one: POST /v1/supernets/import');

    // a supernet of synthetic that GET /v1/supernets lists as succeeded (without a predictor), made for another input
    // (32x32x3; the set's images are 12x12x1) and without a checkpoint: the page offers it, the server refuses it (409)
    const sn = insertSupernet(svc.ctx.db, { owner: null, dataset: 'synthetic', skeleton: 'small-32', input: { height: 32, width: 32, channels: 3 }, numClasses: 10, options: {} });
    updateSupernet(svc.ctx.db, sn.id, { status: 'succeeded', finished: true });
    await page.click('#refresh');
    await page.waitForFunction(() => !(document.querySelector('#f-evaluator option[value="supernet"]') as HTMLOptionElement).disabled);
    assert.equal(await page.isDisabled('#f-evaluator option[value="predictor"]'), true, 'no accuracy predictor fitted');
    assert.equal(await hint(), `supernet ${sn.id} has no accuracy predictor: the predictor choice needs one`);
    await page.selectOption('#f-evaluator', 'supernet');
    assert.match(await page.textContent('#f-evaluator-hint') ?? '', /about a second/);
    // another dataset has none: the choice falls back to proxy training
    await page.fill('#f-dataset', 'mnist');
    assert.equal(await page.inputValue('#f-evaluator'), 'proxy');
    assert.equal(await page.isDisabled('#f-evaluator option[value="supernet"]'), true);
    await page.fill('#f-dataset', 'synthetic');
    await page.selectOption('#f-evaluator', 'supernet');

    await page.uncheck('#f-run');
    assert.equal(await page.isDisabled('#f-scaleup'), true, 'scaling belongs to the whole run');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/searches'),
      page.click('#f-submit'),
    ]);
    const sent = refused.request().postDataJSON() as Record<string, unknown>;
    assert.equal(sent.evaluator, 'supernet');
    assert.equal(sent.run, false);
    assert.equal(sent.scaleUp, undefined);
    assert.equal(refused.status(), 409);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'supernet_unavailable');
    await page.waitForSelector('#banner:not([hidden])');
    assert.match(await page.textContent('#banner') ?? '', /^No usable supernet for this search: no trained supernet for dataset synthetic .*POST \/v1\/supernets/);
    assert.equal(await page.textContent('#form-status'), 'not started: no usable supernet');
    assert.equal(await page.locator('#search-rows tr[data-search-id]').count(), 0, 'nothing was started');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-evaluator.png'), fullPage: true });
    assert.deepEqual(pageErrors, [`409 ${svc.url}v1/searches`]);
  }));
});
