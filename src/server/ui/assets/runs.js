// Runs table of one experiment. The server does the work: filtering (MLflow's filter
// language), ordering (order_by) and paging (page tokens), so the table stays fast with
// many thousands of runs; the page shows one page of matches at a time.
//
// Nesting: runs are grouped under their parent (tag mlflow.parentRunId). A child whose
// parent is not among the matches gets its parent fetched and shown as a dimmed
// "context" row, so a filter on trial metrics still shows which sweep they belong to.
// Groups start collapsed, or expanded while a filter is active (the user is looking for
// the matching trials). All view state lives in the URL hash, so links and reloads work.
//
// Counts: a parent shows how many children it has in all ("100 of 100000"), and the
// page how many runs match, each one COUNT query on the server (hyperflow/runs/count); a
// parent with children beyond this page links to its children alone, paged by the server.
//
// Searches: when the experiment holds searches (sweeps, fmin), the default columns are
// what a tuner looks at: the trial number, its state, the objective (with its direction,
// the best trial marked) and each hyperparameter of the searched space, as the server
// describes them (hyperflow/searches). The sweep's own settings (command, env) are params
// of the parent run and stay in the column picker.

import { h, mount, errorBox, badge, timeAgo, fmtDuration, fmtNum, isNumeric, link, pool, setTitle } from './dom.js';
import { api, ApiError, filterKey, filterString } from './api.js';

const PAGE_SIZES = [50, 100, 250, 1000];
const MAX_DEFAULT_COLS = 6;

/** Column spec as stored: 'metrics:loss', 'params:lr', 'tags:team'. */
function parseCol(s) {
  const i = s.indexOf(':');
  return { kind: s.slice(0, i), key: s.slice(i + 1), id: s };
}

function loadCols(expId) {
  try { const v = JSON.parse(localStorage.getItem('hf.cols.' + expId)); return Array.isArray(v) ? v : null; } catch { return null; }
}
function saveCols(expId, cols) {
  try { localStorage.setItem('hf.cols.' + expId, JSON.stringify(cols)); } catch { /* private mode: keep in memory */ }
}

/** Order-by identifier for a fixed column or a data column. */
function orderKey(col) {
  if (col === 'name') return 'attributes.run_name';
  if (col === 'status') return 'attributes.status';
  if (col === 'start') return 'attributes.start_time';
  const c = parseCol(col);
  return filterKey(c.kind, c.key);
}

