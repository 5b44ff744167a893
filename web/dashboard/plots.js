// uPlot charts: accuracy vs latency (all trials, the Pareto front, the
// latency target as a vertical line) and the reward per trial with the best
// so far. uPlot is served from the installed package (/vendor/uplot/).
/* global uPlot */

const charts = new Map();

function mount(el, opts, data) {
  charts.get(el)?.destroy();
  el.textContent = '';
  if (data[0].length === 0) {
    el.innerHTML = '<p class="muted">no finished trials yet</p>';
    charts.delete(el);
    return;
  }
  charts.set(el, new uPlot(opts, data, el));
}

function targetLine(targetMs) {
  return (u) => {
    const x = u.valToPos(targetMs, 'x', true);
    if (!Number.isFinite(x)) return;
    const { ctx } = u;
    ctx.save();
    ctx.strokeStyle = '#c0392b';
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.restore();
  };
}

/** trials: [{id, accuracy, latencyMs}], paretoIds: Set of trial ids, targetMs: number */
export function paretoPlot(el, trials, paretoIds, targetMs) {
  const pts = trials.filter((t) => t.accuracy !== null && Number.isFinite(t.latencyMs)).sort((a, b) => a.latencyMs - b.latencyMs);
  const xs = pts.map((t) => t.latencyMs);
  const all = pts.map((t) => t.accuracy);
  const front = pts.map((t) => (paretoIds.has(t.id) ? t.accuracy : null));
  const maxX = Math.max(targetMs * 1.1, ...xs);
  mount(el, {
    width: 460, height: 260,
    scales: { x: { time: false, range: [0, maxX * 1.05] }, y: { range: [0, 1] } },
    axes: [{ label: 'latency (ms)' }, { label: 'accuracy' }],
    series: [
      { label: 'latency ms' },
      { label: 'trials', stroke: '#5470c6', paths: () => null, points: { show: true, size: 6, fill: '#5470c6' } },
      { label: 'Pareto front', stroke: '#1e9c50', width: 2, spanGaps: true, points: { show: true, size: 8, fill: '#1e9c50' } },
    ],
    hooks: { draw: [targetLine(targetMs)] },
  }, [xs, all, front]);
}

/** trials in order: [{seq, reward}] */
export function rewardPlot(el, trials) {
  const done = trials.filter((t) => t.reward !== null).sort((a, b) => a.seq - b.seq);
  let best = -Infinity;
  const xs = done.map((t) => t.seq);
  const rewards = done.map((t) => t.reward);
  const bests = done.map((t) => (best = Math.max(best, t.reward)));
  mount(el, {
    width: 460, height: 260,
    scales: { x: { time: false } },
    axes: [{ label: 'trial' }, { label: 'reward' }],
    series: [
      { label: 'trial' },
      { label: 'reward', stroke: '#5470c6', paths: () => null, points: { show: true, size: 6, fill: '#5470c6' } },
      { label: 'best so far', stroke: '#e67e22', width: 2 },
    ],
  }, [xs, rewards, bests]);
}
