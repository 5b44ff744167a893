// Minimal SVG charts for benchmark reports (no dependency, no browser): line
// charts (reward curves) and scatter plots with reference lines (accuracy vs
// latency). Axes with ticks, a legend, one colour per series.

export interface Series {
  name: string;
  points: { x: number; y: number; label?: string }[];
  /** 'line' (default) joins the points; 'points' draws markers only */
  style?: 'line' | 'points';
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** vertical reference lines (e.g. latency targets) */
  vLines?: { x: number; label: string }[];
  width?: number;
  height?: number;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** About five round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e5) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

export function chartSvg(o: ChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 440;
  const m = { l: 70, r: 180, t: 40, b: 55 };
  const pts = o.series.flatMap((s) => s.points);
  const xs = [...pts.map((p) => p.x), ...(o.vLines ?? []).map((v) => v.x)];
  const ys = pts.map((p) => p.y);
  if (xs.length === 0 || ys.length === 0) throw new Error(`chart "${o.title}": no points`);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const padX = (x1 - x0) * 0.04;
  const padY = (y1 - y0) * 0.06;
  x0 -= padX; x1 += padX; y0 -= padY; y1 += padY;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  // axes and grid
  for (const t of ticks(x0, x1)) {
    out.push(`<line x1="${px(t)}" y1="${m.t}" x2="${px(t)}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 15}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  for (const v of o.vLines ?? []) {
    out.push(`<line x1="${px(v.x)}" y1="${m.t}" x2="${px(v.x)}" y2="${H - m.b}" stroke="#555" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${px(v.x) + 3}" y="${m.t + 12}" fill="#555">${esc(v.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const sorted = s.style === 'points' ? s.points : [...s.points].sort((a, b) => a.x - b.x);
    if (s.style !== 'points' && sorted.length > 1) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${sorted.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of sorted) {
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="${s.style === 'points' ? 4 : 2.5}" fill="${c}"/>`);
      if (p.label) out.push(`<text x="${(px(p.x) + 6).toFixed(1)}" y="${(py(p.y) - 6).toFixed(1)}" fill="${c}" font-size="10">${esc(p.label)}</text>`);
    }
    const ly = m.t + 10 + i * 18;
    out.push(`<rect x="${W - m.r + 12}" y="${ly - 8}" width="12" height="12" fill="${c}"/>`);
    out.push(`<text x="${W - m.r + 30}" y="${ly + 2}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
