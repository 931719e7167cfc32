// Compare selected runs (#/compare?runs=a,b,c): the objective against each
// hyperparameter, parallel coordinates over chosen params and metrics, a free scatter, and
// the values side by side.
//
// What is a hyperparameter and which metric is the objective comes from the server's
// description of the runs' searches (hyperflow/searches); runs outside a search fall back
// to the params that vary and their first metric. A conditional parameter that is absent
// in a run (inactive under the run's choice) is shown as "inactive", never dropped and
// never drawn as 0; log-uniform parameters are drawn on log axes.

import { h, mount, errorBox, badge, fmtNum, isNumeric, link, pool, setTitle } from './dom.js';
import { api } from './api.js';
import { parallelCoords, scatter, INACTIVE } from './charts.js';

const MAX_RUNS = 500;

/** The searches the runs belong to, merged: {metric, direction, params, tags} or null. */
export async function describeRuns(runs) {
  const parents = [...new Set(runs.map((r) => r.parentId).filter(Boolean))];
  const answers = await pool(parents, 4, (id) => api.searches({ runId: id }).catch(() => null));
  const searches = answers.filter(Boolean).flatMap((a) => a.searches);
  const tags = (answers.find(Boolean) || {}).tags || {};
  if (!searches.length) return { search: null, tags };
  const params = new Map();
  for (const s of searches) for (const p of s.params) if (!params.has(p.name)) params.set(p.name, p);
  return { search: { metric: searches[0].metric, direction: searches[0].direction, params: [...params.values()] }, tags };
}

/** Whether `run` is a pruned trial, by the state tag the searches endpoint names (`tags`). */
export function isPruned(tags, run) {
  return tags.state != null && run.tags[tags.state] === tags.pruned;
}

