// Browser side of device profiling: download the bundle manifest, time every
// model in the TFLite WASM runtime (warm-up, then rounds of a batch of the
// model followed by a batch of the reference network), post the samples.
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

  function relIqr(xs) {
    const s = xs.slice().sort((a, b) => a - b);
    const q = (p) => { const i = (s.length - 1) * p; const lo = Math.floor(i); const hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
    const med = q(0.5);
    return med > 0 ? (q(0.75) - q(0.25)) / med : 0;
  }

  // Browsers coarsen performance.now() (100 us without cross-origin isolation):
  // size batches from a >= 20 ms probe so that one batch spans many ticks.
  function batchSize(model, x, batchMs) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 20 || n < 3) { timeBatch(model, x, 1); n++; }
    const one = (performance.now() - t0) / n;
    return Math.min(5000, Math.max(1, Math.ceil(batchMs / Math.max(one, 0.001))));
  }

  // Served by the service (`nas serve`, `nas profile --serve`), the page talks
  // to the /v1 API with the device's upload token; <meta name="nas-api"> says where.
  const apiMeta = document.querySelector('meta[name="nas-api"]');
  const API = apiMeta ? apiMeta.getAttribute('content') : '/v1';
  let deviceId = '';
  let token = '';
  const authHeaders = () => (token ? { Authorization: 'Bearer ' + token } : {});
  const suiteUrl = () => API + '/devices/' + encodeURIComponent(deviceId) + '/benchmark-suite';

  async function fetchOk(url, init) {
    const res = await fetch(url, init);
    if (!res.ok) {
      let msg = 'HTTP ' + res.status;
      try { const b = await res.json(); msg = (b.error && (b.error.message || b.error)) || msg; } catch (e) { /* not JSON */ }
      throw new Error(url.split('?')[0] + ': ' + msg);
    }
    return res;
  }

  async function load(m) {
    const buf = await (await fetchOk(suiteUrl() + '/' + m.file, { headers: authHeaders() })).arrayBuffer();
    return tflite.loadTFLiteModel(buf, { numThreads: 1 });
  }

  async function run() {
    tflite.setWasmPath('tflite-wasm/');
    await tf.setBackend('cpu');
    const manifest = await (await fetchOk(suiteUrl(), { headers: authHeaders() })).json();
    const ms = manifest.measure;
    const ref = await load(manifest.reference);
    const refX = tf.randomUniform([1].concat(manifest.reference.input));
    timeBatch(ref, refX, ms.warmup + 5);
    const refBatch = batchSize(ref, refX, ms.batchMs);
    const models = {};
    const refSamples = [];
    for (let i = 0; i < Math.max(15, ms.repeats * 2); i++) refSamples.push(timeBatch(ref, refX, refBatch));
    models.reference = { samplesMs: refSamples };
    const todo = [manifest.baseline].concat(manifest.kernels, manifest.networks);
    $('progress').max = todo.length;
    for (let j = 0; j < todo.length; j++) {
      const m = todo[j];
      const model = await load(m);
      const x = tf.randomUniform([1].concat(m.input));
      timeBatch(model, x, ms.warmup);
      const b = batchSize(model, x, ms.batchMs);
      let samples = [];
      let refs = [];
      // A burst of load makes rounds disagree: measure again with more rounds
      // and batches twice as long each time (bounded: 4 attempts).
      for (let attempt = 1; attempt <= 4; attempt++) {
        samples = [];
        refs = [];
        const scale = 1 << (attempt - 1);
        const mb = b * scale;
        const rb = refBatch * scale;
        // Best of 3 short batches per round filters preemption by other processes.
        for (let r = 0; r < ms.repeats * Math.min(attempt, 2); r++) {
          samples.push(Math.min(timeBatch(model, x, mb), timeBatch(model, x, mb), timeBatch(model, x, mb)));
          refs.push(Math.min(timeBatch(ref, refX, rb), timeBatch(ref, refX, rb), timeBatch(ref, refX, rb)));
        }
        if (relIqr(samples.map((s, i) => s / refs[i])) <= 0.2) break;
      }
      models[m.id] = { samplesMs: samples, referenceMs: refs };
      x.dispose();
      if (model.modelRunner && model.modelRunner.cleanUp) model.modelRunner.cleanUp();
      $('progress').value = j + 1;
      if (j % 50 === 0) setStatus('running', 'measured ' + (j + 1) + ' / ' + todo.length);
    }
    const body = {
      format: 'nas-profile-results', formatVersion: 1, bundleId: manifest.bundleId,
      device: {
        id: deviceId, name: navigator.userAgent.slice(0, 200), runtime: 'tflite-browser',
        runtimeVersion: '@tensorflow/tfjs-tflite (browser WASM, ' + (self.crossOriginIsolated ? 'isolated' : 'single-threaded') + ')',
        threads: 1, cpu: (navigator.hardwareConcurrency || 0) + ' logical cores; ' + (navigator.platform || 'unknown platform'),
      },
      models: models,
    };
    const url = API + '/devices/' + encodeURIComponent(deviceId) + '/measurements';
    const res = await fetchOk(url, { method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()), body: JSON.stringify(body) });
    return res.json();
  }

  function start() {
    deviceId = ($('device').value || new URLSearchParams(location.search).get('device') || '').trim();
    token = ($('token') ? $('token').value : '').trim();
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(deviceId)) { setStatus('error', 'give a device id (lowercase letters, digits, . _ -)'); return; }
    if (!token) { setStatus('error', "give the device's upload token (from POST /v1/devices)"); return; }
    setStatus('running', 'loading the suite');
    run().then((a) => { log(JSON.stringify(a)); setStatus('done', 'done: ' + a.entries + ' kernels stored for ' + a.device + ' (table version ' + a.version + ')'); },
      (e) => { log(String(e && e.stack || e)); setStatus('error', 'error: ' + (e && e.message || e)); });
  }

  $('start').addEventListener('click', start);
  const q = new URLSearchParams(location.search);
  if (q.get('device')) $('device').value = q.get('device');
  if (q.get('token')) {
    $('token').value = q.get('token');
    // keep the token out of the address bar, history and referrers
    q.delete('token');
    history.replaceState(null, '', location.pathname + '?' + q.toString());
  }
  if (q.get('autostart') === '1') start();
})();
