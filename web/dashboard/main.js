// The dashboard: searches with live progress (EventSource on the SSE
// endpoint), the new-search form (target device and latency limit first; the
// device defaults to the user's last choice, else the calibrated local TFLite
// device; the evaluator field, evaluator.js; a whole run or the search
// alone), the selected search's stage progress (bar, task, stage and job
// ETA from `progress` events), its time plan, plots and trial table, models
// with their cards and downloads, devices with their table coverage. All data
// comes from the service's JSON API; nothing is computed here that the API
// does not state.
import { api, ApiFailure, download, getKey, searchEvents, setKey } from './api.js';
import { initEvaluatorField, loadSupernets, supernetRefusal } from './evaluator.js';
import { paretoPlot, rewardPlot } from './plots.js';

const $ = (sel) => document.querySelector(sel);
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const DEVICE_KEY = 'mobile-nas.deviceId';
const PLAN_STAGES = ['search', 'refine', 'final-training', 'measure', 'export'];
let selected = null;
let source = null;
let refreshTimer = null;

const fmt = {
  pct: (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`),
  ms: (v) => (v === null || v === undefined ? '–' : v.toFixed(2)),
  int: (v) => (v === null || v === undefined ? '–' : Number(v).toLocaleString('en')),
  num: (v, d = 3) => (v === null || v === undefined ? '–' : v.toFixed(d)),
  time: (s) => (s ? new Date(s).toLocaleString() : '–'),
  /** seconds as 42s, 5m20s, 1h02m */
  dur: (s) => {
    if (s === null || s === undefined || !Number.isFinite(s)) return '–';
    const t = Math.max(0, Math.round(s));
    if (t < 60) return `${t}s`;
    if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
    return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  },
  units: (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1)),
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function showError(e) {
  const b = $('#banner');
  b.textContent = e instanceof ApiFailure ? `${e.status}: ${e.message}` : String(e?.message ?? e);
  b.hidden = false;
}

function clearError() {
  $('#banner').hidden = true;
}

/** What scores a search's candidates, as its options state it. */
function evaluatorName(o) {
  const e = o.evaluator ?? 'proxy';
  return e === 'proxy' ? 'proxy training' : `${e === 'predictor' ? 'the accuracy predictor of supernet' : 'supernet'} ${o.supernetId ?? ''}`.trim();
}

/**
 * The form's device: the user's last choice (kept in localStorage) while it
 * exists, else the local TFLite device with a host calibration, else any
 * local TFLite device, else the first.
 */
function defaultDevice(details, remembered) {
  if (remembered && details.some((d) => d.id === remembered)) return remembered;
  const local = details.filter((d) => d.profile?.runtime === 'tflite-wasm');
  const calibrated = local.find((d) => d.predictorAccuracy || d.table?.calibration);
  return (calibrated ?? local[0] ?? details[0])?.id ?? '';
}

async function loadDevices() {
  const { items } = await api('/v1/devices');
  const details = await Promise.all(items.map((d) => api(`/v1/devices/${encodeURIComponent(d.id)}`).catch(() => d)));
  const sel = $('#f-device');
  const current = sel.value;
  sel.replaceChildren(...items.map((d) => el('option', { value: d.id }, `${d.id} (${d.profile.runtime})`)));
  sel.value = current || defaultDevice(details, localStorage.getItem(DEVICE_KEY));
  $('#device-rows').replaceChildren(...details.map((d) => {
    const t = d.table ?? null;
    const coverage = t ? t.coverage.map((c) => `${c.input} (${c.skeleton}): ${fmt.int(c.kernels)} kernels`).join('; ') : 'no table yet: the regression predicts every kernel';
    return el('tr', { 'data-device-id': d.id },
      el('td', {}, d.id), el('td', {}, `${d.profile.runtime} (${d.profile.runtimeVersion})`),
      el('td', {}, d.profile.threads), el('td', { class: 'num' }, t ? `${fmt.int(t.entries)} (v${t.version})` : '–'),
      el('td', {}, coverage));
  }));
}

async function loadDatasets() {
  try {
    const { items } = await api('/v1/datasets');
    const list = $('#dataset-list');
    for (const d of items) if (![...list.options].some((o) => o.value === `dataset:${d.id}`)) list.append(el('option', { value: `dataset:${d.id}` }, d.name));
  } catch { /* datasets are optional for the form */ }
}

async function loadSearches() {
  const { items } = await api('/v1/searches');
  const rows = items.map((s) => {
    const tr = el('tr', { 'data-search-id': s.id, onclick: () => select(s.id) },
      el('td', {}, el('code', {}, s.id)),
      el('td', {}, el('span', { class: `status ${s.status}` }, s.stage && s.status === 'running' ? `${s.status} (${s.stage})` : s.status)),
      el('td', {}, s.options.deviceId), el('td', { class: 'num' }, `${s.options.latencyTargetMs} ms`),
      el('td', {}, s.options.dataset),
      el('td', { class: 'num' }, `${s.progress.trialsDone}/${s.progress.trialsBudget ?? '∞'}`),
      el('td', { class: 'num' }, fmt.pct(s.best?.accuracy)), el('td', { class: 'num' }, fmt.ms(s.best?.latencyMs)),
      el('td', {}, fmt.time(s.createdAt)));
    if (s.id === selected) tr.classList.add('selected');
    return tr;
  });
  $('#search-rows').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '9', class: 'muted' }, 'no searches yet'))]));
}

function renderDetail(s) {
  $('#search-detail').hidden = false;
  $('#detail-id').textContent = s.id;
  const st = $('#detail-status');
  st.textContent = s.status;
  st.className = `status ${s.status}`;
  st.dataset.status = s.status;
  $('#detail-cancel').hidden = FINAL.has(s.status);
  const o = s.options;
  $('#detail-summary').textContent = `${o.dataset} on ${o.deviceId}, target ${o.latencyTargetMs} ms (${o.objective}, w=${o.w}), ${o.strategy}` +
    `, scored by ${evaluatorName(o)}${s.run ? ', then refine/train/export' : ''}; stage ${s.stage ?? '–'}; ${s.progress.trialsDone} of ${s.progress.trialsBudget ?? '∞'} trials` +
    `${s.progress.failedTrials ? `, ${s.progress.failedTrials} failed` : ''}` +
    `${s.best ? `; best ${fmt.pct(s.best.accuracy)} at ${fmt.ms(s.best.latencyMs)} ms` : ''}${s.modelId ? `; model ${s.modelId}` : ''}`;
  const p = $('#detail-progress');
  p.max = s.progress.trialsBudget ?? Math.max(1, s.progress.trialsDone);
  p.value = s.progress.trialsDone;
  const err = $('#detail-error');
  err.hidden = !s.error;
  err.textContent = s.error ?? '';
  renderStage(s);
  renderPlan(s.plan);
  const trials = s.trials ?? [];
  paretoPlot($('#pareto-plot'), trials, new Set(s.pareto ?? []), o.latencyTargetMs);
  rewardPlot($('#reward-plot'), trials);
  $('#trial-rows').replaceChildren(...trials.map((t) => el('tr', { 'data-trial-id': t.id },
    el('td', {}, t.seq), el('td', {}, el('code', {}, t.archId)), el('td', {}, el('span', { class: `status ${t.status}` }, t.status)),
    el('td', { class: 'evaluator' }, t.evaluator), el('td', { class: 'num' }, fmt.pct(t.accuracy)), el('td', { class: 'num' }, fmt.ms(t.latencyMs)),
    el('td', { class: 'num' }, fmt.int(t.params)), el('td', { class: 'num' }, fmt.int(t.macs)),
    el('td', { class: 'num' }, fmt.num(t.reward)), el('td', { class: 'muted' }, t.error ?? t.reason ?? ''))));
}

async function refreshDetail() {
  if (!selected) return;
  renderDetail(await api(`/v1/searches/${encodeURIComponent(selected)}`));
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    Promise.all([refreshDetail(), loadSearches()]).catch(showError);
  }, 250);
}

/** The stage line of a whole run from its state: a new stage resets the bar until its first progress event. */
function renderStage(s) {
  const box = $('#stage-progress');
  box.hidden = !s.run;
  if (!s.run) return;
  const stage = FINAL.has(s.status) ? (s.status === 'succeeded' ? 'done' : `${s.status} in ${s.stage ?? '–'}`) : (s.stage ?? 'queued');
  if (box.dataset.stage !== stage) {
    box.dataset.stage = stage;
    delete box.dataset.unit;
    $('#stage-name').textContent = stage;
    for (const id of ['#stage-task', '#stage-rate', '#stage-message']) $(id).textContent = '';
    $('#stage-eta').textContent = '–';
    $('#job-eta').textContent = '–';
    const bar = $('#stage-bar');
    bar.max = 1;
    bar.value = s.status === 'succeeded' ? 1 : 0;
  }
}

/** A progress event: the bar, the task, images/s, the stage's and the job's ETA. */
function showProgress(e) {
  const box = $('#stage-progress');
  box.hidden = false;
  box.dataset.stage = e.stage;
  box.dataset.unit = e.unit;
  $('#stage-name').textContent = e.stage;
  $('#stage-task').textContent = e.task;
  const bar = $('#stage-bar');
  bar.max = Math.max(e.total, 1e-9);
  bar.value = Math.min(e.done, e.total);
  $('#stage-eta').textContent = fmt.dur(e.etaS);
  $('#job-eta').textContent = fmt.dur(e.jobEtaS);
  $('#stage-rate').textContent = e.imagesPerSec ? `${e.imagesPerSec.toFixed(0)} images/s` : '';
  $('#stage-message').textContent = `${fmt.units(e.done)} of ${fmt.units(e.total)} ${e.unit}${e.total === 1 ? '' : 's'}${e.message ? ` – ${e.message}` : ''}`;
}

/** The time plan: minutes planned and spent per stage, the cuts planned and made. */
function renderPlan(plan) {
  const box = $('#plan');
  box.hidden = !plan;
  if (!plan) return;
  $('#plan-summary').textContent = plan.budgetMinutes === null
    ? `time estimate (no budget), at ${plan.imagesPerSec.toFixed(0)} images/s (${plan.throughputSource})`
    : `time plan for a ${plan.budgetMinutes} min budget, at ${plan.imagesPerSec.toFixed(0)} images/s (${plan.throughputSource})`;
  const spent = plan.actual ?? {};
  $('#plan-rows').replaceChildren(...PLAN_STAGES.map((k) => el('tr', { 'data-plan-stage': k },
    el('td', {}, k), el('td', { class: 'num' }, fmt.num(plan.minutes[k], 2)), el('td', { class: 'num' }, spent[k] === undefined ? '–' : fmt.num(spent[k], 2)))));
  $('#plan-cuts').replaceChildren(
    ...plan.cuts.map((c) => el('li', {}, `planned: ${c.what} ${c.from} → ${c.to}`)),
    ...(plan.decisions ?? []).map((d) => el('li', {}, `${d.stage}: ${d.what} ${d.planned} → ${d.actual} (${d.reason})`)));
}

function logEvent(text) {
  const log = $('#event-log');
  log.prepend(el('li', {}, `${new Date().toLocaleTimeString()} ${text}`));
  while (log.children.length > 200) log.lastChild.remove();
}

function follow(id) {
  source?.close();
  source = searchEvents(id);
  source.addEventListener('state', (m) => renderDetail(JSON.parse(m.data)));
  source.addEventListener('progress', (m) => {
    const e = JSON.parse(m.data);
    showProgress(e);
    // one log line per unit of work (heartbeats within an epoch only move the bar)
    if (Number.isInteger(e.done) && !/, batch \d+ of \d+$/.test(e.message ?? '')) {
      logEvent(`${e.stage}: ${e.task} ${fmt.units(e.done)}/${fmt.units(e.total)} ${e.unit}s` +
        `${e.etaS !== undefined ? `, ETA ${fmt.dur(e.etaS)}` : ''}${e.jobEtaS !== undefined ? ` (job ${fmt.dur(e.jobEtaS)})` : ''}`);
    }
  });
  for (const type of ['trial-finished', 'best-changed', 'stage-changed', 'controller-updated', 'log']) {
    source.addEventListener(type, (m) => {
      const e = JSON.parse(m.data);
      logEvent(type === 'trial-finished' ? `trial ${e.trialId}: ${e.status} ${fmt.pct(e.accuracy)} ${fmt.ms(e.latencyMs)} ms`
        : type === 'stage-changed' ? `stage ${e.stage}${e.detail ? `: ${e.detail}` : ''}`
        : type === 'best-changed' ? `new best ${e.trialId}: ${fmt.pct(e.accuracy)} at ${fmt.ms(e.latencyMs)} ms`
        : type === 'log' ? e.message : `controller update ${e.update}, mean reward ${fmt.num(e.meanReward)}`);
      scheduleRefresh();
    });
  }
  for (const type of ['done', 'failed', 'cancelled']) {
    source.addEventListener(type, (m) => {
      const e = JSON.parse(m.data);
      logEvent(type === 'failed' ? `failed: ${e.error}` : type);
      source.close(); // the server ends the stream; do not reconnect
      scheduleRefresh();
      loadModels().catch(showError);
    });
  }
  source.addEventListener('state', (m) => {
    if (FINAL.has(JSON.parse(m.data).status)) source.close();
  });
}

async function select(id) {
  selected = id;
  for (const tr of document.querySelectorAll('tr[data-search-id]')) tr.classList.toggle('selected', tr.dataset.searchId === id);
  $('#event-log').replaceChildren();
  follow(id);
}

async function loadModels() {
  const { items } = await api('/v1/models');
  const list = $('#model-list');
  if (!items.length) return list.replaceChildren(el('p', { class: 'muted' }, 'none yet'));
  list.replaceChildren(...items.map((m) => {
    const c = m.card ?? {};
    const facts = [
      ['status', m.status], ['stage', m.stage], ['device', m.deviceId ?? '–'], ['search', m.searchId ?? '–'], ['arch', m.archId ?? '–'],
      [m.accuracySplit ? `${m.accuracySplit} accuracy` : 'accuracy', fmt.pct(m.accuracy)],
      ['latency', m.latencyMs === null ? '–' : `${fmt.ms(m.latencyMs)} ms ${m.latencyKind ?? ''}${m.latencyTargetMs ? ` (target ${m.latencyTargetMs} ms)` : ''}`],
      ['params', fmt.int(c.params ?? null)], ['MACs', fmt.int(c.macs ?? null)],
      ...(m.error ? [['error', m.error]] : []),
    ];
    const buttons = (m.formats ?? []).map((f) => el('button', { type: 'button', 'data-format': f.format, title: `sha256 ${f.sha256}`, onclick: async () => {
      try { clearError(); await download(`/v1/models/${encodeURIComponent(m.id)}/download?format=${f.format}`, `${m.id}.${f.format === 'tfjs' ? 'zip' : 'tflite'}`); } catch (e) { showError(e); }
    } }, `Download ${f.format} (${(f.sizeBytes / 1024).toFixed(0)} KiB)`));
    return el('div', { class: 'card', 'data-model-id': m.id },
      el('strong', {}, m.id), el('dl', {}, ...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
      el('div', {}, ...buttons),
      el('details', {}, el('summary', {}, 'model card'), el('pre', { class: 'log' }, JSON.stringify(m.card, null, 2))));
  }));
}

async function loadAll() {
  clearError();
  if (!getKey()) {
    $('#key-status').textContent = 'no key';
    return;
  }
  try {
    await Promise.all([loadDevices(), loadSearches(), loadModels(), loadDatasets(), loadSupernets()]);
    $('#key-status').textContent = 'key accepted';
  } catch (e) {
    $('#key-status').textContent = e instanceof ApiFailure && e.status === 401 ? 'key refused' : '';
    showError(e);
  }
}

$('#key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setKey($('#api-key').value.trim());
  $('#api-key').value = '';
  loadAll();
});
$('#f-device').addEventListener('change', () => localStorage.setItem(DEVICE_KEY, $('#f-device').value));
// scaling and exports belong to the whole run only
$('#f-run').addEventListener('change', () => {
  $('#f-scaleup').disabled = !$('#f-run').checked;
  $('#f-formats').disabled = !$('#f-run').checked;
});
initEvaluatorField();
$('#forget-key').addEventListener('click', () => { setKey(''); location.reload(); });
$('#refresh').addEventListener('click', () => loadAll());
$('#detail-cancel').addEventListener('click', async () => {
  try { await api(`/v1/searches/${encodeURIComponent(selected)}/cancel`, { method: 'POST' }); scheduleRefresh(); } catch (e) { showError(e); }
});

$('#search-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  const minutes = $('#f-minutes').value;
  const body = {
    deviceId: $('#f-device').value,
    latencyTargetMs: Number($('#f-latency').value),
    objective: $('#f-mode').value,
    dataset: $('#f-dataset').value.trim(),
    strategy: $('#f-strategy').value,
    evaluator: $('#f-evaluator').value,
    budget: { maxTrials: Number($('#f-trials').value), ...(minutes ? { maxWallTimeS: Number(minutes) * 60 } : {}) },
    run: $('#f-run').checked,
    ...($('#f-run').checked ? {
      scaleUp: $('#f-scaleup').checked,
      formats: [...document.querySelectorAll('#f-formats input:checked')].map((i) => i.value),
    } : {}),
  };
  $('#form-status').textContent = 'starting...';
  try {
    const s = await api('/v1/searches', { method: 'POST', body });
    $('#form-status').textContent = `started ${s.id}`;
    await loadSearches();
    await select(s.id);
  } catch (e) {
    const refusal = supernetRefusal(e);
    $('#form-status').textContent = refusal ? 'not started: no usable supernet' : '';
    if (refusal) {
      showError(new Error(refusal));
      loadSupernets().catch(() => {});
    } else showError(e);
  }
});

loadAll();
// other searches' progress (the selected one is followed live over SSE)
setInterval(() => {
  if (getKey() && document.visibilityState === 'visible') loadSearches().catch(() => {});
}, 10_000);
