// Run page: info, description, params, metrics with history charts, tags, child runs
// and the artifacts browser with previews.

import { h, mount, errorBox, badge, fmtTime, fmtAgo, fmtDuration, fmtNum, link, pool, setTitle } from './dom.js';
import { api, filterString } from './api.js';
import { lineChart } from './charts.js';

const MAX_CHARTS = 24;
const MAX_PREVIEW_CHARS = 200000;
const TEXT_EXT = ['txt', 'log', 'md', 'csv', 'tsv', 'py', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'sh', 'rs', 'out', 'err'];
const IMAGE_EXT = ['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp', 'svg'];

export async function runPage(main, route) {
  const run = await api.getRun(route.params[0]);
  if (!route.alive()) return;
  setTitle(run.name);
  const [exp, parent, kids] = await Promise.all([
    api.getExperiment(run.experimentId).catch(() => null),
    run.parentId ? api.getRun(run.parentId).catch(() => null) : null,
    api.searchRuns({ experimentIds: [run.experimentId], filter: `tags.mlflow.parentRunId = ${filterString(run.id)}`, maxResults: 1 }).catch(() => null),
  ]);
  if (!route.alive()) return;

  const expLink = () => h('a', { href: link('/experiments/' + encodeURIComponent(run.experimentId)) }, exp ? exp.name : run.experimentId);
  const info = [
    ['Run ID', h('code', {}, run.id)],
    ['Experiment', expLink()],
    ['Status', badge(run.status)],
    ['Started', when(run.start)],
    ['Ended', when(run.end)],
    ['Duration', fmtDuration(run.start, run.end)],
    ['User', run.user],
    ['Parent run', parent ? h('a', { href: link('/runs/' + encodeURIComponent(parent.id)) }, parent.name) : run.parentId],
    ['Lifecycle', run.lifecycle],
    ['Artifact URI', h('code', {}, run.artifactUri)],
  ].filter(([, v]) => v);

  const note = run.tags['mlflow.note.content'];
  const metricKeys = Object.keys(run.metrics).sort();
  const charts = h('div', { class: 'charts', id: 'metric-charts' });
  const childInfo = kids && kids.runs.length
    ? h('p', {}, 'This run has child runs (trials): ',
      h('a', { href: link('/experiments/' + encodeURIComponent(run.experimentId), { filter: `tags.mlflow.parentRunId = ${filterString(run.id)}` }) }, 'show them'),
      ' · ', h('a', { href: link('/report/' + encodeURIComponent(run.experimentId), { parent: run.id }) }, 'report'))
    : null;
  const artifacts = h('div', { class: 'artifacts', id: 'artifacts' });

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / ', expLink(), ' / '),
    h('div', { class: 'title-row' }, h('h1', {}, run.name), badge(run.status)),
    h('dl', { class: 'info' }, info.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    childInfo,
    note ? h('section', {}, h('h2', {}, 'Description'), h('div', { class: 'note', id: 'description' }, note)) : null,
    section('Parameters', kvTable(run.params, 'params')),
    section('Metrics', metricKeys.length ? [kvTable(Object.fromEntries(metricKeys.map((k) => [k, fmtNum(run.metrics[k])])), 'metrics', run.steps), charts] : h('p', { class: 'muted' }, 'No metrics.')),
    section('Tags', tagTables(run.tags)),
    section('Artifacts', artifacts));

  // Histories: a few requests at a time, each chart appears as its data arrives.
  const keys = metricKeys.slice(0, MAX_CHARTS);
  if (metricKeys.length > keys.length) charts.after(h('p', { class: 'muted' }, `Charts for the first ${keys.length} of ${metricKeys.length} metrics.`));
  const slots = keys.map((k) => { const f = h('figure', { class: 'chart-card', dataset: { metric: k } }, h('p', { class: 'muted' }, k + '…')); charts.append(f); return f; });
  const artifactsDone = artifactBrowser(artifacts, run, route);
  await pool(keys, 4, async (k, i) => {
    if (!route.alive()) return;
    try {
      const hist = await api.metricHistory(run.id, k);
      mount(slots[i], lineChart(hist, { title: k }));
    } catch (err) {
      mount(slots[i], errorBox(err));
    }
  });
  await artifactsDone;
}

/** "2026-11-23 13:05:01 (3 min ago)", or nothing for a missing time. */
function when(ms) {
  return ms ? [fmtTime(ms), ' ', h('span', { class: 'muted' }, `(${fmtAgo(ms)})`)] : null;
}

function section(title, ...body) {
  return h('section', {}, h('h2', {}, title), body);
}

