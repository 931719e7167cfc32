// Models (#/models): the model registry (registered models with their versions and
// aliases) and the logged models of MLflow 3, each linked to the run that made it.

import { h, mount, errorBox, badge, timeAgo, link, setTitle } from './dom.js';
import { api } from './api.js';

const MAX_PAGES = 20;

/** Every item of a paged call, up to MAX_PAGES pages: fetchPage(token) → {items, next}. */
async function allPages(fetchPage) {
  const items = [];
  let token;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await fetchPage(token);
    items.push(...page.items);
    token = page.next;
    if (!token) break;
  }
  return items;
}

const runLink = (runId) => (runId ? h('a', { href: link('/runs/' + encodeURIComponent(runId)), class: 'mono', title: 'Run ' + runId }, runId.slice(0, 12)) : '');

/** MLflow's LOGGED_MODEL_READY as READY: the table's header already says "model". */
const modelStatus = (status) => badge(String(status || '').replace(/^LOGGED_MODEL_/, ''));

export async function modelsPage(main, route) {
  setTitle('Models');
  mount(main, h('h1', {}, 'Models'), h('p', { class: 'muted' }, 'Loading…'));
  const registered = await allPages(async (t) => { const r = await api.searchRegisteredModels(t); return { items: r.registered_models || [], next: r.next_page_token }; });
  const versions = await Promise.all(registered.map((m) => allPages(async (t) => {
    const r = await api.searchModelVersions(m.name, t);
    return { items: r.model_versions || [], next: r.next_page_token };
  }).catch((err) => err)));
  const exps = await allPages(async (t) => { const r = await api.searchExperiments(t); return { items: r.experiments || [], next: r.next_page_token }; });
  const expName = new Map(exps.map((e) => [e.experiment_id, e.name]));
  const logged = exps.length
    ? await allPages(async (t) => { const r = await api.searchLoggedModels(exps.map((e) => e.experiment_id), t); return { items: r.models || [], next: r.next_page_token }; })
    : [];
  if (!route.alive()) return;

  const registry = registered.length
    ? registered.map((m, i) => registeredModel(m, versions[i]))
    : h('p', { class: 'muted' }, 'No registered models. Register one with mlflow.register_model(...) or Tracker::register_model.');
  const loggedTable = logged.length
    ? h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id: 'logged-models' },
      h('thead', {}, h('tr', {}, ['Name', 'Model ID', 'Status', 'Experiment', 'Source run', 'Params', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, logged.map(({ info, data }) => h('tr', { dataset: { modelId: info.model_id } },
        h('td', {}, info.name),
        h('td', { class: 'mono' }, info.model_id),
        h('td', {}, modelStatus(info.status)),
        h('td', {}, h('a', { href: link('/experiments/' + encodeURIComponent(info.experiment_id)) }, expName.get(info.experiment_id) || info.experiment_id)),
        h('td', {}, runLink(info.source_run_id)),
        h('td', { class: 'text' }, ((data && data.params) || []).map((p) => `${p.key}=${p.value}`).join(', ')),
        h('td', { class: 'nowrap' }, timeAgo(info.creation_timestamp_ms)))))))
    : h('p', { class: 'muted' }, 'No logged models. Log one with mlflow.<flavor>.log_model(...) or Tracker::log_model.');

  mount(main,
    h('h1', {}, 'Models'),
    h('section', { id: 'registered-models' }, h('h2', {}, `Registered models (${registered.length})`), registry),
    h('section', {}, h('h2', {}, `Logged models (${logged.length})`), loggedTable));
}

/** One registered model: its name, aliases and versions. */
function registeredModel(m, versions) {
  const aliases = (m.aliases || []).map((a) => h('span', { class: 'alias', dataset: { alias: a.alias } }, `@${a.alias} → v${a.version}`));
  const body = versions instanceof Error
    ? errorBox(versions)
    : h('table', { class: 'grid versions' },
      h('thead', {}, h('tr', {}, ['Version', 'Aliases', 'Status', 'Source run', 'Logged model', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, [...versions].sort((a, b) => Number(b.version) - Number(a.version)).map((v) => h('tr', { dataset: { version: v.version } },
        h('td', {}, 'v' + v.version),
        h('td', {}, (v.aliases || []).map((a) => h('span', { class: 'alias' }, '@' + a))),
        h('td', {}, v.status || ''),
        h('td', {}, runLink(v.run_id)),
        h('td', { class: 'mono' }, v.model_id || ''),
        h('td', { class: 'nowrap' }, timeAgo(v.creation_timestamp))))));
  return h('article', { class: 'model-card', dataset: { model: m.name } },
    h('h3', {}, m.name, ' ', aliases, ' ', h('span', { class: 'muted small' }, 'updated ', timeAgo(m.last_updated_timestamp))),
    m.description ? h('p', {}, m.description) : null,
    body);
}
