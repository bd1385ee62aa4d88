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

// Polish dates and numbers, written out here instead of through Intl: the
// first Intl formatter a tab creates loads ICU's locale data, 60-250 ms of
// main thread on this machine (dateStyle alone ~110 ms quiet), which was the
// batches page's longest task at load (Lighthouse mobile, issue 20). The
// output is Intl's for pl-PL exactly; the e2e suite compares the two
// ("pl-PL formatting matches Intl").
const MONTHS = ['sty', 'lut', 'mar', 'kwi', 'maj', 'cze', 'lip', 'sie', 'wrz', 'paź', 'lis', 'gru'];
const NBSP = '\u00a0';
const pad2 = (n) => (n < 10 ? `0${n}` : String(n));

// "2 gru 2026, 05:04" (Intl dateStyle medium, timeStyle short, local time)
export function fmtDateTime(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}, ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

// "2026-03-01" -> "01.03.2026" (no time zone shift: the date is a calendar day)
export function fmtDay(s) {
  if (!s) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(s));
  if (!m) return String(s);
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 12));
  return `${pad2(d.getUTCDate())}.${pad2(d.getUTCMonth() + 1)}.${String(d.getUTCFullYear()).padStart(4, '0')}`;
}

// A number the way Intl.NumberFormat('pl-PL') writes it: the shortest
// decimal of the double rounded half away from zero to maxFrac digits,
// a comma, groups of three with a no-break space from five digits on
// ("1234", "12 345,5").
export function fmtDecimal(v, minFrac = 0, maxFrac = 3) {
  const n = Number(v);
  if (!isFinite(n)) return Intl.NumberFormat('pl-PL').format(n);
  let s = Math.abs(n).toString();
  if (/e/.test(s)) s = Math.abs(n).toFixed(Math.min(100, maxFrac + 1));
  let [int, frac = ''] = s.split('.');
  if (frac.length > maxFrac) {
    const up = frac[maxFrac] >= '5';
    let digits = int + frac.slice(0, maxFrac);
    if (up) {
      const a = digits.split('');
      let i = a.length - 1;
      for (; i >= 0 && a[i] === '9'; i--) a[i] = '0';
      if (i >= 0) a[i] = String(+a[i] + 1); else a.unshift('1');
      digits = a.join('');
    }
    int = digits.slice(0, digits.length - maxFrac) || '0';
    frac = digits.slice(digits.length - maxFrac);
  }
  frac = frac.replace(/0+$/, '');
  while (frac.length < minFrac) frac += '0';
  int = int.replace(/^0+(?=\d)/, '');
  if (int.length >= 5) int = int.replace(/\B(?=(\d{3})+$)/g, NBSP);
  const neg = n < 0 && /[1-9]/.test(int + frac);
  return `${neg ? '-' : ''}${int}${frac ? `,${frac}` : ''}`;
}

export function fmtMoney(v) {
  if (v === null || v === undefined || v === '') return '—';
  const n = Number(v);
  return isFinite(n) ? `${fmtDecimal(n, 2, 2)}${NBSP}zł` : String(v);
}

// AI cost is recorded in the provider's currency (USD prices in the config)
export function fmtCost(v) {
  return `${fmtDecimal(Number(v || 0), 2, 4)}${NBSP}USD`;
}

export function fmtNum(v) {
  return fmtDecimal(Number(v || 0));
}

// Polish plural-aware durations through Intl (e.g. "2 minuty", "5 minut");
// shown only while a batch runs, the formatters are made on first use
const unitFmts = {};
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const unit = (n, u) => (unitFmts[u] = unitFmts[u] || new Intl.NumberFormat('pl-PL', { style: 'unit', unit: u, unitDisplay: 'long' })).format(n);
  if (s < 60) return unit(Math.max(s, 1), 'second');
  const m = Math.round(s / 60);
  if (m < 60) return unit(m, 'minute');
  const hrs = Math.floor(m / 60);
  return unit(hrs, 'hour') + ' ' + unit(m % 60, 'minute');
}