export async function runsPage(main, route) {
  const expId = route.params[0];
  const q = route.query;
  const filter = q.get('filter') || '';
  const order = q.get('order') || '';
  // Any size the server accepts works from the URL; the menu offers the usual ones.
  const asked = Math.floor(Number(q.get('size')));
  const size = asked >= 1 && asked <= 50000 ? asked : 100;
  const stack = (q.get('pages') || '').split(',').filter(Boolean);

  // Navigate to the same page with some view state changed.
  const go = (changes) => {
    const next = { filter, order, size: size === 100 ? '' : size, pages: stack.join(','), ...changes };
    location.hash = link('/experiments/' + encodeURIComponent(expId), next);
  };

  const [exp, described] = await Promise.all([
    api.getExperiment(expId),
    // Without a description the table still works, with generic columns.
    api.searches({ experimentId: expId }).catch(() => ({ searches: [], tags: {} })),
  ]);
  if (!route.alive()) return;
  const view = searchView(described);
  setTitle(exp.name);

  let page = { runs: [] };
  let searchError = null;
  try {
    page = await api.searchRuns({ experimentIds: [expId], filter, orderBy: order ? [order] : [], maxResults: size, pageToken: stack[stack.length - 1] });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    searchError = err; // shown next to the filter box, with the server's message
  }
  const matched = page.runs;
  const byId = new Map(matched.map((r) => [r.id, r]));
  const context = new Map();
  const missing = [...new Set(matched.map((r) => r.parentId).filter((p) => p && !byId.has(p)))];
  for (let i = 0; i < missing.length; i += 100) {
    const ids = missing.slice(i, i + 100);
    try {
      const res = await api.searchRuns({ experimentIds: [expId], filter: `attributes.run_id IN (${ids.map(filterString).join(', ')})`, maxResults: ids.length, viewType: 'ALL' });
      for (const r of res.runs) context.set(r.id, r);
    } catch { /* parents are context only; children still show */ }
  }
  if (!route.alive()) return;

  // Tree: top-level nodes in order of their first matching run.
  const nodes = new Map();
  const node = (run, isContext) => {
    if (!nodes.has(run.id)) nodes.set(run.id, { run, context: isContext, kids: [] });
    return nodes.get(run.id);
  };
  const top = new Set(); // insertion-ordered, no duplicates
  for (const r of matched) node(r, false);
  for (const r of matched) {
    const n = nodes.get(r.id);
    const parentRun = r.parentId && (byId.get(r.parentId) || context.get(r.parentId));
    if (parentRun && parentRun.id !== r.id) {
      const p = node(parentRun, !byId.has(parentRun.id));
      p.kids.push(n);
      if (p.context) top.add(p);
    } else {
      top.add(n);
    }
  }
  const roots = [...top];
  // Children in all, per parent (filled in after the table is shown).
  const totals = new Map();
  const childFilter = (id) => `${filterKey('tags', described.tags && described.tags.parent ? described.tags.parent : 'mlflow.parentRunId')} = ${filterString(id)}`;
  // Searches start expanded: their trials are what the page is for.
  const expanded = new Set(filter ? [...nodes.keys()] : view.searchIds);
  const selected = new Set();

  // Columns: saved choice, else the first metrics and params seen on this page.
  const keys = { metrics: new Set(), params: new Set(), tags: new Set() };
  for (const r of [...matched, ...context.values()]) {
    for (const k of Object.keys(r.metrics)) keys.metrics.add(k);
    for (const k of Object.keys(r.params)) keys.params.add(k);
    for (const k of Object.keys(r.tags)) if (!k.startsWith('mlflow.')) keys.tags.add(k);
  }
  let cols = loadCols(expId) || view.defaultCols || [
    ...[...keys.metrics].sort().slice(0, MAX_DEFAULT_COLS).map((k) => 'metrics:' + k),
    ...[...keys.params].sort().slice(0, MAX_DEFAULT_COLS).map((k) => 'params:' + k),
  ];

  // ---- toolbar: filter box, column picker, compare, page size
  const input = h('input', { type: 'search', id: 'filter', name: 'filter', value: filter, class: 'grow mono', spellcheck: 'false', autocomplete: 'off',
    placeholder: "metrics.loss < 0.5 and params.lr = '0.01'", 'aria-label': 'Filter runs (MLflow search syntax)', 'aria-describedby': 'filter-error' });
  const form = h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); go({ filter: input.value.trim(), pages: '' }); } },
    input,
    h('button', { type: 'submit' }, 'Search'),
    filter ? h('button', { type: 'button', class: 'secondary', onclick: () => go({ filter: '', pages: '' }) }, 'Clear') : null);
  const errorSlot = h('div', { id: 'filter-error' }, searchError ? errorBox(searchError) : null);

  const compareBtn = h('button', { type: 'button', id: 'compare', disabled: true, onclick: () => {
    location.hash = link('/compare', { runs: [...selected].join(','), exp: expId });
  } }, 'Compare');
  const chartBtn = h('button', { type: 'button', id: 'chart', class: 'secondary', disabled: true, title: 'Overlay the metric histories (learning curves) of the selected runs', onclick: () => {
    location.hash = link('/chart', { runs: [...selected].join(','), exp: expId });
  } }, 'Chart');
  const updateCompare = () => {
    compareBtn.disabled = selected.size < 2;
    compareBtn.textContent = selected.size ? `Compare ${selected.size} runs` : 'Compare';
    chartBtn.disabled = selected.size < 1;
  };

  const picker = columnPicker(keys, cols, (next) => { cols = next; saveCols(expId, cols); renderTable(); });
  const sizeSelect = h('select', { 'aria-label': 'Runs per page', onchange: (e) => go({ size: e.target.value, pages: '' }) },
    [...new Set([...PAGE_SIZES, size])].sort((a, b) => a - b).map((n) => h('option', { value: n, selected: n === size }, `${n} per page`)));

  const tableSlot = h('div', { class: 'table-wrap' });
  const count = h('p', { id: 'run-count', class: 'muted', 'aria-live': 'polite' },
    `${matched.length} run${matched.length === 1 ? '' : 's'}${page.next ? ' on this page' : ''}` +
    (filter ? ' match the filter' : '') + (context.size ? ` (plus ${context.size} parent${context.size > 1 ? 's' : ''} for context)` : ''));

  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'secondary', id: 'prev-page', disabled: !stack.length, onclick: () => go({ pages: stack.slice(0, -1).join(',') }) }, '← Previous'),
    h('span', { class: 'muted', id: 'page-number' }, `page ${stack.length + 1}`),
    h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: !page.next, onclick: () => go({ pages: [...stack, page.next].join(',') }) }, 'Next →'));

  mount(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Experiments'), ' / '),
    h('div', { class: 'title-row' },
      h('h1', {}, exp.name, ' ', h('span', { class: 'muted small' }, '#' + exp.experiment_id)),
      h('a', { class: 'button secondary', href: link('/report/' + encodeURIComponent(expId)) }, 'Report')),
    form, errorSlot,
    filterHelp(),
    h('div', { class: 'toolbar' }, picker, compareBtn, chartBtn, sizeSelect, count),
    tableSlot, pager);

  function renderTable() {
    const dataCols = cols.map(parseCol);
    const sortHeader = (id, label, cls) => {
      const key = orderKey(id);
      const [curKey, curDir] = order ? splitOrder(order) : ['attributes.start_time', 'DESC'];
      const active = curKey === key;
      const dir = active ? curDir : null;
      const nextDir = active ? (dir === 'ASC' ? 'DESC' : 'ASC') : (id === 'start' ? 'DESC' : 'ASC');
      return h('th', { scope: 'col', class: cls, dataset: { col: id }, 'aria-sort': dir ? (dir === 'ASC' ? 'ascending' : 'descending') : 'none' },
        h('button', { type: 'button', class: 'sort', title: `Sort by ${label}`, onclick: () => go({ order: `${key} ${nextDir}`, pages: '' }) },
          label, dir ? (dir === 'ASC' ? ' ▲' : ' ▼') : ''));
    };
    const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all runs on this page', onchange: (e) => {
      for (const n of nodes.values()) { if (!n.context) { if (e.target.checked) selected.add(n.run.id); else selected.delete(n.run.id); } }
      for (const cb of tbody.querySelectorAll('input.select')) cb.checked = selected.has(cb.value);
      updateCompare();
    } });
    const thead = h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'narrow' }, allBox),
      sortHeader('name', 'Run', ''),
      // What the user chose to look at comes first, so narrow windows still show it.
      dataCols.map((c) => sortHeader(c.id, view.label(c), view.headerClass(c))),
      sortHeader('status', 'Status', ''),
      sortHeader('start', 'Started', ''),
      h('th', { scope: 'col' }, 'Duration')));
    const tbody = h('tbody');
    const rowsById = new Map();
    const togglesById = new Map();
    const addRows = (n, depth, parentId) => {
      const tr = runRow(n, depth, parentId, dataCols);
      rowsById.set(n.run.id, tr);
      tbody.append(tr);
      for (const k of n.kids) addRows(k, depth + 1, n.run.id);
    };
    for (const n of roots) addRows(n, 0, '');
    const table = h('table', { class: 'grid runs', id: 'runs' }, thead, tbody);

    // Show a row only when every ancestor is expanded.
    const refresh = () => {
      const walk = (n, visible) => {
        const tr = rowsById.get(n.run.id);
        if (tr.hidden === visible) tr.hidden = !visible; // touch only rows that change
        const tog = togglesById.get(n.run.id);
        if (tog) {
          const open = expanded.has(n.run.id);
          tog.setAttribute('aria-expanded', String(open));
          tog.firstChild.textContent = open ? '▾' : '▸';
        }
        for (const k of n.kids) walk(k, visible && expanded.has(n.run.id));
      };
      for (const n of roots) walk(n, true);
    };

    function runRow(n, depth, parentId, dataCols) {
      const r = n.run;
      const nameCell = h('td', { class: 'name' });
      nameCell.style.paddingLeft = (0.5 + depth * 1.4) + 'em';
      if (n.kids.length) {
        const tog = h('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false', 'aria-label': `Show or hide ${n.kids.length} child runs of ${r.name}`,
          onclick: () => { if (expanded.has(r.id)) expanded.delete(r.id); else expanded.add(r.id); refresh(); } },
        h('span', { 'aria-hidden': 'true' }, '▸'), h('span', { class: 'kids', dataset: { kidsOf: r.id } }, kidsText(n)));
        togglesById.set(r.id, tog);
        nameCell.append(tog);
      } else if (depth === 0) {
        nameCell.append(h('span', { class: 'toggle-space' }));
      }
      nameCell.append(h('a', { href: link('/runs/' + encodeURIComponent(r.id)) }, r.name));
      if (n.context) nameCell.append(h('span', { class: 'muted small' }, filter ? ' (parent, not matching)' : ' (parent, on another page)'));
      if (n.kids.length) nameCell.append(' ', h('a', { class: 'small', href: link('/report/' + encodeURIComponent(expId), { parent: r.id }) }, 'report'),
        h('span', { class: 'small', dataset: { allOf: r.id } }, allChildren(n)));
      const box = n.context ? '' : h('input', { type: 'checkbox', class: 'select', value: r.id, checked: selected.has(r.id), 'aria-label': 'Select ' + r.name,
        onchange: (e) => { if (e.target.checked) selected.add(r.id); else selected.delete(r.id); updateCompare(); } });
      return h('tr', { class: 'run-row' + (n.context ? ' context' : ''), dataset: { runId: r.id, depth: String(depth), parent: parentId } },
        h('td', { class: 'narrow' }, box),
        nameCell,
        dataCols.map((c) => view.cell(r, c)),
        h('td', {}, badge(r.status)),
        h('td', { class: 'nowrap' }, timeAgo(r.start)),
        h('td', { class: 'nowrap' }, fmtDuration(r.start, r.end)));
    }

    // "4 of 10000" when the parent has children beyond this page.
    function kidsText(n) {
      const total = totals.get(n.run.id);
      return total > n.kids.length ? `${n.kids.length} of ${total}` : String(n.kids.length);
    }
    // A link to the parent's children alone (the server pages them), when not all are here.
    function allChildren(n) {
      const total = totals.get(n.run.id);
      if (!(total > n.kids.length)) return null;
      return [' ', h('a', { class: 'all-children', href: link('/experiments/' + encodeURIComponent(expId), { filter: childFilter(n.run.id) }) }, `all ${total} children`)];
    }
    showTotals = () => {
      for (const n of nodes.values()) {
        if (!n.kids.length || !totals.has(n.run.id)) continue;
        const kids = tbody.querySelector(`[data-kids-of="${CSS.escape(n.run.id)}"]`);
        if (kids) kids.textContent = kidsText(n);
        const all = tbody.querySelector(`[data-all-of="${CSS.escape(n.run.id)}"]`);
        if (all) mount(all, allChildren(n));
        const tog = togglesById.get(n.run.id);
        if (tog) tog.setAttribute('aria-label', `Show or hide ${kidsText(n)} child runs of ${n.run.name}`);
      }
    };
    mount(tableSlot, matched.length || context.size ? table
      : h('p', { class: 'muted empty' }, searchError ? 'No runs: the filter has an error.' : filter ? 'No runs match the filter.' : 'No runs in this experiment yet.'));
    refresh();
  }
  let showTotals = () => {};
  renderTable();

  // Counts, after the table is shown: the runs that match, and each parent's children.
  const parents = [...nodes.values()].filter((n) => n.kids.length);
  const [matching] = await Promise.all([
    (page.next || stack.length) && !searchError ? api.countRuns({ experimentId: expId, filter }).catch(() => null) : null,
    pool(parents, 4, async (n) => {
      try { totals.set(n.run.id, await api.countRuns({ parentRunId: n.run.id })); } catch { /* the page's count stays */ }
    }),
  ]);
  if (!route.alive()) return;
  if (matching != null) count.append(`, ${matching} in all`);
  showTotals();
}

