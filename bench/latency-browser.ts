// The throttled-Chromium device for bench:latency's foreign-host section: a
// phone-class stand-in (Chromium with DevTools CPU throttling,
// Emulation.setCPUThrottlingRate through playwright-core's CDP session)
// opens the service's profiling page in quick mode, measures the quick suite
// and uploads it (a transferred table version); then the same throttled page
// measures held-out random networks the same way (window.nasProfile
// .measureSuite, files served by page.route), and the transferred table's
// predictions are scored against both truths: the reference-interleaved
// ratio x the reference's time on that page, and the plain median of the
// page's batch times. Then the page's measuring scheme and the ones it
// replaced (no reference gate; the fastest of 5 short batches) measure the
// same networks twice each, passes interleaved: how well each repeats itself.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BUNDLE_OPTIONS, quickBundleDir, registerDevice } from '../src/app/devices.ts';
import { createApp } from '../src/http/app.ts';
import { createContext, deviceStoreOf } from '../src/http/context.ts';
import { createLogger } from '../src/http/logger.ts';
import { MEASURE_SETTINGS, readBundleManifest, writeBundle, type BundleManifest } from '../src/latency/bundle.ts';
import { createPredictor } from '../src/latency/predictor.ts';
import { accuracy, median } from '../src/latency/stats.ts';
import { getTableVersion } from '../src/store/tableVersions.ts';
import type { LatencyTable } from '../src/latency/table.ts';
import { fromWire } from '../src/space/archspec.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Where bench:latency keeps the throttled page's measurements as they came. */
export const BROWSER_RAW = 'bench/results/latency-browser-raw.json';
/** Rounds per held-out network on the page. */
export const HELD_OUT_ROUNDS = 21;

export interface BrowserNetwork {
  id: string;
  input: string;
  /** reference-interleaved: median of (network / reference) over the rounds */
  ratio: number;
  /** plain: median of the rounds' batch times (ms per inference) */
  plainMs: number;
  /** the reference's median ms per inference on the page during the held-out run */
  referenceMs: number;
  predictedRatio: number;
}

export interface BrowserResult {
  rate: number;
  quickMinutes: number;
  status: string;
  table: LatencyTable;
  networks: BrowserNetwork[];
  userAgent: string;
  /** the page's own account of the quick run: models, seconds, and where they went */
  pageSummary: string;
  /** the held-out networks measured a second time right after, on the same page: the truth's own repeatability */
  repeat: { within10: number; minutes: number };
  /** measuring schemes side by side on the same page: each measures the held-out networks twice (passes interleaved) */
  schemes: SchemeResult[];
  /** the first held-out measurement: rounds set aside, networks given more rounds */
  heldOutRounds: string;
  /** what the page measured, as it came (the quick suite's upload, its manifest, the held-out networks' two measurements and their manifest): bench/latency-replay.ts refits tables from it */
  raw: BrowserRaw;
}

/** The throttled page's measurements as they came, for refitting tables offline (bench/latency-replay.ts). */
export interface BrowserRaw {
  quickManifest: BundleManifest;
  upload: unknown;
  heldOutManifest: BundleManifest;
  heldOut: { models: Record<string, { samplesMs: number[]; referenceMs?: number[] }> }[];
}

export interface SchemeResult {
  name: string;
  /** share of networks whose two ratios agree within ±10% */
  within10: number;
  /** seconds per pass over the held-out networks */
  secondsPerPass: number;
}

/**
 * The page's measuring scheme against the schemes it replaced, on the same throttled page, at the quick
 * suite's rounds: one batch of >= batchMs per side per round with rounds set aside when the reference ran
 * off its usual speed (the page's scheme), the same keeping every round, and the fastest of 5 batches of >= 4 ms per side.
 */
export const SCHEMES: { name: string; opts: object }[] = [
  { name: `the page's scheme: one batch of each per round, rounds set aside when the reference is > ${100 * MEASURE_SETTINGS.quick.referenceGate}% off its usual speed`, opts: { measure: MEASURE_SETTINGS.quick } },
  { name: 'one batch of each per round, every round kept', opts: { measure: { ...MEASURE_SETTINGS.quick, referenceGate: 0 } } },
  { name: 'former scheme: fastest of 5 batches (>= 4 ms) of each per round', opts: { measure: { repeats: MEASURE_SETTINGS.quick.repeats, batchMs: 4, referenceGate: 0 }, bestOf: 5 } },
];

