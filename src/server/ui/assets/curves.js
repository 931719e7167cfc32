// Learning curves (#/chart?runs=a,b&metric=loss): the metric histories (step → value) of
// the selected runs overlaid in one chart, one colour per run, a legend naming each
// trial by its number; pruned trials are dashed with a cross where they were stopped. The
// metric chooser and the log-scale switch live in the URL.

import { h, mount, errorBox, link, pool, setTitle } from './dom.js';
import { api } from './api.js';
import { linesChart } from './charts.js';
import { describeRuns, isPruned } from './compare.js';

const MAX_RUNS = 50;

export async function curvesPage(main, route) {
  setTitle('Learning curves');
  const q = route.query;
  const ids = (q.get('runs') || '').split(',').filter(Boolean);
  if (!ids.length) { mount(main, h('h1', {}, 'Learning curves'), h('p', {}, 'Select runs in a runs table, then press Chart.')); return; }
  const shown = ids.slice(0, MAX_RUNS);
  mount(main, h('h1', {}, 'Learning curves'), h('p', { class: 'muted' }, `Loading ${shown.length} runs…`));
  const loaded = await pool(shown, 6, (id) => api.getRun(id).catch((err) => ({ error: err, id })));
  if (!route.alive()) return;
  const runs = loaded.filter((r) => !r.error);
  const { search, tags } = await describeRuns(runs);
  if (!route.alive()) return;

  // The default metric: the one with the longest history (the latest step is known
  // without fetching), the objective on a tie.
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const lastStep = (k) => Math.max(...runs.map((r) => (k in r.steps ? r.steps[k] : -1)));
  const ranked = [...keys].sort((a, b) => lastStep(b) - lastStep(a) || (b === (search && search.metric)) - (a === (search && search.metric)));
  const metric = keys.includes(q.get('metric')) ? q.get('metric') : ranked[0];
  const logY = q.get('log') === '1';
  const go = (changes) => { location.hash = link('/chart', { runs: ids.join(','), exp: q.get('exp'), metric, log: logY ? '1' : '', ...changes }); };
  const nameOf = (r) => (tags.trial && r.tags[tags.trial] != null ? `trial ${r.tags[tags.trial]}` : r.name);

  const select = h('select', { id: 'curve-metric', 'aria-label': 'Metric', onchange: (e) => go({ metric: e.target.value }) },
    keys.map((k) => h('option', { value: k, selected: k === metric }, k)));
  const logBox = h('label', { class: 'check-inline' }, h('input', { type: 'checkbox', id: 'curve-log', checked: logY, onchange: (e) => go({ log: e.target.checked ? '1' : '' }) }), ' log scale');
  const slot = h('div', { id: 'curves' }, h('p', { class: 'muted' }, 'Loading histories…'));
  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
      q.get('exp') ? h('a', { href: link('/experiments/' + encodeURIComponent(q.get('exp'))) }, 'runs') : null),
    h('div', { class: 'title-row' }, h('h1', {}, 'Learning curves'),
      runs.length > 1 ? h('a', { class: 'button secondary', href: link('/compare', { runs: ids.join(','), exp: q.get('exp') }) }, 'Compare') : null),
    loaded.filter((r) => r.error).map((r) => errorBox(r.error)),
    ids.length > shown.length ? h('p', { class: 'muted' }, `Showing the first ${shown.length} of ${ids.length} runs.`) : null,
    keys.length ? h('div', { class: 'toolbar' }, h('label', {}, 'metric ', select), logBox) : null,
    keys.length ? slot : h('p', { class: 'muted' }, 'These runs have no metrics.'));
  if (!keys.length) return;
  setTitle('Learning curves', metric);

  // A pruned trial's curve stops where the pruner stopped it: drawn dashed, its end marked.
  const series = await pool(runs, 4, async (r) => {
    const pruned = isPruned(tags, r);
    if (!(metric in r.metrics)) return { label: nameOf(r), points: [], pruned };
    const points = await api.metricHistory(r.id, metric);
    const last = points.reduce((m, p) => Math.max(m, p.step), -Infinity);
    const label = pruned && Number.isFinite(last) ? `${nameOf(r)} (pruned at step ${last})` : nameOf(r);
    return { label, points, pruned };
  }).catch((err) => err);
  if (!route.alive()) return;
  if (series instanceof Error) { mount(slot, errorBox(series)); return; }
  mount(slot, linesChart(series, { title: metric, width: 760, height: 360, logY }));
}