/**
 * What the experiment's searches make of the table: default columns (trial, state,
 * objectives, hyperparameters; null without searches), header labels and cells.
 */
function searchView({ searches = [], tags = {} }) {
  const trialCol = 'tags:' + tags.trial;
  const stateCol = 'tags:' + tags.state;
  const objectives = new Map(); // metric → direction
  const hyper = new Set();
  const categorical = new Set();
  for (const s of searches) {
    if (!objectives.has(s.metric)) objectives.set(s.metric, s.direction);
    for (const p of s.params) {
      hyper.add(p.name);
      if (p.options) categorical.add(p.name);
    }
  }
  const best = new Set(searches.map((s) => s.best_run_id).filter(Boolean));
  const arrow = (dir) => (dir === 'maximize' ? ' ↑' : dir === 'minimize' ? ' ↓' : '');
  return {
    searchIds: searches.map((s) => s.run_id),
    defaultCols: searches.length
      ? [trialCol, stateCol, ...[...objectives.keys()].map((m) => 'metrics:' + m), ...[...hyper].map((p) => 'params:' + p)]
      : null,
    headerClass(c) {
      if (c.id === trialCol) return 'num';
      if (c.kind === 'metrics') return 'num metric';
      return c.kind === 'params' && hyper.has(c.key) && !categorical.has(c.key) ? 'num params' : c.kind;
    },
    label(c) {
      if (c.id === trialCol) return 'Trial';
      if (c.id === stateCol) return 'State';
      if (c.kind === 'metrics') return c.key + (objectives.has(c.key) ? arrow(objectives.get(c.key)) : '');
      if (c.kind === 'params') return hyper.has(c.key) ? c.key : 'param ' + c.key;
      return 'tag ' + c.key;
    },
    cell(r, c) {
      const v = r[c.kind] && r[c.kind][c.key];
      if (c.id === stateCol) return h('td', {}, v == null ? '' : badge(v));
      if (c.id === trialCol) return h('td', { class: 'num' }, v == null ? '' : v);
      if (c.kind === 'params' && hyper.has(c.key)) {
        // A hyperparameter absent in a trial is inactive under the trial's choices.
        if (v == null) return r.tags[tags.trial] == null ? h('td') : h('td', { class: 'muted inactive', title: 'inactive in this trial' }, '–');
        return isNumeric(v) ? h('td', { class: 'num', title: v }, fmtNum(v)) : h('td', { class: 'text' }, v);
      }
      if (c.kind !== 'metrics') return h('td', { class: 'text' }, v == null ? '' : v);
      const isBest = objectives.has(c.key) && best.has(r.id);
      return h('td', { class: 'num' + (isBest ? ' best' : ''), title: v == null ? '' : String(v) + (isBest ? ' (best trial of its search)' : '') },
        isBest ? h('span', { class: 'best-mark', 'aria-label': 'best' }, '★ ') : null, v == null ? '' : fmtNum(v));
    },
  };
}