// CLDR's Polish plural rule for whole numbers (one: 1; few: 2-4, 22-24, …
// but not 12-14; many: the rest); fractions are "other" (many's words here)
export function pluralCategory(n) {
  if (!Number.isInteger(n)) return 'other';
  const a = Math.abs(n);
  if (a === 1) return 'one';
  const d = a % 10, dd = a % 100;
  return d >= 2 && d <= 4 && (dd < 12 || dd > 14) ? 'few' : 'many';
}

export function plural(n, one, few, many) {
  const r = pluralCategory(n);
  return `${fmtNum(n)} ${r === 'one' ? one : r === 'few' ? few : many}`;
}

export function wordCount(text) {
  const m = String(text || '').match(/[\p{L}\p{N}][\p{L}\p{N}\-'’.,]*/gu);
  return m ? m.length : 0;
}

// Screen readers hear every message once, through one of two visually hidden
// live regions (#sr-live polite, #sr-alert assertive for errors). Toasts are
// only the visible copy: their container is not a live region, so a toast is
// never read twice.
let liveRegion = null;
let alertRegion = null;
let toastBox = null;
const TOAST_MS = { ok: 6000, info: 6000, warn: 10000 }; // errors stay until closed
const TOASTS_MAX = 3;

export function initAnnouncers() {
  liveRegion = document.getElementById('sr-live');
  alertRegion = document.getElementById('sr-alert');
  toastBox = document.getElementById('toasts');
  // the sticky notification lane pushes content down instead of covering
  // it; sticky parts of a page (the editor's quality panel) keep clear of it
  // through --toasts-h (a ResizeObserver: no forced layout)
  if (toastBox && window.ResizeObserver) {
    new ResizeObserver((entries) => {
      const hgt = entries[entries.length - 1].borderBoxSize?.[0]?.blockSize ?? toastBox.offsetHeight;
      document.documentElement.style.setProperty('--toasts-h', `${Math.ceil(hgt)}px`);
    }).observe(toastBox);
  }
}

export function announce(text, assertive = false) {
  const region = assertive && alertRegion ? alertRegion : liveRegion;
  if (!region) return;
  region.textContent = '';
  // a separate task so that the same text twice is read twice
  setTimeout(() => { region.textContent = text; }, 30);
}

// kind: ok | info | warn | error. opts.ms: lifetime, 0 = until closed (the
// default for errors); opts.silent: the same words are already in a live
// region of the page (e.g. a section's role=status line), do not say it twice
export function toast(text, kind = 'info', opts = {}) {
  if (!opts.silent) announce(text, kind === 'error');
  if (!toastBox) return null;
  const life = opts.ms === undefined ? (TOAST_MS[kind] || 0) : opts.ms;
  const t = h('div', { class: `toast toast-${kind}` },
    h('span', { class: 'toast-text' }, text),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Zamknij powiadomienie', onclick: () => t.remove() }, '×'));
  // too many: the oldest self-closing ones go first, errors only if nothing else
  const all = [...toastBox.children];
  if (all.length >= TOASTS_MAX) (all.find((x) => !x.classList.contains('toast-error')) || all[0]).remove();
  toastBox.appendChild(t);
  if (life) autoClose(t, life);
  return t;
}

// WCAG 2.2.1: the countdown stops while the pointer or the keyboard is on it
function autoClose(t, life) {
  let left = life;
  let started = Date.now();
  let timer = setTimeout(() => t.remove(), left);
  let holds = 0;
  const pause = () => {
    if (holds++) return;
    clearTimeout(timer);
    left -= Date.now() - started;
  };
  const resume = () => {
    if (holds === 0 || --holds) return;
    started = Date.now();
    timer = setTimeout(() => t.remove(), Math.max(left, 1500));
  };
  t.addEventListener('mouseenter', pause);
  t.addEventListener('mouseleave', resume);
  t.addEventListener('focusin', pause);
  t.addEventListener('focusout', resume);
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
