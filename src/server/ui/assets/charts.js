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

/**
 * A log10 scale over the positive values (others cannot be placed on it: callers show
 * them apart). Ticks are decades, with more multiples between them when the domain
 * spans fewer than two decades.
 */
export function logScale(values, r0, r1) {
  const xs = values.filter((v) => Number.isFinite(v) && v > 0).map(Math.log10);
  let lo = xs.length ? xs.reduce((a, b) => (b < a ? b : a)) : 0;
  let hi = xs.length ? xs.reduce((a, b) => (b > a ? b : a)) : 1;
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const map = (v) => r0 + ((Math.log10(v) - lo) / (hi - lo)) * (r1 - r0);
  map.domain = [10 ** lo, 10 ** hi];
  map.log = true;
  map.ticks = () => {
    // Within one decade every 1..9 multiple is a candidate (the axis keeps those whose
    // labels fit); within two, 1, 2 and 5; else decades only.
    const span = hi - lo;
    const mults = span < 1 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : span < 2 ? [1, 2, 5] : [1];
    const out = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const m of mults) {
        const t = Number((m * 10 ** e).toPrecision(12));
        const l = Math.log10(t);
        if (l >= lo - 1e-9 && l <= hi + 1e-9) out.push(t);
      }
    }
    return out;
  };
  return map;
}

/** A log scale when asked and every value is positive, else a linear one. */
export function autoScale(values, r0, r1, log) {
  return log && values.length && values.every((v) => v > 0) ? logScale(values, r0, r1) : scale(values, r0, r1);
}

/** Approximate width in px of a tick label at the charts' 10px font. */
const labelWidth = (text) => String(text).length * 6 + 2;

/**
 * The ticks whose labels fit without overlapping, in order: a tick is kept when its
 * label is at least `gap` px clear of the last kept one. `size(label)` is the label's
 * extent along the axis (its width on a horizontal axis, its height on a vertical one).
 */
export function fitTicks(ticks, pos, label, size, gap = 6) {
  const out = [];
  let last = null;
  for (const t of ticks) {
    const p = pos(t);
    if (!Number.isFinite(p)) continue;
    const half = size(label(t)) / 2;
    if (last && Math.abs(p - last.p) < last.half + half + gap) continue;
    out.push(t);
    last = { p, half };
  }
  return out;
}

/** Categorical scale: evenly spaced bands, in the given order, then first-seen order. */
function bandScale(values, r0, r1, order = []) {
  const cats = [...new Set([...order.filter((c) => values.includes(c)), ...values])];
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
  for (const t of fitTicks(y.ticks(5), y, fmtNum, () => 11, 4)) {
    const py = y(t);
    svg.append(s('line', { x1: x0, x2: x1, y1: py, y2: py, class: 'grid' }),
      s('text', { x: x0 - 4, y: py + 3, class: 'tick', 'text-anchor': 'end' }, fmtNum(t)));
  }
}

