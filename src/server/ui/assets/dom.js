// DOM helpers. Every element is built with createElement and text nodes, never from an
// HTML string: run names, params and tags are user data, and this way they can only
// ever be text (no escaping to forget).

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' && 'checked' in el) el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** An HTML element: h('a', {href: '#/'}, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

/** An SVG element, same calling convention as h(). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

/** An inline error message (role=alert so screen readers announce it). */
export function errorBox(err, cls = 'error') {
  const code = err && err.code ? err.code + ': ' : '';
  return h('p', { class: cls, role: 'alert' }, code + (err && err.message ? err.message : String(err)));
}

/**
 * The page shown when a page fails: `what` names what it was showing ("run 1f2e…").
 * A 404 says in a sentence what was not found; any other error says what the server (or
 * the network) said. Both link back to the experiments.
 */
export function errorPage(err, what) {
  const back = h('p', {}, h('a', { href: '#/' }, '← Back to the experiments'));
  const detail = err && err.code ? h('p', { class: 'muted small' }, `The server said: ${err.code}: ${err.message}`) : null;
  if (err && err.status === 404) {
    const name = what.charAt(0).toUpperCase() + what.slice(1);
    return h('div', { class: 'not-found' }, h('h1', {}, 'Not found'),
      h('p', { class: 'sentence' }, `${name} was not found. It may have been deleted, or the link is wrong.`), detail, back);
  }
  const reached = err && err.status;
  return h('div', { class: 'not-found' }, h('h1', {}, 'Something went wrong'),
    h('p', { class: 'sentence' }, reached ? `The server could not show ${what}:` : `The page could not show ${what}:`),
    errorBox(err), back);
}

/** A status badge; the status name is also the visible text, colour is only a hint. */
export function badge(status) {
  const st = String(status || 'UNKNOWN');
  return h('span', { class: 'badge badge-' + st.toLowerCase().replace(/[^a-z]/g, '') }, st);
}

/** "2026-11-23 13:05:01" in local time, or an empty string for missing times. */
export function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms));
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * A span of time in words, largest units first: "40 ms", "2.5 s", "12 s", "1 min 4 s",
 * "2 h 3 min", "3 d 4 h". `most` units at most; empty for negative or missing spans.
 */
export function fmtSpan(ms, most = 2) {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const sec = ms / 1000;
  if (sec < 10) return `${Number(sec.toFixed(1))} s`;
  const units = [[365 * 86400, 'y'], [86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  let rest = Math.round(sec);
  const parts = [];
  for (const [n, name] of units) {
    if (parts.length === most) break;
    const k = Math.floor(rest / n);
    rest -= k * n;
    if (k || parts.length) parts.push([k, name]);
  }
  return parts.filter(([k], i) => k || i === 0).map(([k, name]) => `${k} ${name}`).join(' ');
}

/** How long a run took ("1 min 4 s"); empty when it has not ended. */
export function fmtDuration(start, end) {
  if (!start || !end || end < start) return '';
  return fmtSpan(end - start);
}

/** "3 min ago", "2 d ago", "just now" (one unit, rounded down); empty for missing times. */
export function fmtAgo(ms) {
  if (!ms) return '';
  const age = Date.now() - Number(ms);
  if (age < 10000) return 'just now';
  return fmtSpan(age, 1) + ' ago';
}

/** A time as a <time> element reading "3 min ago", the exact local time as its tooltip. */
export function timeAgo(ms) {
  if (!ms) return '';
  return h('time', { datetime: new Date(Number(ms)).toISOString(), title: fmtTime(ms) }, fmtAgo(ms));
}

/** A number with up to 5 significant digits, keeping integers whole. */
export function fmtNum(v) {
  if (v == null || v === '') return '';
  const x = Number(v);
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  // Shortest exponent form: 1e-4 rather than 1.000e-4.
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return Number(x.toPrecision(4)).toExponential();
  return String(Number(x.toPrecision(5)));
}

/** Is this string a plain number (params are strings; charts need to know)? */
export function isNumeric(v) {
  return typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)));
}

/** The hash route's path and query: '#/experiments/1?filter=x' → {path, query}. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  return {
    path: i < 0 ? raw : raw.slice(0, i),
    query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)),
  };
}

/** Build a hash link: link('/runs/' + id, {a: 1}). Empty values are left out. */
export function link(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, v);
  const qs = q.toString();
  return '#' + path + (qs ? '?' + qs : '');
}

/** Run async work on items with at most `limit` in flight (keeps the server responsive). */
export async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Set the page title (and keep it readable in history lists). */
export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), 'hyperflow'].join(' · ');
}
