// Experiments list: name, id, run count and last activity. Counts (one COUNT query on
// the server per experiment, hyperflow/runs/count) and the newest run load after the
// table is shown, a few experiments at a time.

import { h, mount, errorBox, fmtTime, fmtAgo, pool, link, setTitle } from './dom.js';
import { api } from './api.js';

export async function experimentsPage(main, route) {
  setTitle('Experiments');
  const exps = [];
  let token;
  do {
    const page = await api.searchExperiments(token);
    exps.push(...(page.experiments || []));
    token = page.next_page_token;
  } while (token && exps.length < 10000);
  if (!route.alive()) return;

  const filter = h('input', { type: 'search', placeholder: 'Filter by name', 'aria-label': 'Filter experiments by name', class: 'grow' });
  const tbody = h('tbody');
  const rows = exps.map((e) => {
    const count = h('td', { class: 'num', dataset: { label: 'runs' } }, '…');
    const activity = h('td', {}, h('span', { title: fmtTime(e.last_update_time) }, fmtAgo(e.last_update_time)));
    const tr = h('tr', { class: 'exp-row', dataset: { name: e.name.toLowerCase() } },
      h('td', {}, h('a', { href: link('/experiments/' + encodeURIComponent(e.experiment_id)) }, e.name)),
      h('td', { class: 'mono' }, e.experiment_id),
      count,
      activity,
      h('td', {}, h('a', { href: link('/report/' + encodeURIComponent(e.experiment_id)) }, 'report')));
    return { e, tr, count, activity };
  });
  tbody.append(...rows.map((r) => r.tr));
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const r of rows) r.tr.hidden = q !== '' && !r.tr.dataset.name.includes(q);
  });

  mount(main,
    h('h1', {}, 'Experiments'),
    h('div', { class: 'toolbar' }, filter, h('span', { class: 'muted' }, `${exps.length} experiment${exps.length === 1 ? '' : 's'}`)),
    exps.length
      ? h('table', { class: 'grid', id: 'experiments' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'ID'), h('th', { scope: 'col', class: 'num' }, 'Runs'), h('th', { scope: 'col' }, 'Last activity'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Report')))),
        tbody)
      : h('p', { class: 'muted' }, 'No experiments yet. Log runs with fmin, hyperflow sweep or any MLflow client.'));

  // Counts and newest activity, 4 experiments at a time.
  await pool(rows, 4, async (r) => {
    if (!route.alive()) return;
    try {
      const [count, newest] = await Promise.all([
        api.countRuns({ experimentId: r.e.experiment_id }),
        api.searchRuns({ experimentIds: [r.e.experiment_id], maxResults: 1, orderBy: ['attributes.start_time DESC'] }),
      ]);
      r.count.textContent = String(count);
      let last = Number(r.e.last_update_time) || 0;
      for (const run of newest.runs) last = Math.max(last, run.start || 0, run.end || 0);
      mount(r.activity, h('span', { title: fmtTime(last) }, fmtAgo(last)));
    } catch (err) {
      mount(r.count, errorBox(err, 'error small'));
    }
  });
}
