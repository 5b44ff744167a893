// The search form's evaluator field: how the search scores its candidates,
// sent as `evaluator`. Proxy training works on any dataset; the supernet and
// its accuracy predictor need a trained supernet of the chosen dataset (GET
// /v1/supernets): without one those choices are disabled and the hint says
// how to train one. The server has the last word: its 409
// supernet_unavailable (e.g. a supernet trained for another input size) is
// shown as such (supernetRefusal).
import { api, ApiFailure } from './api.js';

const $ = (sel) => document.querySelector(sel);

const HINTS = {
  proxy: 'trains each candidate briefly on the proxy task (seconds to minutes per trial)',
  supernet: 'scores each candidate in about a second with weights inherited from the dataset\'s trained supernet',
  predictor: 'scores each candidate in microseconds with the supernet\'s accuracy predictor (re-scored by the supernet at the end of a whole run)',
};

let supernets = [];

/** The supernets this key may use (its own and built-in datasets'), then the field redrawn. */
export async function loadSupernets() {
  supernets = (await api('/v1/supernets')).items;
  renderEvaluator();
}

/** How to train (or import) a supernet for `dataset`, in one line. */
function trainHint(dataset) {
  const imp = '; or import one: POST /v1/supernets/import';
  if (!dataset) return `train one: POST /v1/supernets or nas supernet train --dataset <name>${imp}`;
  return dataset.startsWith('dataset:')
    ? `train one: POST /v1/supernets {"dataset":"${dataset}"}${imp}?dataset=${dataset}`
    : `train one: POST /v1/supernets or nas supernet train --dataset ${dataset}${imp}`;
}

/** Enable the supernet choices only for a dataset with a trained supernet (the predictor: one with a fitted predictor). */
export function renderEvaluator() {
  const dataset = $('#f-dataset').value.trim();
  const trained = supernets.filter((s) => s.dataset === dataset && s.status === 'succeeded');
  const withPredictor = trained.filter((s) => s.metrics?.predictor?.artifactId);
  const sel = $('#f-evaluator');
  sel.querySelector('option[value="supernet"]').disabled = trained.length === 0;
  sel.querySelector('option[value="predictor"]').disabled = withPredictor.length === 0;
  if (sel.selectedOptions[0]?.disabled) sel.value = 'proxy';
  $('#f-evaluator-hint').textContent = HINTS[sel.value] ?? '';
  const missing = $('#f-supernet-hint');
  missing.hidden = trained.length > 0 && withPredictor.length > 0;
  missing.textContent = trained.length === 0
    ? `no trained supernet for ${dataset || 'this dataset'}: ${trainHint(dataset)}`
    : withPredictor.length === 0 ? `supernet ${trained[0].id} has no accuracy predictor: the predictor choice needs one` : '';
}

/** The message for a refused submission when the server had no usable supernet (409 supernet_unavailable), else null. */
export function supernetRefusal(e) {
  if (!(e instanceof ApiFailure) || e.status !== 409 || e.body?.error?.code !== 'supernet_unavailable') return null;
  return `No usable supernet for this search: ${e.message}`;
}

export function initEvaluatorField() {
  for (const ev of ['input', 'change']) $('#f-dataset').addEventListener(ev, renderEvaluator);
  $('#f-evaluator').addEventListener('change', renderEvaluator);
  renderEvaluator();
}
