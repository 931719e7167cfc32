// Small SVG charts drawn from data: a line chart (metric history by step), a scatter
// plot and parallel coordinates. Everything is an SVG element built with s(), labels are
// text nodes; each chart has a <title> and aria-label so it is not a mystery to screen
// readers, and points carry <title> tooltips.

import { s, fmtNum, isNumeric } from './dom.js';

/** A linear scale from a data domain to a pixel range. */
export function scale(values, r0, r1) {
  const xs = values.filter((v) => Number.isFinite(v));
  // reduce, not Math.min(...xs): spreading a huge array overflows the call stack.
  let lo = xs.length ? xs.reduce((a, b) => (b < a ? b : a)) : 0;
  let hi = xs.length ? xs.reduce((a, b) => (b > a ? b : a)) : 1;
  if (lo === hi) { lo -= 1; hi += 1; }
  const map = (v) => r0 + ((v - lo) / (hi - lo)) * (r1 - r0);
  map.domain = [lo, hi];
  map.ticks = (n = 5) => {
    const step0 = (hi - lo) / n;
    const mag = 10 ** Math.floor(Math.log10(step0));
    // The first "nice" step (1, 2, 2.5, 5 × 10^k) giving at most about n ticks.
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= step0 * 0.8) || step0;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  };
  return map;
}

/** Categorical scale: evenly spaced bands, in first-seen order. */
function bandScale(values, r0, r1) {
  const cats = [...new Set(values)];
  const step = (r1 - r0) / Math.max(1, cats.length);
  const map = (v) => r0 + step * (cats.indexOf(v) + 0.5);
  map.cats = cats;
  return map;
}

function frame(width, height, label) {
  return s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, class: 'chart' },
    s('title', {}, label));
}

function axisLeft(svg, y, x0, x1) {
  for (const t of y.ticks(4)) {
    const py = y(t);
    svg.append(s('line', { x1: x0, x2: x1, y1: py, y2: py, class: 'grid' }),
      s('text', { x: x0 - 4, y: py + 3, class: 'tick', 'text-anchor': 'end' }, fmtNum(t)));
  }
}

function axisBottom(svg, x, y0, labelOf = fmtNum) {
  const ticks = x.cats ? x.cats : x.ticks(5);
  for (const t of ticks) {
    svg.append(s('text', { x: x(t), y: y0 + 14, class: 'tick', 'text-anchor': 'middle' }, x.cats ? String(t).slice(0, 12) : labelOf(t)));
  }
}

/**
 * At most about 2·buckets points: the lowest and highest point of each bucket of
 * consecutive points, in order. A chart 400 px wide cannot show more, and this keeps
 * every spike visible (plain striding would drop them).
 */
export function downsample(pts, buckets = 1000) {
  if (pts.length <= 2 * buckets) return pts;
  const size = pts.length / buckets;
  const out = [];
  for (let b = 0; b < buckets; b++) {
    const slice = pts.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (!slice.length) continue;
    let lo = slice[0], hi = slice[0];
    for (const p of slice) { if (p.value < lo.value) lo = p; if (p.value > hi.value) hi = p; }
    if (lo === hi) out.push(lo);
    else out.push(...(slice.indexOf(lo) < slice.indexOf(hi) ? [lo, hi] : [hi, lo]));
  }
  return out;
}

/** Line chart of [{step, value}] sorted by step; one path, dots when few points. */
export function lineChart(points, { title = '', width = 420, height = 220 } = {}) {
  const m = { l: 56, r: 12, t: 22, b: 28 };
  const svg = frame(width, height, `${title}: ${points.length} points by step`);
  const pts = downsample(points.filter((p) => Number.isFinite(p.value)).sort((a, b) => a.step - b.step || a.timestamp - b.timestamp));
  const x = scale(pts.map((p) => p.step), m.l, width - m.r);
  const y = scale(pts.map((p) => p.value), height - m.b, m.t);
  svg.append(s('text', { x: m.l, y: 14, class: 'chart-title' }, title));
  axisLeft(svg, y, m.l, width - m.r);
  axisBottom(svg, x, height - m.b);
  if (pts.length) {
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
    svg.append(s('path', { d, class: 'series' }));
    if (pts.length <= 60) {
      for (const p of pts) svg.append(s('circle', { cx: x(p.step), cy: y(p.value), r: 2.5, class: 'dot' }, s('title', {}, `step ${p.step}: ${fmtNum(p.value)}`)));
    }
  }
  svg.append(s('text', { x: width - m.r, y: height - 2, class: 'axis-label', 'text-anchor': 'end' }, 'step'));
  return svg;
}