/** Quick-mode profiling on a throttled page, then held-out networks measured on the same page. */
export async function throttledBrowserRun(o: { rate: number; heldOut: number; seed: number; log: (m: string) => void; timeoutMin?: number }): Promise<BrowserResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install chromium)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
  const { ctx } = createContext({ dataDir, storeFile: ':memory:', logger: createLogger({ level: 'silent' }), adminToken: 'nas_bench-admin-token-0123456789', bundleOptions: DEFAULT_BUNDLE_OPTIONS });
  const server = await new Promise<Server>((ok) => { const s = createApp(ctx).listen(0, '127.0.0.1', () => ok(s)); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const deviceId = `chromium-${o.rate}x`;
  const reg = registerDevice(deviceStoreOf(ctx), { id: deviceId, name: `Chromium, ${o.rate}x CPU throttling`, runtime: 'tflite-browser', runtimeVersion: '@tensorflow/tfjs-tflite (browser WASM)', threads: 1, cpu: `this host, ${o.rate}x throttled` }, null);
  // held-out networks: random networks of the suite's inputs (other seeds than the suite's), no kernels
  const evalDir = mkdtempSync(join(tmpdir(), 'bench-browser-eval-'));
  // (more rounds than the profiling suite's 7-9: the truth should be more precise than what it scores; the throttled
  // page's own run-to-run agreement is reported beside it)
  const evalManifest: BundleManifest = writeBundle(evalDir, { ...DEFAULT_BUNDLE_OPTIONS, quickSuite: undefined, maxKernelsPerTarget: 0, calibrationNetworks: o.heldOut, seed: o.seed, repeats: HELD_OUT_ROUNDS });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: o.rate });
    page.on('console', (m) => { if (m.type() === 'error') o.log(`page: ${m.text()}`); });
    let upload: unknown = null;
    page.on('request', (req) => { if (req.method() === 'POST' && req.url().endsWith('/measurements')) upload = req.postDataJSON(); });
    const t0 = Date.now();
    await page.goto(`${base}${reg.profileUrl}&mode=quick&autostart=1`);
    let last = '';
    const timer = setInterval(() => {
      void page.textContent('#status').then((s) => { if (s && s !== last) o.log(`page: ${(last = s)}`); }, () => {});
    }, 30_000);
    try {
      await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: (o.timeoutMin ?? 40) * 60_000 });
    } finally {
      clearInterval(timer);
    }
    const quickMinutes = (Date.now() - t0) / 60_000;
    const status = (await page.textContent('#status')) ?? '';
    o.log(`quick mode on ${o.rate}x throttled Chromium: ${status} (${quickMinutes.toFixed(1)} min)`);
    if (!status.startsWith('done')) throw new Error(`quick profiling failed: ${status}\n${await page.textContent('#log')}`);
    const table = getTableVersion(ctx.db, deviceId, ctx.shipped.latencyTables)!.table;
    const pageSummary = ((await page.textContent('#log')) ?? '').split('\n').find((l) => l.startsWith('measured ')) ?? '';
    o.log(`page: ${pageSummary}`);
    // held-out networks on the same page, measured the same way
    await page.route(`${base}/bench-eval/**`, (route) => route.fulfill({ body: readFileSync(join(evalDir, new URL(route.request().url()).pathname.replace('/bench-eval/', ''))) }));
    o.log(`measuring ${evalManifest.networks.length} held-out networks on the same page`);
    // (a string: the bench runs through tsx, whose helpers do not exist in the page)
    type Suite = { models: Record<string, { samplesMs: number[]; referenceMs?: number[] }>; setAside: number; unsteady: number; remeasured: number };
    const measureHeldOut = async () => (await page.evaluate(`window.nasProfile.measureSuite(${JSON.stringify(evalManifest)}, { fileUrl: (x) => '/bench-eval/' + x.file, measure: { batchMs: ${MEASURE_SETTINGS.quick.batchMs} } })`)) as Suite;
    const r = await measureHeldOut();
    const ratioOf = (s: Suite, id: string) => median(s.models[id].samplesMs.map((x, i) => x / s.models[id].referenceMs![i]));
    const tr = Date.now();
    o.log('measuring the held-out networks a second time');
    const again = await measureHeldOut();
    const ids = evalManifest.networks.map((n) => n.id);
    const repeat = { within10: accuracy(ids.map((id) => ratioOf(again, id)), ids.map((id) => ratioOf(r, id))).within10, minutes: (Date.now() - tr) / 60_000 };
    // the schemes side by side: passes interleaved (A B A B), so a slow stretch of the host hits both
    const passes: Suite[][] = SCHEMES.map(() => []);
    const secs = SCHEMES.map(() => 0);
    for (let pass = 0; pass < 2; pass++) {
      for (const [i, sc] of SCHEMES.entries()) {
        o.log(`scheme comparison, pass ${pass + 1} of 2: ${sc.name}`);
        const ts = Date.now();
        passes[i].push((await page.evaluate(`window.nasProfile.measureSuite(${JSON.stringify(evalManifest)}, Object.assign({ fileUrl: (x) => '/bench-eval/' + x.file }, ${JSON.stringify(sc.opts)}))`)) as Suite);
        secs[i] += (Date.now() - ts) / 1000;
      }
    }
    const schemes = SCHEMES.map((sc, i): SchemeResult => ({
      name: sc.name, within10: accuracy(ids.map((id) => ratioOf(passes[i][1], id)), ids.map((id) => ratioOf(passes[i][0], id))).within10, secondsPerPass: secs[i] / 2,
    }));
    const refMs = median(r.models.reference.samplesMs);
    const predictor = createPredictor(table);
    const networks = evalManifest.networks.map((n): BrowserNetwork => {
      const m = r.models[n.id];
      const [h, w, c] = n.input;
      const input = { height: h, width: w, channels: c };
      const p = predictor.predict(fromWire(n.arch), input, evalManifest.numClasses);
      return {
        id: n.id, input: `${h}x${w}x${c}`, ratio: ratioOf(r, n.id), plainMs: median(m.samplesMs), referenceMs: refMs,
        predictedRatio: p.latencyMs / table.measure.referenceMs,
      };
    });
    const heldOutRounds = `${r.setAside} rounds set aside (the reference off its usual speed), ${r.remeasured} networks given more rounds, ${r.unsteady} with no round at the usual speed`;
    const quickManifest = readBundleManifest(quickBundleDir(ctx.bundleDir));
    const raw: BrowserRaw = { quickManifest, upload, heldOutManifest: evalManifest, heldOut: [r, again].map((x) => ({ models: x.models })) };
    return { rate: o.rate, quickMinutes, status, table, networks, userAgent: String(await page.evaluate('navigator.userAgent')), pageSummary, repeat, schemes, heldOutRounds, raw };
  } finally {
    await browser.close();
    server.close();
    ctx.db.close();
  }
}