function kvTable(obj, id, steps) {
  const keys = Object.keys(obj).sort();
  if (!keys.length) return h('p', { class: 'muted' }, 'None.');
  return h('table', { class: 'grid kv', id },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'), steps ? h('th', { scope: 'col', class: 'num' }, 'Step') : null)),
    h('tbody', {}, keys.map((k) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'text' }, obj[k]), steps ? h('td', { class: 'num' }, String(steps[k] ?? '')) : null))));
}

/** User tags first; system tags (mlflow.*) folded away. */
function tagTables(tags) {
  const user = {};
  const system = {};
  for (const [k, v] of Object.entries(tags)) {
    if (k === 'mlflow.note.content') continue;
    (k.startsWith('mlflow.') ? system : user)[k] = v;
  }
  return [kvTable(user, 'tags'), Object.keys(system).length ? h('details', {}, h('summary', {}, `System tags (${Object.keys(system).length})`), kvTable(system, 'system-tags')) : null];
}

/** A lazy tree of the run's artifacts next to a preview pane. */
async function artifactBrowser(el, run, route) {
  const preview = h('div', { class: 'preview', id: 'artifact-preview', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Select a file to preview it.'));
  const tree = h('ul', { class: 'tree', role: 'tree', 'aria-label': 'Artifacts' });
  mount(el, h('div', { class: 'artifact-layout' }, h('nav', { class: 'tree-pane' }, tree), preview));

  async function fill(ul, path) {
    let files;
    try { files = await api.listArtifacts(run.id, path); } catch (err) { mount(ul, h('li', {}, errorBox(err))); return; }
    if (!route.alive()) return;
    if (!files.length && !path) { mount(ul, h('li', { class: 'muted' }, 'No artifacts.')); return; }
    files.sort((a, b) => (b.is_dir - a.is_dir) || a.path.localeCompare(b.path));
    mount(ul, files.map((f) => {
      const name = f.path.split('/').pop();
      if (f.is_dir) {
        const sub = h('ul', { role: 'group', hidden: true });
        let loaded = false;
        const arrow = h('span', { 'aria-hidden': 'true' }, '▸ ');
        const btn = h('button', { type: 'button', class: 'linkish', 'aria-expanded': 'false', onclick: async () => {
          const open = btn.getAttribute('aria-expanded') !== 'true';
          btn.setAttribute('aria-expanded', String(open));
          arrow.textContent = open ? '▾ ' : '▸ ';
          sub.hidden = !open;
          if (open && !loaded) { loaded = true; mount(sub, h('li', { class: 'muted' }, '…')); await fill(sub, f.path); }
        } }, arrow, name + '/');
        return h('li', { role: 'treeitem' }, btn, sub);
      }
      return h('li', { role: 'treeitem' }, h('button', { type: 'button', class: 'linkish file', dataset: { path: f.path }, onclick: () => show(f).catch((err) => mount(preview, errorBox(err))) },
        name, h('span', { class: 'muted small' }, f.file_size != null ? ` ${fmtSize(f.file_size)}` : '')));
    }));
  }

  async function show(f) {
    const url = api.artifactUrl(run.artifactUri, f.path);
    const ext = (f.path.split('.').pop() || '').toLowerCase();
    const head = h('div', { class: 'preview-head' }, h('strong', {}, f.path), url ? h('a', { href: url, download: f.path.split('/').pop() }, 'download') : null);
    if (!url) { mount(preview, head, h('p', { class: 'muted' }, 'This run\'s artifacts are not served by the artifact proxy, so they cannot be previewed here.')); return; }
    if (IMAGE_EXT.includes(ext)) {
      // <img> never runs scripts inside an SVG, so SVG artifacts are safe to show this way.
      mount(preview, head, h('img', { src: url, alt: f.path, class: 'artifact-image' }));
      return;
    }
    if (ext === 'json' || TEXT_EXT.includes(ext) || (f.file_size != null && f.file_size < 65536 && !['bin', 'pkl', 'pt', 'zip', 'gz', 'npy'].includes(ext))) {
      mount(preview, head, h('p', { class: 'muted' }, 'Loading…'));
      const resp = await fetch(url);
      if (!resp.ok) { mount(preview, head, errorBox(new Error(`HTTP ${resp.status}`))); return; }
      let text = await resp.text();
      let note = null;
      if (ext === 'json') {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { note = 'Not valid JSON; shown as text.'; }
      }
      if (text.length > MAX_PREVIEW_CHARS) { text = text.slice(0, MAX_PREVIEW_CHARS); note = `Showing the first ${MAX_PREVIEW_CHARS} characters.`; }
      mount(preview, head, note ? h('p', { class: 'muted' }, note) : null, h('pre', { class: 'text-preview' + (ext === 'json' ? ' json' : '') }, text));
      return;
    }
    mount(preview, head, h('p', { class: 'muted' }, 'No preview for this file type.'));
  }

  await fill(tree, '');
}

function fmtSize(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}
