// Entry point: a hash router. Each page is render(main, route) → Promise; a page checks
// route.alive() after every await so a slow answer for a page the user already left is
// dropped instead of overwriting the new page.

import { h, mount, parseHash, errorBox } from './dom.js';
import { experimentsPage } from './experiments.js';
import { runsPage } from './runs.js';
import { runPage } from './run.js';
import { comparePage } from './compare.js';
import { reportPage } from './report.js';

const ROUTES = [
  [/^\/?$/, experimentsPage],
  [/^\/experiments\/([^/]+)$/, runsPage],
  [/^\/runs\/([^/]+)$/, runPage],
  [/^\/compare$/, comparePage],
  [/^\/report\/([^/]+)$/, reportPage],
];

let generation = 0;

async function route() {
  const gen = ++generation;
  const main = document.getElementById('main');
  const { path, query } = parseHash();
  for (const [re, page] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    const params = m.slice(1).map(decodeURIComponent);
    try {
      await page(main, { params, query, alive: () => gen === generation });
    } catch (err) {
      if (gen === generation) mount(main, errorBox(err));
    }
    return;
  }
  mount(main, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '. ', h('a', { href: '#/' }, 'Experiments')));
}

window.addEventListener('hashchange', route);
route();
