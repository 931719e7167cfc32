// Sensible-ranges report of a sweep (#/report/<exp>?parent=<run>) or a whole experiment,
// computed in the browser from runs/search results. It follows hyperflow's `report`
// method in simplified form: the top trials are the best ceil(0.2 n) finished runs with a
// finite metric; a parameter's good range is where the top trials lie (min..max, or the
// 5th..95th percentile from 20 top trials on); "signal" is a rough importance
// (|Spearman rho| for numbers, eta squared for choices), not the PED-ANOVA of
// `hyperflow report`, which stays the reference for decisions.

import { h, mount, badge, fmtNum, isNumeric, link, setTitle } from './dom.js';
import { api, filterString } from './api.js';
import { scatter } from './charts.js';

const TOP = 0.2;

export async function reportPage(main, route) {
  const expId = route.params[0];
  const parentId = route.query.get('parent') || '';
  const [exp, parent] = await Promise.all([api.getExperiment(expId), parentId ? api.getRun(parentId) : null]);
  setTitle('Report', parent ? parent.name : exp.name);
  mount(main, h('h1', {}, 'Report'), h('p', { class: 'muted' }, 'Loading runs…'));
  const { runs, truncated } = await api.searchAllRuns({
    experimentIds: [expId],
    filter: parentId ? `tags.mlflow.parentRunId = ${filterString(parentId)}` : '',
  });
  if (!route.alive()) return;

  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const metric = route.query.get('metric') || (metricNames.includes('loss') ? 'loss' : metricNames[0]);
  const dir = route.query.get('dir') === 'max' ? 'max' : 'min';
  const go = (changes) => { location.hash = link('/report/' + encodeURIComponent(expId), { parent: parentId, metric, dir, ...changes }); };

  const scored = runs.filter((r) => r.status === 'FINISHED' && Number.isFinite(r.metrics[metric]));
  scored.sort((a, b) => (dir === 'min' ? 1 : -1) * (a.metrics[metric] - b.metrics[metric]));
  const nTop = scored.length ? Math.ceil(TOP * scored.length) : 0;
  const cut = nTop ? scored[nTop - 1].metrics[metric] : null;
  const top = scored.filter((r, i) => i < nTop || r.metrics[metric] === cut); // ties join the top
  const topIds = new Set(top.map((r) => r.id));
  const params = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const analyses = params.map((p) => analyze(p, scored, topIds, metric, dir)).filter(Boolean).sort((a, b) => b.signal - a.signal);
  const counts = {};
  for (const r of runs) counts[r.status] = (counts[r.status] || 0) + 1;
  const best = scored[0];

  const controls = h('div', { class: 'toolbar' },
    h('label', {}, 'Metric ', h('select', { id: 'report-metric', onchange: (e) => go({ metric: e.target.value }) }, metricNames.map((m) => h('option', { value: m, selected: m === metric }, m)))),
    h('label', {}, 'Goal ', h('select', { onchange: (e) => go({ dir: e.target.value }) }, h('option', { value: 'min', selected: dir === 'min' }, 'minimize'), h('option', { value: 'max', selected: dir === 'max' }, 'maximize'))));

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
      h('a', { href: link('/experiments/' + encodeURIComponent(expId)) }, exp.name), ' / '),
    h('h1', {}, 'Report: ', parent ? parent.name : exp.name),
    controls,
    h('p', { id: 'report-summary' }, `${runs.length} runs${truncated ? ' (first 10000)' : ''}: `,
      Object.entries(counts).map(([st, n]) => [badge(st), ` ${n} `]),
      `· ${scored.length} finished with a finite ${metric || 'metric'} · top ${top.length} (best ${Math.round(TOP * 100)}%, ties included).`),
    best ? h('p', {}, 'Best: ', h('a', { href: link('/runs/' + encodeURIComponent(best.id)) }, best.name), ` ${metric} = ${fmtNum(best.metrics[metric])} with `,
      h('code', {}, Object.entries(best.params).map(([k, v]) => `${k}=${v}`).join(', '))) : h('p', { class: 'muted' }, 'No finished runs with this metric yet.'),
    top.length && top.length < 5 ? h('p', { class: 'warn' }, 'Fewer than 5 top trials: ranges are shown, but too few to say what matters.') : null,
    h('p', { class: 'muted small' }, 'Computed in the browser: "signal" is a rough importance (|Spearman ρ| for numbers, η² for choices). ',
      h('code', {}, 'hyperflow report'), ' gives PED-ANOVA importance and recommended ranges.'),
    analyses.length ? h('div', { class: 'report-params' }, analyses.map((a) => paramCard(a, metric))) : null);
}

