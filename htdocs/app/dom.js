// Small DOM and formatting helpers. Every piece of text goes in through
// textContent (h() children that are strings become text nodes); nothing
// from the API is ever parsed as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'multiple' || k === 'required') el[k] = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const dateFmt = new Intl.DateTimeFormat('pl-PL', { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat('pl-PL', { day: '2-digit', month: '2-digit', year: 'numeric' });
const moneyFmt = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'PLN' });
const usdFmt = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });
const numFmt = new Intl.NumberFormat('pl-PL');

export function fmtDateTime(s) {
  if (!s) return '—';
  const d = new Date(s);
  return isNaN(d) ? String(s) : dateFmt.format(d);
}

// "2026-03-01" -> "01.03.2026" (no time zone shift: the date is a calendar day)
export function fmtDay(s) {
  if (!s) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(s));
  if (m) return dayFmt.format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 12)));
  return String(s);
}

export function fmtMoney(v) {
  if (v === null || v === undefined || v === '') return '—';
  const n = Number(v);
  return isFinite(n) ? moneyFmt.format(n) : String(v);
}

// AI cost is recorded in the provider's currency (USD prices in the config)
export function fmtCost(v) {
  const n = Number(v || 0);
  return usdFmt.format(n);
}

export function fmtNum(v) {
  return numFmt.format(Number(v || 0));
}

// Polish plural-aware durations through Intl (e.g. "2 minuty", "5 minut")
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const unit = (n, u) => new Intl.NumberFormat('pl-PL', { style: 'unit', unit: u, unitDisplay: 'long' }).format(n);
  if (s < 60) return unit(Math.max(s, 1), 'second');
  const m = Math.round(s / 60);
  if (m < 60) return unit(m, 'minute');
  const hrs = Math.floor(m / 60);
  return unit(hrs, 'hour') + ' ' + unit(m % 60, 'minute');
}

export function plural(n, one, few, many) {
  const r = new Intl.PluralRules('pl-PL').select(n);
  return `${numFmt.format(n)} ${r === 'one' ? one : r === 'few' ? few : many}`;
}

export function wordCount(text) {
  const m = String(text || '').match(/[\p{L}\p{N}][\p{L}\p{N}\-'’.,]*/gu);
  return m ? m.length : 0;
}

// A visually hidden live region for screen readers plus visible toasts.
let liveRegion = null;
let toastBox = null;

export function initAnnouncers() {
  liveRegion = document.getElementById('sr-live');
  toastBox = document.getElementById('toasts');
}

export function announce(text) {
  if (!liveRegion) return;
  liveRegion.textContent = '';
  // a separate task so that the same text twice is read twice
  setTimeout(() => { liveRegion.textContent = text; }, 30);
}

export function toast(text, kind = 'info', ms = 6000) {
  if (!toastBox) return;
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', null, text),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Zamknij powiadomienie', onclick: () => t.remove() }, '×'));
  toastBox.appendChild(t);
  if (ms) setTimeout(() => t.remove(), ms);
}

export function setTitle(text) {
  document.title = text ? `${text} — Kartograf` : 'Kartograf';
}

// Move focus to the page's main heading after a route change (keyboard and
// screen reader users land at the new content).
export function focusHeading(root) {
  const h1 = root.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
}