/** Colour for t in [0, 1]: blue (good/low) to orange (high). */
export function ramp(t) {
  const u = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0.5));
  const h = 220 - u * 190;
  return `hsl(${h.toFixed(0)} 75% 45%)`;
}

/** Scatter of items [{x, y, label}]; x may be categorical (strings). */
export function scatter(items, { xLabel = '', yLabel = '', width = 460, height = 260 } = {}) {
  const m = { l: 60, r: 12, t: 12, b: 40 };
  const svg = frame(width, height, `${yLabel} against ${xLabel}: ${items.length} points`);
  const numeric = items.every((p) => isNumeric(p.x));
  const x = numeric ? scale(items.map((p) => Number(p.x)), m.l, width - m.r) : bandScale(items.map((p) => String(p.x)), m.l, width - m.r);
  const y = scale(items.map((p) => p.y), height - m.b, m.t);
  axisLeft(svg, y, m.l, width - m.r);
  axisBottom(svg, x, height - m.b);
  items.forEach((p, i) => {
    const jitter = numeric ? 0 : ((i * 7919) % 11 - 5) * 1.5; // spread points of one category
    const px = (numeric ? x(Number(p.x)) : x(String(p.x))) + jitter;
    if (!Number.isFinite(p.y)) return;
    svg.append(s('circle', { cx: px.toFixed(1), cy: y(p.y).toFixed(1), r: 3.5, class: 'dot' },
      s('title', {}, `${p.label}: ${xLabel}=${numeric ? fmtNum(p.x) : p.x}, ${yLabel}=${fmtNum(p.y)}`)));
  });
  svg.append(s('text', { x: (m.l + width - m.r) / 2, y: height - 4, class: 'axis-label', 'text-anchor': 'middle' }, xLabel));
  svg.append(s('text', { x: 12, y: (m.t + height - m.b) / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 12 ${(m.t + height - m.b) / 2})` }, yLabel));
  return svg;
}

/**
 * Parallel coordinates: rows [{label, values: {axis: value}}], axes [names]; lines are
 * coloured by the last axis (usually the metric being optimised).
 */
export function parallelCoords(rows, axes, { width = 900, height = 320 } = {}) {
  const m = { l: 40, r: 60, t: 28, b: 24 };
  const svg = frame(width, height, `Parallel coordinates of ${rows.length} runs over ${axes.join(', ')}`);
  if (axes.length < 2) { svg.append(s('text', { x: 20, y: 40 }, 'Choose at least two columns.')); return svg; }
  const step = (width - m.l - m.r) / (axes.length - 1);
  const scales = axes.map((a) => {
    const vals = rows.map((r) => r.values[a]).filter((v) => v != null && v !== '');
    return vals.every(isNumeric)
      ? scale(vals.map(Number), height - m.b, m.t)
      : bandScale(vals.map(String), height - m.b, m.t);
  });
  const last = scales[scales.length - 1];
  const color = (r) => {
    const v = r.values[axes[axes.length - 1]];
    if (v == null || last.cats) return '#888';
    const [lo, hi] = last.domain;
    return ramp((Number(v) - lo) / (hi - lo || 1));
  };
  const g = s('g', { class: 'lines' });
  for (const r of rows) {
    let d = '';
    let pen = false;
    axes.forEach((a, i) => {
      const v = r.values[a];
      if (v == null || v === '') { pen = false; return; }
      const py = scales[i].cats ? scales[i](String(v)) : scales[i](Number(v));
      if (!Number.isFinite(py)) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${(m.l + i * step).toFixed(1)},${py.toFixed(1)}`;
      pen = true;
    });
    g.append(s('path', { d, class: 'pc-line', stroke: color(r) }, s('title', {}, r.label)));
  }
  svg.append(g);
  axes.forEach((a, i) => {
    const px = m.l + i * step;
    const sc = scales[i];
    svg.append(s('line', { x1: px, x2: px, y1: m.t, y2: height - m.b, class: 'pc-axis' }),
      s('text', { x: px, y: 14, class: 'axis-label', 'text-anchor': 'middle' }, a));
    const ticks = sc.cats ? sc.cats : sc.ticks(4);
    for (const t of ticks) {
      svg.append(s('text', { x: px + 4, y: sc(t) + 3, class: 'tick' }, sc.cats ? String(t).slice(0, 14) : fmtNum(t)));
    }
  });
  return svg;
}