function quantile(sorted, q) {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (i - lo);
}

function ranks(xs) {
  const idx = xs.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0]);
  const r = new Array(xs.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

function pearson(a, b) {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return saa && sbb ? sab / Math.sqrt(saa * sbb) : 0;
}

/** One parameter: kind, ranges or per-choice table, and a rough importance. */
function analyze(p, scored, topIds, metric, dir) {
  const have = scored.filter((r) => r.params[p] != null);
  if (!have.length) return null;
  const vals = have.map((r) => r.params[p]);
  const ys = have.map((r) => r.metrics[metric]);
  const distinct = new Set(vals);
  const numeric = vals.every(isNumeric) && distinct.size > 3;
  const points = have.map((r) => ({ x: numeric ? Number(r.params[p]) : r.params[p], y: r.metrics[metric], label: r.name, highlight: topIds.has(r.id) }));
  if (numeric) {
    const xs = vals.map(Number);
    const topXs = have.filter((r) => topIds.has(r.id)).map((r) => Number(r.params[p])).sort((a, b) => a - b);
    const all = [...xs].sort((a, b) => a - b);
    const good = topXs.length >= 20 ? [quantile(topXs, 0.05), quantile(topXs, 0.95)] : [topXs[0], topXs[topXs.length - 1]];
    const log = all[0] > 0 && all[all.length - 1] / all[0] >= 100;
    return { p, numeric, log, points, good, searched: [all[0], all[all.length - 1]], signal: xs.length > 2 ? Math.abs(pearson(ranks(xs), ranks(ys))) : 0 };
  }
  // Choices: per value count, top count, best and median metric; eta squared.
  const groups = new Map();
  have.forEach((r, i) => { const k = String(vals[i]); if (!groups.has(k)) groups.set(k, []); groups.get(k).push(r); });
  const mean = ys.reduce((s, y) => s + y, 0) / ys.length;
  const ssTot = ys.reduce((s, y) => s + (y - mean) ** 2, 0);
  let ssBetween = 0;
  const rows = [...groups.entries()].map(([v, rs]) => {
    const m = rs.map((r) => r.metrics[metric]).sort((a, b) => a - b);
    const gm = m.reduce((s, y) => s + y, 0) / m.length;
    ssBetween += m.length * (gm - mean) ** 2;
    return { v, n: rs.length, top: rs.filter((r) => topIds.has(r.id)).length, best: dir === 'min' ? m[0] : m[m.length - 1], median: quantile(m, 0.5) };
  });
  return { p, numeric, points, rows, signal: ssTot ? ssBetween / ssTot : 0 };
}

function paramCard(a, metric) {
  const bar = h('span', { class: 'signal-bar', 'aria-hidden': 'true' }, h('span', {}));
  bar.firstChild.style.width = Math.round(Math.min(1, a.signal) * 100) + '%';
  const body = a.numeric
    ? h('p', {}, 'Top trials: ', h('strong', {}, `${fmtNum(a.good[0])} … ${fmtNum(a.good[1])}`), ` of searched ${fmtNum(a.searched[0])} … ${fmtNum(a.searched[1])}`, a.log ? ' (log scale)' : '')
    : h('table', { class: 'grid small' },
      h('thead', {}, h('tr', {}, ['value', 'trials', 'top', 'best', 'median'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, a.rows.map((r) => h('tr', { class: r.top ? '' : 'dim' }, h('td', { class: 'text' }, r.v), h('td', { class: 'num' }, String(r.n)), h('td', { class: 'num' }, String(r.top)), h('td', { class: 'num' }, fmtNum(r.best)), h('td', { class: 'num' }, fmtNum(r.median))))));
  return h('section', { class: 'card param-card', dataset: { param: a.p } },
    h('h3', {}, a.p, ' ', h('span', { class: 'muted small' }, `signal ${a.signal.toFixed(2)}`), bar),
    body,
    scatter(a.points, { xLabel: a.p, yLabel: metric, band: a.numeric ? a.good : null, logX: a.log, width: 380, height: 220 }));
}
