// Compare selected runs (#/compare?runs=a,b,c): parallel coordinates over chosen params
// and metrics, a scatter of a metric against a param, and the values side by side.

import { h, mount, errorBox, badge, fmtNum, isNumeric, link, pool, setTitle } from './dom.js';
import { api } from './api.js';
import { parallelCoords, scatter } from './charts.js';

const MAX_RUNS = 500;

export async function comparePage(main, route) {
  setTitle('Compare runs');
  const ids = (route.query.get('runs') || '').split(',').filter(Boolean).slice(0, MAX_RUNS);
  if (ids.length < 1) { mount(main, h('h1', {}, 'Compare runs'), h('p', {}, 'Select runs in a runs table, then press Compare.')); return; }
  mount(main, h('h1', {}, 'Compare runs'), h('p', { class: 'muted' }, `Loading ${ids.length} runs…`));
  const runs = (await pool(ids, 6, (id) => api.getRun(id).catch((err) => ({ error: err, id })))).filter(Boolean);
  if (!route.alive()) return;
  const failed = runs.filter((r) => r.error);
  const ok = runs.filter((r) => !r.error);

  const params = [...new Set(ok.flatMap((r) => Object.keys(r.params)))].sort();
  const metrics = [...new Set(ok.flatMap((r) => Object.keys(r.metrics)))].sort();
  const value = (r, col) => (col.startsWith('m:') ? r.metrics[col.slice(2)] : r.params[col.slice(2)]);
  const label = (col) => col.slice(2);
  // Default axes: params that vary between the runs, then the metrics.
  const varying = params.filter((p) => new Set(ok.map((r) => r.params[p])).size > 1);
  let axes = [...(varying.length ? varying : params).slice(0, 8).map((p) => 'p:' + p), ...metrics.slice(0, 3).map((m) => 'm:' + m)];

  const pcSlot = h('div', { class: 'chart-wide', id: 'parallel' });
  const drawPc = () => mount(pcSlot, parallelCoords(ok.map((r) => ({ label: r.name, values: Object.fromEntries(axes.map((a) => [label(a), value(r, a)])) })), axes.map(label)));
  const axisPicker = h('details', { class: 'picker' }, h('summary', {}, 'Axes'),
    h('div', { class: 'picker-body' }, [['Params', params, 'p:'], ['Metrics', metrics, 'm:']].map(([title, list, pre]) => list.length ? h('fieldset', {}, h('legend', {}, title),
      list.map((k) => h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: axes.includes(pre + k), onchange: (e) => {
        axes = e.target.checked ? [...axes, pre + k] : axes.filter((a) => a !== pre + k);
        // Metrics go last so the line colour follows a metric.
        axes = [...axes.filter((a) => a.startsWith('p:')), ...axes.filter((a) => a.startsWith('m:'))];
        drawPc();
      } }), ' ', k))) : null)));

  const cols = [...params.map((p) => 'p:' + p), ...metrics.map((m) => 'm:' + m)];
  const xSel = h('select', { id: 'scatter-x', 'aria-label': 'Scatter x axis' }, cols.map((c) => h('option', { value: c, selected: c === (varying[0] ? 'p:' + varying[0] : cols[0]) }, (c.startsWith('p:') ? 'param ' : 'metric ') + label(c))));
  const ySel = h('select', { id: 'scatter-y', 'aria-label': 'Scatter y axis' }, metrics.map((m) => h('option', { value: 'm:' + m }, 'metric ' + m)));
  const scSlot = h('div', { id: 'scatter' });
  const drawScatter = () => {
    if (!metrics.length) { mount(scSlot, h('p', { class: 'muted' }, 'These runs have no metrics.')); return; }
    const pts = ok.filter((r) => value(r, xSel.value) != null && value(r, ySel.value) != null)
      .map((r) => ({ x: value(r, xSel.value), y: Number(value(r, ySel.value)), label: r.name }));
    mount(scSlot, scatter(pts, { xLabel: label(xSel.value), yLabel: label(ySel.value) }));
  };
  xSel.addEventListener('change', drawScatter);
  ySel.addEventListener('change', drawScatter);

  // Side by side; rows whose values differ are marked.
  const table = h('table', { class: 'grid compare' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), ok.map((r) => h('th', { scope: 'col' }, h('a', { href: link('/runs/' + encodeURIComponent(r.id)) }, r.name))))),
    h('tbody', {},
      h('tr', {}, h('th', { scope: 'row' }, 'Status'), ok.map((r) => h('td', {}, badge(r.status)))),
      cols.map((c) => {
        const vals = ok.map((r) => value(r, c));
        const differs = new Set(vals.map(String)).size > 1;
        return h('tr', { class: differs ? 'differs' : '' }, h('th', { scope: 'row' }, c.startsWith('p:') ? label(c) : [h('span', { class: 'muted small' }, 'metric '), label(c)]),
          vals.map((v) => h('td', { class: isNumeric(v) ? 'num' : 'text' }, v == null ? '' : c.startsWith('m:') ? fmtNum(v) : v)));
      })));

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
      route.query.get('exp') ? h('a', { href: link('/experiments/' + encodeURIComponent(route.query.get('exp'))) }, 'runs') : null),
    h('h1', {}, `Compare ${ok.length} runs`),
    failed.map((f) => errorBox(f.error)),
    h('section', {}, h('h2', {}, 'Parallel coordinates'), h('div', { class: 'toolbar' }, axisPicker, h('span', { class: 'muted' }, 'Lines are coloured by the last metric axis (blue = low).')), pcSlot),
    h('section', {}, h('h2', {}, 'Scatter'), h('div', { class: 'toolbar' }, h('label', {}, 'x ', xSel), h('label', {}, 'y ', ySel)), scSlot),
    h('section', {}, h('h2', {}, 'Values'), h('div', { class: 'table-wrap' }, table)));
  drawPc();
  drawScatter();
}