export async function comparePage(main, route) {
  setTitle('Compare runs');
  const ids = (route.query.get('runs') || '').split(',').filter(Boolean).slice(0, MAX_RUNS);
  if (ids.length < 1) { mount(main, h('h1', {}, 'Compare runs'), h('p', {}, 'Select runs in a runs table, then press Compare.')); return; }
  mount(main, h('h1', {}, 'Compare runs'), h('p', { class: 'muted' }, `Loading ${ids.length} runs…`));
  const runs = (await pool(ids, 6, (id) => api.getRun(id).catch((err) => ({ error: err, id })))).filter(Boolean);
  if (!route.alive()) return;
  const failed = runs.filter((r) => r.error);
  const ok = runs.filter((r) => !r.error);
  const { search, tags } = await describeRuns(ok);
  if (!route.alive()) return;

  const params = [...new Set(ok.flatMap((r) => Object.keys(r.params)))].sort();
  const metrics = [...new Set(ok.flatMap((r) => Object.keys(r.metrics)))].sort();
  const value = (r, col) => (col.startsWith('m:') ? r.metrics[col.slice(2)] : r.params[col.slice(2)]);
  const label = (col) => col.slice(2);
  const varying = params.filter((p) => new Set(ok.map((r) => r.params[p])).size > 1);
  const hyper = search ? search.params.map((p) => p.name) : (varying.length ? varying : params).slice(0, 8);
  const logParams = search ? search.params.filter((p) => p.log).map((p) => p.name) : [];
  const options = new Map(search ? search.params.filter((p) => p.options).map((p) => [p.name, p.options]) : []);
  // Outside a search the user picks the metric (?metric=), and no run is "best": the
  // direction is unknown.
  const asked = route.query.get('metric');
  const objective = metrics.includes(asked) ? asked : search && metrics.includes(search.metric) ? search.metric : metrics[0];
  const direction = search && objective === search.metric ? search.direction : null;
  const better = direction === 'maximize' ? (a, b) => a > b : (a, b) => a < b;
  // A pruned trial's value is the one at the step it was stopped, not a result: it is
  // never the best, and its dot is hollow.
  let best = null;
  for (const r of ok) {
    const v = r.metrics[objective];
    if (direction && !isPruned(tags, r) && Number.isFinite(v) && (!best || better(v, best.metrics[objective]))) best = r;
  }
  const anyPruned = ok.some((r) => isPruned(tags, r));
  const objSel = h('select', { id: 'objective-metric', 'aria-label': 'Metric plotted against each parameter',
    onchange: (e) => { location.hash = link('/compare', { runs: ids.join(','), exp: route.query.get('exp'), metric: e.target.value }); } },
  metrics.map((m) => h('option', { value: m, selected: m === objective }, m)));

  // The objective against each hyperparameter.
  const perParam = h('div', { class: 'charts', id: 'objective-plots' });
  if (objective) {
    for (const p of hyper) {
      const pts = ok.filter((r) => Number.isFinite(r.metrics[objective]))
        .map((r) => ({ x: r.params[p], y: r.metrics[objective], label: r.name, best: r === best, pruned: isPruned(tags, r) }));
      perParam.append(h('figure', { class: 'chart-card', dataset: { param: p } },
        scatter(pts, { xLabel: p, yLabel: objective, xLog: logParams.includes(p), xOrder: options.get(p), width: 420, height: 240 })));
    }
  }

  let axes = [...hyper.filter((p) => params.includes(p)).map((p) => 'p:' + p), ...(objective ? ['m:' + objective] : metrics.slice(0, 3).map((m) => 'm:' + m))];
  const pcSlot = h('div', { class: 'chart-wide', id: 'parallel' });
  const drawPc = () => mount(pcSlot, parallelCoords(ok.map((r) => ({ label: r.name, values: Object.fromEntries(axes.map((a) => [label(a), value(r, a)])) })), axes.map(label), { logAxes: logParams }));
  const axisPicker = h('details', { class: 'picker' }, h('summary', {}, 'Axes'),
    h('div', { class: 'picker-body' }, [['Params', params, 'p:'], ['Metrics', metrics, 'm:']].map(([title, list, pre]) => list.length ? h('fieldset', {}, h('legend', {}, title),
      list.map((k) => h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: axes.includes(pre + k), onchange: (e) => {
        axes = e.target.checked ? [...axes, pre + k] : axes.filter((a) => a !== pre + k);
        // Metrics go last so the line colour follows a metric.
        axes = [...axes.filter((a) => a.startsWith('p:')), ...axes.filter((a) => a.startsWith('m:'))];
        drawPc();
      } }), ' ', k))) : null)));

  const cols = [...params.map((p) => 'p:' + p), ...metrics.map((m) => 'm:' + m)];
  const firstX = hyper.find((p) => params.includes(p)) || varying[0];
  const xSel = h('select', { id: 'scatter-x', 'aria-label': 'Scatter x axis' }, cols.map((c) => h('option', { value: c, selected: c === (firstX ? 'p:' + firstX : cols[0]) }, (c.startsWith('p:') ? 'param ' : 'metric ') + label(c))));
  const ySel = h('select', { id: 'scatter-y', 'aria-label': 'Scatter y axis' }, metrics.map((m) => h('option', { value: 'm:' + m, selected: m === objective }, 'metric ' + m)));
  const scSlot = h('div', { id: 'scatter' });
  const drawScatter = () => {
    if (!metrics.length) { mount(scSlot, h('p', { class: 'muted' }, 'These runs have no metrics.')); return; }
    const pts = ok.filter((r) => value(r, ySel.value) != null)
      .map((r) => ({ x: value(r, xSel.value), y: Number(value(r, ySel.value)), label: r.name, pruned: isPruned(tags, r) }));
    mount(scSlot, scatter(pts, { xLabel: label(xSel.value), yLabel: label(ySel.value), xLog: logParams.includes(label(xSel.value)) }));
  };
  xSel.addEventListener('change', drawScatter);
  ySel.addEventListener('change', drawScatter);

  // Side by side; rows whose values differ are marked; hyperparameters first.
  const ordered = [...hyper.filter((p) => params.includes(p)).map((p) => 'p:' + p), ...cols.filter((c) => !(c.startsWith('p:') && hyper.includes(label(c))))];
  const table = h('table', { class: 'grid compare' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), ok.map((r) => h('th', { scope: 'col' }, h('a', { href: link('/runs/' + encodeURIComponent(r.id)) }, r.name))))),
    h('tbody', {},
      h('tr', {}, h('th', { scope: 'row' }, 'Status'), ok.map((r) => h('td', {}, badge(r.status)))),
      ordered.map((c) => {
        const vals = ok.map((r) => value(r, c));
        const differs = new Set(vals.map(String)).size > 1;
        const isHyper = c.startsWith('p:') && hyper.includes(label(c));
        return h('tr', { class: differs ? 'differs' : '' }, h('th', { scope: 'row' }, c.startsWith('p:') ? label(c) : [h('span', { class: 'muted small' }, 'metric '), label(c)]),
          vals.map((v) => (v == null
            ? h('td', { class: 'muted' }, isHyper ? INACTIVE : '')
            : isNumeric(v) ? h('td', { class: 'num', title: v }, fmtNum(v)) : h('td', { class: 'text' }, v))));
      })));

  const dirText = direction ? ` (${direction})` : '';
  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
      route.query.get('exp') ? h('a', { href: link('/experiments/' + encodeURIComponent(route.query.get('exp'))) }, 'runs') : null),
    h('div', { class: 'title-row' }, h('h1', {}, `Compare ${ok.length} runs`),
      h('a', { class: 'button secondary', href: link('/chart', { runs: ok.map((r) => r.id).join(','), exp: route.query.get('exp') }) }, 'Learning curves')),
    failed.map((f) => errorBox(f.error)),
    objective && hyper.length ? h('section', {}, h('h2', {}, `${objective}${dirText} against each ${search ? 'hyperparameter' : 'parameter'}`),
      h('div', { class: 'toolbar' }, h('label', {}, 'metric ', objSel),
        h('span', { class: 'muted', id: 'objective-note' }, (best ? `The best run, ${best.name}, is the larger green dot. ` : '')
          + (anyPruned ? 'Pruned trials, at the value they were stopped on, are hollow. ' : '')
          + `Runs without a parameter (inactive in that run) are in its "${INACTIVE}" lane.`)),
      perParam) : null,
    h('section', {}, h('h2', {}, 'Parallel coordinates'), h('div', { class: 'toolbar' }, axisPicker, h('span', { class: 'muted' }, 'Lines are coloured by the last metric axis (blue = low).')), pcSlot),
    h('section', {}, h('h2', {}, 'Scatter'), h('div', { class: 'toolbar' }, h('label', {}, 'x ', xSel), h('label', {}, 'y ', ySel)), scSlot),
    h('section', {}, h('h2', {}, 'Values'), h('div', { class: 'table-wrap' }, table)));
  drawPc();
  drawScatter();
}
