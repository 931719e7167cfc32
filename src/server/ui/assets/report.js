// Sensible-ranges report of a sweep (#/report/<exp>?parent=<run>) or a whole experiment
// (#/report/<exp>, optionally &filter=..), as `hyperflow report` makes it: the server
// analyses the runs (ajax-api/2.0/hyperflow/report) and answers with the report's sections
// (the same tables and notes as every other renderer) and its SVG plots. This page only
// lays them out; plots are shown as images, so their SVG is never part of the page's DOM.

import { h, mount, link, setTitle } from './dom.js';
import { api } from './api.js';

export async function reportPage(main, route) {
  const expId = route.params[0];
  const q = (k) => route.query.get(k) || '';
  const parentId = q('parent');
  const settings = { metric: q('metric'), direction: q('direction'), filter: parentId ? '' : q('filter') };
  const [exp, parent] = await Promise.all([api.getExperiment(expId), parentId ? api.getRun(parentId) : null]);
  setTitle('Report', parent ? parent.name : exp.name);
  // The sections name the sweep or experiment; the crumbs say where it lives.
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
    h('a', { href: link('/experiments/' + encodeURIComponent(expId)) }, exp.name), ' / ',
    parent ? [h('a', { href: link('/runs/' + encodeURIComponent(parent.id)) }, parent.name), ' / '] : null);
  const title = h('h1', {}, 'Sensible ranges');
  mount(main, crumbs, title, controls(expId, parentId, settings), h('p', { class: 'muted' }, 'Analysing the runs…'));
  // page_only: the sections and plots, without the report's per-trial data.
  const answer = await api.report(parentId
    ? { parent_run_id: parentId, metric: settings.metric, direction: settings.direction, page_only: true }
    : { experiment_id: expId, ...settings, page_only: true });
  if (!route.alive()) return;
  mount(main, crumbs, title, controls(expId, parentId, settings),
    h('div', { id: 'report' }, answer.sections.map((sec) => section(sec, answer.range_legend))),
    answer.plots.length ? [h('h2', {}, 'Plots'), h('div', { id: 'report-plots', class: 'report-plots' }, answer.plots.map(plot))] : null);
}

/** Metric, direction and (for an experiment) filter; applying them changes the hash. */
function controls(expId, parentId, settings) {
  const metric = h('input', { type: 'text', id: 'report-metric', value: settings.metric, placeholder: 'loss metric', title: "The metric that is the loss (default: the sweep's objective, else loss)", 'aria-label': 'Loss metric' });
  const direction = h('select', { id: 'report-direction', 'aria-label': 'Direction' },
    [['', 'direction as logged'], ['minimize', 'minimize'], ['maximize', 'maximize']].map(([v, t]) => h('option', { value: v, selected: v === settings.direction }, t)));
  const filter = parentId ? null : h('input', { type: 'search', id: 'report-filter', class: 'grow', value: settings.filter, placeholder: "trials matching, e.g. params.optimizer = 'adam'", 'aria-label': 'Filter trial runs' });
  const apply = (e) => {
    e.preventDefault();
    location.hash = link('/report/' + encodeURIComponent(expId), { parent: parentId, metric: metric.value.trim(), direction: direction.value, filter: filter && filter.value.trim() });
  };
  return h('form', { class: 'toolbar', onsubmit: apply }, metric, direction, filter, h('button', { type: 'submit' }, 'Apply'));
}

/** One section of the report: a heading and its table, lines or notes. */
function section(sec, legend) {
  const heading = h(sec.level === 2 ? 'h2' : 'h3', {}, sec.title);
  if (sec.lines) return [heading, h('p', { class: 'report-lines' }, sec.lines.flatMap((l, i) => (i ? [h('br'), l] : [l])))];
  if (sec.notes) return [heading, h('ul', {}, sec.notes.map((n) => h('li', {}, n)))];
  const t = sec.table;
  const rangeCol = t.header.indexOf('range');
  const runCol = t.header.indexOf('run');
  const cell = (text, i) => {
    const cls = t.right.includes(i) ? 'num' : i === rangeCol ? 'mono nowrap' : 'text';
    const body = i === runCol && text ? h('a', { href: link('/runs/' + encodeURIComponent(text)) }, text) : text;
    return h('td', { class: cls }, body);
  };
  return [heading,
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid report-table', dataset: { section: sec.title } },
      h('thead', {}, h('tr', {}, t.header.map((c, i) => h('th', { scope: 'col', class: t.right.includes(i) ? 'num' : null }, c)))),
      h('tbody', {}, t.rows.map((row) => h('tr', {}, row.map(cell)))))),
    rangeCol >= 0 ? h('p', { class: 'muted small' }, legend) : null];
}

/** A plot as an image of its SVG document (an image cannot run scripts or touch the page). */
function plot(p) {
  const src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(p.svg);
  return h('figure', { class: 'chart-card' }, h('img', { src, alt: p.title, class: 'report-plot' }), h('figcaption', { class: 'small muted' }, p.title));
}
