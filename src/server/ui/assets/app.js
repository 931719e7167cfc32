// Entry point: a hash router. Each page is render(main, route) → Promise; a page checks
// route.alive() after every await so a slow answer for a page the user already left is
// dropped instead of overwriting the new page. A page that fails shows an error page in
// words (what was not found, or what the server said), with a way back.

import { h, mount, parseHash, errorPage } from './dom.js';
import { experimentsPage } from './experiments.js';
import { runsPage } from './runs.js';
import { runPage } from './run.js';
import { comparePage } from './compare.js';
import { curvesPage } from './curves.js';
import { reportPage } from './report.js';
import { modelsPage } from './models.js';

// [pattern, page, what the page shows (for error pages), from the route's params]
const ROUTES = [
  [/^\/?$/, experimentsPage, () => 'the experiments'],
  [/^\/experiments\/([^/]+)$/, runsPage, ([id]) => `experiment ${id}`],
  [/^\/runs\/([^/]+)$/, runPage, ([id]) => `run ${id}`],
  [/^\/compare$/, comparePage, () => 'the runs to compare'],
  [/^\/chart$/, curvesPage, () => 'the runs to chart'],
  [/^\/report\/([^/]+)$/, reportPage, ([id]) => `the report of experiment ${id}`],
  [/^\/models$/, modelsPage, () => 'the models'],
];

let generation = 0;

async function route() {
  const gen = ++generation;
  const main = document.getElementById('main');
  const { path, query } = parseHash();
  for (const [re, page, what] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    const params = m.slice(1).map(decodeURIComponent);
    try {
      await page(main, { params, query, alive: () => gen === generation });
    } catch (err) {
      if (gen === generation) mount(main, errorPage(err, what(params)));
    }
    return;
  }
  mount(main, h('div', { class: 'not-found' }, h('h1', {}, 'Not found'),
    h('p', { class: 'sentence' }, 'There is no page at ', h('code', {}, path), '. The link may be mistyped or from a newer version of hyperflow.'),
    h('p', {}, h('a', { href: '#/' }, '← Back to the experiments'))));
}

window.addEventListener('hashchange', route);
route();