function axisBottom(svg, x, y0) {
  const label = (t) => (x.cats ? String(t).slice(0, 12) : fmtNum(t));
  const ticks = x.cats ? x.cats : x.ticks(6);
  for (const t of fitTicks(ticks, x, label, labelWidth)) {
    svg.append(s('text', { x: x(t), y: y0 + 14, class: 'tick', 'text-anchor': 'middle' }, label(t)));
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

/** Distinct colours for series, in order (then repeated). */
export const PALETTE = ['#1d4ed8', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#b45309'];

/** Line chart of one metric history [{step, value}]. */
export function lineChart(points, { title = '', width = 420, height = 220 } = {}) {
  return linesChart([{ label: title, points }], { title, width, height, legend: false });
}

/**
 * Line chart of several series [{label, points: [{step, value}]}] over a shared step
 * axis (learning curves): one coloured path each, dots when few points, a legend.
 * `logY` puts the values on a log axis when they are all positive.
 */
export function linesChart(series, { title = '', width = 420, height = 220, logY = false, legend = true } = {}) {
  const m = { l: 56, r: 12, t: 22, b: 28 };
  const prepared = series.map((sr, i) => ({
    ...sr,
    color: PALETTE[i % PALETTE.length],
    pts: downsample(sr.points.filter((p) => Number.isFinite(p.value)).sort((a, b) => a.step - b.step || a.timestamp - b.timestamp)),
  }));
  const count = prepared.reduce((n, sr) => n + sr.pts.length, 0);
  const svg = frame(width, height, `${title}: ${prepared.length > 1 ? prepared.length + ' series, ' : ''}${count} points by step`);
  const all = prepared.flatMap((sr) => sr.pts);
  const x = scale(all.map((p) => p.step), m.l, width - m.r);
  const y = autoScale(all.map((p) => p.value), height - m.b, m.t, logY);
  svg.append(s('text', { x: m.l, y: 14, class: 'chart-title' }, title));
  axisLeft(svg, y, m.l, width - m.r);
  axisBottom(svg, x, height - m.b);
  for (const sr of prepared) {
    if (!sr.pts.length) continue;
    const d = sr.pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
    const g = s('g', { class: 'series-group', dataset: { series: sr.label } }, s('title', {}, sr.label));
    g.append(s('path', { d, class: sr.pruned ? 'series pruned' : 'series', stroke: sr.color }));
    if (sr.pruned) {
      const end = sr.pts[sr.pts.length - 1];
      const [cx, cy] = [x(end.step), y(end.value)];
      g.append(s('path', { d: `M${cx - 5},${cy - 5}L${cx + 5},${cy + 5}M${cx - 5},${cy + 5}L${cx + 5},${cy - 5}`, class: 'pruned-mark', stroke: sr.color },
        s('title', {}, `${sr.label}: stopped at step ${end.step} (${fmtNum(end.value)})`)));
    }
    if (sr.pts.length <= 60) {
      for (const p of sr.pts) g.append(s('circle', { cx: x(p.step), cy: y(p.value), r: 2.5, class: 'dot', fill: sr.color }, s('title', {}, `${sr.label}, step ${p.step}: ${fmtNum(p.value)}`)));
    }
    svg.append(g);
  }
  svg.append(s('text', { x: width - m.r, y: height - 2, class: 'axis-label', 'text-anchor': 'end' }, 'step'));
  if (!legend) return svg;
  const box = document.createElement('figure');
  box.className = 'lines-chart';
  box.append(svg, legendOf(prepared));
  return box;
}

/** A legend: one coloured swatch and label per series (dashed for pruned ones). */
function legendOf(series) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  for (const sr of series) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = sr.pruned ? `repeating-linear-gradient(90deg, ${sr.color} 0 5px, transparent 5px 8px)` : sr.color;
    li.append(sw, ' ', sr.label, sr.pts.length ? '' : ' (no values)');
    ul.append(li);
  }
  return ul;
}

/** Colour for t in [0, 1]: blue (good/low) to orange (high). */
export function ramp(t) {
  const u = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0.5));
  const h = 220 - u * 190;
  return `hsl(${h.toFixed(0)} 75% 45%)`;
}

/** The label of the lane where values of runs without the parameter go. */
export const INACTIVE = 'inactive';

const absent = (v) => v == null || v === '';

/**
 * Scatter of items [{x, y, label, best, pruned}] (pruned ones hollow); x may be
 * categorical (strings). Items whose x
 * is absent (a conditional parameter inactive in that run) are drawn in a separate
 * "inactive" lane at the right, never dropped and never at 0. `xLog` puts a positive
 * numeric x on a log axis; `xOrder` orders categories (a choice's options).
 */
