// Browser side of device profiling: download the suite's manifest (quick or
// full), time every model in the TFLite WASM runtime (warm-up, then rounds
// of one batch of the model followed by one of the reference network),
// post the samples, and show the device's table: its kind, what was
// measured per class, and the accuracy to expect. The quick suite measures
// its kernels in the stratified order (every class early), its networks
// spread evenly among them. `window.nasProfile.measureSuite` lets a harness measure any suite
// (e.g. held-out networks) on this page the same way, without uploading.
/* global tf, tflite */
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const log = (m) => { $('log').textContent += m + '\n'; };
  const setStatus = (state, text) => { $('status').dataset.state = state; $('status').textContent = text; };

  function timeBatch(model, x, count) {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const y = model.predict(x);
      const out = y instanceof tf.Tensor ? y : Object.values(y)[0];
      out.dataSync();
      tf.dispose(y);
    }
    return (performance.now() - t0) / count;
  }

  /** items of b placed evenly among those of a, the first of b first: [b0, a.., b1, a.., ...] */
  function spread(a, b) {
    if (b.length === 0) return a.slice();
    const out = [];
    const every = a.length / b.length;
    for (let i = 0; i < b.length; i++) out.push(b[i], ...a.slice(Math.round(i * every), Math.round((i + 1) * every)));
    return out;
  }

  function relIqr(xs) {
    const s = xs.slice().sort((a, b) => a - b);
    const q = (p) => { const i = (s.length - 1) * p; const lo = Math.floor(i); const hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
    const med = q(0.5);
    return med > 0 ? (q(0.75) - q(0.25)) / med : 0;
  }

  // Browsers coarsen performance.now() (100 us without cross-origin isolation),
  // and a throttled or busy CPU runs the page in slices (DevTools throttling
  // on Linux: ~0.2 ms of work, then a pause 3x as long at 4x): a batch must
  // span many ticks and many slices for its time to be the sliced speed, not
  // a lucky unsliced stretch. Double the batch until one lasts an eighth of
  // batchMs, then size it from the median of 3 batches of that size.
  function batchSize(model, x, batchMs) {
    let n = 1;
    while (n < 5000 && n * timeBatch(model, x, n) < batchMs / 8) n = Math.min(5000, n * 2);
    const t = [timeBatch(model, x, n), timeBatch(model, x, n), timeBatch(model, x, n)].sort((a, b) => a - b)[1];
    return Math.max(1, Math.min(5000, Math.ceil(batchMs / Math.max(t, 1e-3))));
  }

  // Served by the service (`nas serve`, `nas profile --serve`), the page talks
  // to the /v1 API with the device's upload token; <meta name="nas-api"> says where.
  const apiMeta = document.querySelector('meta[name="nas-api"]');
  const API = apiMeta ? apiMeta.getAttribute('content') : '/v1';
  let deviceId = '';
  let token = '';
  const authHeaders = () => (token ? { Authorization: 'Bearer ' + token } : {});
  const deviceUrl = () => API + '/devices/' + encodeURIComponent(deviceId);

  async function fetchOk(url, init) {
    const res = await fetch(url, init);
    if (!res.ok) {
      let msg = 'HTTP ' + res.status;
      try { const b = await res.json(); msg = (b.error && (b.error.message || b.error)) || msg; } catch (e) { /* not JSON */ }
      throw new Error(url.split('?')[0] + ': ' + msg);
    }
    return res;
  }

  /**
   * Time every model of a manifest. opts.fileUrl(model) -> its URL; opts.headers for the fetches;
   * opts.onProgress(done, total, elapsedS); networks spread through the kernels when opts.spreadNetworks. opts.measure overrides
   * the manifest's measure settings (opts.referenceGate too: 0 keeps every round), and opts.bestOf > 1 times
   * that many batches of each per round and keeps the fastest (the page's former scheme; a harness compares
   * the schemes with these).
   * Returns { models: { id: { samplesMs, referenceMs? } }, elapsedS }.
   */
  async function measureSuite(manifest, opts) {
    const t0 = performance.now();
    // where the time goes (seconds): downloading models, loading them into the interpreter,
    // warm-up and batch sizing, the timed rounds
    const phasesS = { fetch: 0, load: 0, prepare: 0, rounds: 0 };
    let tp = performance.now();
    const lap = (phase) => { const t = performance.now(); phasesS[phase] += (t - tp) / 1000; tp = t; };
    const load = async (m) => {
      tp = performance.now();
      const buf = await (await fetchOk(opts.fileUrl(m), { headers: opts.headers || {} })).arrayBuffer();
      lap('fetch');
      const model = await tflite.loadTFLiteModel(buf, { numThreads: 1 });
      lap('load');
      return model;
    };
    const ms = Object.assign({}, manifest.measure, opts.measure || {});
    const bestOf = Math.max(1, opts.bestOf || 1);
    const ref = await load(manifest.reference);
    const refX = tf.randomUniform([1].concat(manifest.reference.input));
    timeBatch(ref, refX, ms.warmup + 5);
    const refBatch = batchSize(ref, refX, ms.batchMs);
    const models = {};
    let remeasured = 0, setAside = 0, unsteady = 0;
    const refSamples = [];
    for (let i = 0; i < Math.max(15, ms.repeats * 2); i++) refSamples.push(timeBatch(ref, refX, refBatch));
    const gate = opts.referenceGate !== undefined ? opts.referenceGate : ms.referenceGate;
    const recentRef = refSamples.slice();
    const usualRefMs = () => recentRef.slice().sort((a, c) => a - c)[recentRef.length >> 1];
    models.reference = { samplesMs: refSamples };
    // opts.spreadNetworks (the quick suite): the networks spread evenly through the kernels (kernels keep their
    // stratified order, every class early), so that a device whose speed or state drifts during the run (heat;
    // on the stand-in, a throttle that lapses for minutes) measures networks and kernels alike in every stretch:
    // the overhead model maps kernel sums to network times, and it is fitted on the networks.
    const todo = [manifest.baseline].concat(opts.spreadNetworks ? spread(manifest.kernels, manifest.networks) : manifest.kernels.concat(manifest.networks));
    for (let j = 0; j < todo.length; j++) {
      const m = todo[j];
      const model = await load(m);
      const x = tf.randomUniform([1].concat(m.input));
      timeBatch(model, x, ms.warmup);
      const b = batchSize(model, x, ms.batchMs);
      lap('prepare');
      // Each round: one batch of the model, then one of the reference, each >= batchMs; the upload
      // takes the median of the rounds' ratios. (Long single batches, not the fastest of several
      // short ones (opts.bestOf): on a sliced CPU the fastest short batch is the one that dodged a
      // pause, and how often that happens differs from batch to batch.) A round whose reference ran
      // more than ms.referenceGate off the device's usual speed (the median of the last 200 reference
      // batches) is set aside: the device was in another state (a throttle that lapsed, a core
      // switch, heat), in which relative costs differ too. Too few rounds kept, or kept rounds that
      // disagree: more rounds, 3 times as many at most; none kept: all rounds count (an unsteady model).
      // bench:latency's foreign-host section measures these schemes' repeatability side by side.
      const kept = [];
      const all = [];
      const minKept = Math.ceil(ms.repeats / 2);
      for (let r = 0; r < 3 * ms.repeats; r++) {
        if (r >= ms.repeats && kept.length >= minKept && relIqr(kept.map((k) => k.tm / k.tr)) <= 0.2) break;
        if (r === ms.repeats) remeasured++;
        let tm = Infinity, tr = Infinity;
        for (let k = 0; k < bestOf; k++) {
          tm = Math.min(tm, timeBatch(model, x, b));
          tr = Math.min(tr, timeBatch(ref, refX, refBatch));
        }
        all.push({ tm: tm, tr: tr });
        if (!(gate > 0) || Math.abs(tr / usualRefMs() - 1) <= gate) kept.push({ tm: tm, tr: tr });
        else setAside++;
        recentRef.push(tr);
        if (recentRef.length > 200) recentRef.shift();
      }
      const use = kept.length > 0 ? kept : all;
      if (kept.length === 0) unsteady++;
      const samples = use.map((k) => k.tm);
      const refs = use.map((k) => k.tr);
      lap('rounds');
      models[m.id] = { samplesMs: samples, referenceMs: refs };
      x.dispose();
      if (model.modelRunner && model.modelRunner.cleanUp) model.modelRunner.cleanUp();
      if (opts.onProgress) opts.onProgress(j + 1, todo.length, (performance.now() - t0) / 1000);
    }
    refX.dispose();
    return { models: models, elapsedS: (performance.now() - t0) / 1000, remeasured: remeasured, setAside: setAside, unsteady: unsteady, phasesS: phasesS };
  }

  const pct = (x) => (100 * x).toFixed(0) + '%';

  /** The device's current table: kind, coverage per class, expected accuracy. */
  function showTable(d) {
    const t = d && d.table;
    if (!t) return;
    const p = t.provenance;
    let text = 'table version ' + t.version + ' (' + t.kind + '), ' + t.entries + ' kernels';
    if (p && p.kind === 'transferred') {
      text += ': ' + p.measuredKernels + ' of ' + p.totalKernels + ' measured on this device, the rest transferred from ' + (p.source ? p.source.deviceId : 'a measured table') +
        ' by the ' + (p.transfer ? p.transfer.method : 'per-class') + ' fit';
    }
    if (p && p.expectedAccuracy) text += '; expected accuracy: ' + pct(p.expectedAccuracy.within10) + ' of networks within ±10% (' + p.expectedAccuracy.networks + ' networks measured here, leave-one-out)';
    $('table-summary').textContent = text;
    const rows = $('coverage-rows');
    rows.replaceChildren();
    for (const c of (p ? p.classes : [])) {
      const tr = document.createElement('tr');
      for (const [v, cls] of [[c.cls, ''], [String(c.measured), 'num'], [String(c.total), 'num']]) {
        const td = document.createElement('td');
        td.textContent = v;
        if (cls) td.className = cls;
        tr.append(td);
      }
      rows.append(tr);
    }
    $('device-table').hidden = false;
  }

  async function refreshDevice() {
    try {
      showTable(await (await fetchOk(deviceUrl(), { headers: authHeaders() })).json());
    } catch (e) { /* the table is shown when there is one */ }
  }

  async function run(mode) {
    tflite.setWasmPath('tflite-wasm/');
    await tf.setBackend('cpu');
    const suite = deviceUrl() + '/benchmark-suite';
    const manifest = await (await fetchOk(suite + '?mode=' + mode, { headers: authHeaders() })).json();
    const n = 1 + manifest.networks.length + manifest.kernels.length;
    $('progress').max = n;
    setStatus('running', mode + ' suite: ' + manifest.kernels.length + ' kernels, ' + manifest.networks.length + ' networks');
    const r = await measureSuite(manifest, {
      fileUrl: (m) => suite + '/' + m.file + '?mode=' + mode, headers: authHeaders(), spreadNetworks: mode === 'quick',
      onProgress: (done, total, elapsedS) => {
        $('progress').value = done;
        if (done % 10 === 0 || done === total) {
          setStatus('running', 'measured ' + done + ' / ' + total + ' (' + Math.round(elapsedS) + ' s, about ' + Math.round((elapsedS / done) * (total - done)) + ' s left)');
        }
      },
    });
    const body = {
      format: 'nas-profile-results', formatVersion: 1, bundleId: manifest.bundleId, elapsedS: r.elapsedS,
      device: {
        id: deviceId, name: navigator.userAgent.slice(0, 200), runtime: 'tflite-browser',
        runtimeVersion: '@tensorflow/tfjs-tflite (browser WASM, ' + (self.crossOriginIsolated ? 'isolated' : 'single-threaded') + ')',
        threads: 1, cpu: (navigator.hardwareConcurrency || 0) + ' logical cores; ' + (navigator.platform || 'unknown platform'),
      },
      models: r.models,
    };
    const ph = r.phasesS;
    log('measured ' + n + ' models in ' + Math.round(r.elapsedS) + ' s (downloading ' + Math.round(ph.fetch) + ' s, loading ' + Math.round(ph.load) + ' s, warm-up and batch sizing ' +
      Math.round(ph.prepare) + ' s, timed rounds ' + Math.round(ph.rounds) + ' s); ' + r.remeasured + ' given more rounds (too few at the usual speed, or their rounds disagreed); ' +
      r.setAside + ' rounds set aside (the reference off its usual speed); ' + r.unsteady + ' with no round at the usual speed');
    const res = await fetchOk(deviceUrl() + '/measurements', { method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()), body: JSON.stringify(body) });
    return res.json();
  }

  function doneText(a) {
    if (a.kind !== 'transferred') return 'done: ' + a.entries + ' kernels stored for ' + a.device + ' (table version ' + a.version + ')';
    const p = a.provenance;
    return 'done: transferred table version ' + a.version + ' stored for ' + a.device + ': ' + p.measuredKernels + ' of ' + p.totalKernels + ' kernels measured here' +
      (p.expectedAccuracy ? '; expected ' + pct(p.expectedAccuracy.within10) + ' of networks within ±10%' : '');
  }

  function start() {
    deviceId = ($('device').value || new URLSearchParams(location.search).get('device') || '').trim();
    token = ($('token') ? $('token').value : '').trim();
    const mode = $('mode-full').checked ? 'full' : 'quick';
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(deviceId)) { setStatus('error', 'give a device id (lowercase letters, digits, . _ -)'); return; }
    if (!token) { setStatus('error', "give the device's upload token (from POST /v1/devices)"); return; }
    setStatus('running', 'loading the ' + mode + ' suite');
    $('start').disabled = true;
    run(mode).then((a) => { log(JSON.stringify(a)); setStatus('done', doneText(a)); return refreshDevice(); },
      (e) => { log(String(e && e.stack || e)); setStatus('error', 'error: ' + (e && e.message || e)); })
      .finally(() => { $('start').disabled = false; });
  }

  window.nasProfile = { measureSuite: measureSuite };
  $('start').addEventListener('click', start);
  const q = new URLSearchParams(location.search);
  if (q.get('device')) $('device').value = q.get('device');
  if (q.get('mode') === 'full') $('mode-full').checked = true;
  if (q.get('mode') === 'quick') $('mode-quick').checked = true;
  if (q.get('token')) {
    $('token').value = q.get('token');
    // keep the token out of the address bar, history and referrers
    q.delete('token');
    history.replaceState(null, '', location.pathname + '?' + q.toString());
  }
  if ($('device').value && $('token').value) {
    deviceId = $('device').value.trim();
    token = $('token').value.trim();
    void refreshDevice();
  }
  if (q.get('autostart') === '1') start();
})();
