// The dashboard in a real headless Chromium (playwright-core, Debian's
// /usr/bin/chromium) against `nas serve`'s service on an ephemeral port with
// a temporary data directory: the key is entered once (kept in
// localStorage), a search is started from the form on tiny data (synthetic,
// 2 trials, node-tflite-wasm, generous target) and trained for real; the
// page follows it live (SSE) until it shows as done, with its trial table
// and plots. Screenshots go to test-artifacts/ (gitignored); one is copied
// to docs/dashboard.png for the README.
// Under CI (CI=true) a missing Chromium fails this test instead of skipping it.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';
import { startService } from '../../src/cli/serve.ts';
import { createLogger } from '../../src/http/logger.ts';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = 'nas_browser-test-admin-0123456789abcdef';
const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

describe('dashboard (headless Chromium)', () => {
  it('enters the key, starts a search from the form, follows it live until done, shows trials and plots', {
    skip: !existsSync(CHROMIUM) && process.env.CI !== 'true' && `${CHROMIUM} not installed`, timeout: 300_000,
  }, async () => {
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
      await page.goto(svc.url);
      await page.fill('#api-key', userKey);
      await page.click('#save-key');
      await page.waitForSelector('#key-status:text("key accepted")');
      // the key is kept: a reload needs no typing
      await page.reload();
      await page.waitForSelector('#key-status:text("key accepted")');
      await page.waitForSelector('#device-rows tr[data-device-id="node-tflite-wasm"]');
      assert.match(await page.textContent('#device-rows tr[data-device-id="node-tflite-wasm"]') ?? '', /32x32x3 \(small-32\): [\d,]+ kernels/);

      // target device and latency limit first, as the form shows them
      await page.selectOption('#f-device', 'node-tflite-wasm');
      await page.fill('#f-latency', '1000');
      await page.fill('#f-dataset', 'synthetic');
      await page.selectOption('#f-strategy', 'random');
      await page.fill('#f-trials', '2');
      await page.click('#f-submit');
      await page.waitForSelector('#search-detail:not([hidden])');
      const id = (await page.textContent('#detail-id'))!;
      assert.match(id, /^s-/);
      await page.waitForSelector('#detail-status[data-status="succeeded"], #detail-status[data-status="failed"]', { timeout: 240_000 });
      await page.waitForFunction(() => document.querySelectorAll('#trial-rows tr').length === 2);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-search.png'), fullPage: true });
      assert.equal(await page.getAttribute('#detail-status', 'data-status'), 'succeeded', await page.textContent('#detail-error') ?? '');
      // what the page shows is what the API says
      const api = await (await fetch(`${svc.url}v1/searches/${id}`, { headers: { Authorization: `Bearer ${userKey}` } })).json() as { trials: { id: string; accuracy: number }[]; status: string };
      assert.equal(api.status, 'succeeded');
      for (const t of api.trials) {
        const row = await page.textContent(`#trial-rows tr[data-trial-id="${t.id}"]`);
        assert.ok(row?.includes(`${(t.accuracy * 100).toFixed(1)}%`), `${row} shows ${t.accuracy}`);
      }
      assert.equal(await page.locator('#pareto-plot canvas').count(), 1, 'the Pareto plot is drawn');
      assert.equal(await page.locator('#reward-plot canvas').count(), 1, 'the reward curve is drawn');
      assert.match(await page.textContent(`#search-rows tr[data-search-id="${id}"]`) ?? '', /succeeded/);
      // live progress arrived over SSE while it ran
      const log = await page.textContent('#event-log') ?? '';
      assert.match(log, /trial .*-t000\d: succeeded/, log);
      copyFileSync(join(ARTIFACTS, 'dashboard-search.png'), join(PACKAGE_ROOT, 'docs', 'dashboard.png'));
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      await svc.queue.idle();
      await svc.close();
    }
  });
});