/** 'metrics.`a b` DESC' → ['metrics.`a b`', 'DESC']. */
function splitOrder(o) {
  const m = /^(.*?)\s+(ASC|DESC)$/i.exec(o.trim());
  return m ? [m[1], m[2].toUpperCase()] : [o.trim(), 'ASC'];
}

function columnPicker(keys, cols, onChange) {
  const chosen = new Set(cols);
  const group = (kind, title) => {
    const list = [...keys[kind]].sort();
    for (const c of cols) { const p = parseCol(c); if (p.kind === kind && !keys[kind].has(p.key)) list.push(p.key); }
    if (!list.length) return null;
    return h('fieldset', {}, h('legend', {}, title),
      list.map((k) => h('label', { class: 'check' }, h('input', { type: 'checkbox', dataset: { col: kind + ':' + k }, checked: chosen.has(kind + ':' + k), onchange: (e) => {
        const id = kind + ':' + k;
        if (e.target.checked) chosen.add(id); else chosen.delete(id);
        // Keep the user's order: existing columns first, new ones at the end.
        cols = [...cols.filter((c) => chosen.has(c)), ...[...chosen].filter((c) => !cols.includes(c))];
        onChange(cols);
      } }), ' ', k)));
  };
  return h('details', { class: 'picker' }, h('summary', {}, 'Columns'),
    h('div', { class: 'picker-body' }, group('metrics', 'Metrics'), group('params', 'Params'), group('tags', 'Tags')));
}

function filterHelp() {
  const ex = (t) => h('li', {}, h('code', {}, t));
  return h('details', { class: 'help' }, h('summary', {}, 'Filter syntax'),
    h('p', {}, 'Comparisons joined by AND. Strings in quotes; metrics compare their latest value.'),
    h('ul', {}, ex('metrics.loss < 0.5'), ex("params.optimizer = 'adam' and metrics.acc >= 0.9"), ex("tags.mlflow.parentRunId = '<run id>'"),
      ex("attributes.status = 'FAILED'"), ex("attributes.run_name LIKE 'trial-%'"), ex('params.lr IS NOT NULL')));
}