export function scatter(items, { xLabel = '', yLabel = '', width = 460, height = 260, xLog = false, xOrder = [] } = {}) {
  const m = { l: 60, r: 12, t: 12, b: 40 };
  const svg = frame(width, height, `${yLabel} against ${xLabel}: ${items.length} points`);
  const present = items.filter((p) => !absent(p.x));
  const inactive = items.length - present.length;
  const lane = inactive ? 60 : 0; // px for the inactive lane
  const x1 = width - m.r - lane;
  const numeric = present.every((p) => isNumeric(p.x));
  const x = numeric ? autoScale(present.map((p) => Number(p.x)), m.l, x1, xLog) : bandScale(present.map((p) => String(p.x)), m.l, x1, xOrder);
  const y = scale(items.map((p) => p.y), height - m.b, m.t);
  axisLeft(svg, y, m.l, width - m.r);
  axisBottom(svg, x, height - m.b);
  if (lane) {
    svg.append(s('rect', { x: x1 + 10, y: m.t, width: lane - 10, height: height - m.b - m.t, class: 'inactive-lane' }),
      s('text', { x: x1 + 10 + (lane - 10) / 2, y: height - m.b + 14, class: 'tick inactive-label', 'text-anchor': 'middle' }, INACTIVE));
  }
  items.forEach((p, i) => {
    if (!Number.isFinite(p.y)) return;
    const jitter = ((i * 7919) % 11 - 5) * 1.5; // spread points of one category or lane
    const off = absent(p.x);
    const px = off ? x1 + 10 + (lane - 10) / 2 + jitter : numeric ? x(Number(p.x)) : x(String(p.x)) + jitter;
    svg.append(s('circle', { cx: px.toFixed(1), cy: y(p.y).toFixed(1), r: p.best ? 5 : 3.5, class: 'dot' + (off ? ' inactive' : '') + (p.best ? ' best' : '') + (p.pruned ? ' pruned' : '') },
      s('title', {}, `${p.label}${p.pruned ? ' (pruned)' : ''}: ${xLabel}=${off ? INACTIVE : numeric ? fmtNum(p.x) : p.x}, ${yLabel}=${fmtNum(p.y)}`)));
  });
  const axisName = xLabel + (x.log ? ' (log)' : '');
  svg.append(s('text', { x: (m.l + x1) / 2, y: height - 4, class: 'axis-label', 'text-anchor': 'middle' }, axisName));
  svg.append(s('text', { x: 12, y: (m.t + height - m.b) / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 12 ${(m.t + height - m.b) / 2})` }, yLabel));
  return svg;
}

/**
 * Parallel coordinates: rows [{label, values: {axis: value}}], axes [names]; lines are
 * coloured by the last axis (usually the objective). Runs without a value on an axis (an
 * inactive conditional parameter) pass through an "inactive" mark below that axis.
 * Axes named in `logAxes` are log scaled.
 */
export function parallelCoords(rows, axes, { width = 900, height = 340, logAxes = [] } = {}) {
  const m = { l: 40, r: 60, t: 28, b: 44 };
  const svg = frame(width, height, `Parallel coordinates of ${rows.length} runs over ${axes.join(', ')}`);
  if (axes.length < 2) { svg.append(s('text', { x: 20, y: 40 }, 'Choose at least two columns.')); return svg; }
  const step = (width - m.l - m.r) / (axes.length - 1);
  const laneY = height - m.b + 22; // where inactive values go
  const scales = axes.map((a) => {
    const vals = rows.map((r) => r.values[a]).filter((v) => !absent(v));
    const sc = vals.every(isNumeric)
      ? autoScale(vals.map(Number), height - m.b, m.t, logAxes.includes(a))
      : bandScale(vals.map(String), height - m.b, m.t);
    sc.inactive = vals.length < rows.length;
    return sc;
  });
  const last = scales[scales.length - 1];
  const color = (r) => {
    const v = r.values[axes[axes.length - 1]];
    if (absent(v) || last.cats) return '#888';
    const [lo, hi] = last.domain;
    const t = last.log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1) : (Number(v) - lo) / (hi - lo || 1);
    return ramp(t);
  };
  const g = s('g', { class: 'lines' });
  for (const r of rows) {
    let d = '';
    axes.forEach((a, i) => {
      const v = r.values[a];
      const sc = scales[i];
      let py = absent(v) ? laneY : sc.cats ? sc(String(v)) : sc(Number(v));
      if (!Number.isFinite(py)) py = laneY; // e.g. a value a log axis cannot place
      d += `${d ? 'L' : 'M'}${(m.l + i * step).toFixed(1)},${py.toFixed(1)}`;
    });
    g.append(s('path', { d, class: 'pc-line', stroke: color(r) }, s('title', {}, r.label)));
  }
  svg.append(g);
  axes.forEach((a, i) => {
    const px = m.l + i * step;
    const sc = scales[i];
    svg.append(s('line', { x1: px, x2: px, y1: m.t, y2: height - m.b, class: 'pc-axis' }),
      s('text', { x: px, y: 14, class: 'axis-label', 'text-anchor': 'middle' }, a + (sc.log ? ' (log)' : '')));
    const label = (t) => (sc.cats ? String(t).slice(0, 14) : fmtNum(t));
    for (const t of fitTicks(sc.cats ? sc.cats : sc.ticks(4), sc, label, () => 11, 3)) {
      svg.append(s('text', { x: px + 4, y: sc(t) + 3, class: 'tick' }, label(t)));
    }
    if (sc.inactive) {
      svg.append(s('circle', { cx: px, cy: laneY, r: 3, class: 'inactive-lane' }),
        s('text', { x: px + 5, y: laneY + 3, class: 'tick inactive-label' }, INACTIVE));
    }
  });
  return svg;
}
