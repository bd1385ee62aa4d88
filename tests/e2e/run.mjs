// Kartograf end-to-end tests: playwright-core drives Debian's Chromium against a
// running local stack. Started by tests/e2e/run.sh (which creates the user and
// passes everything through the environment):
//
//   E2E_BASE      lighttpd URL (full suite)         e.g. http://127.0.0.1:43899
//   E2E_APACHE    Apache URL (smoke run), optional
//   E2E_EMAIL, E2E_PASSWORD   an existing user (kartograf-admin adduser)
//   E2E_ARTIFACTS directory for screenshots and downloads
//   E2E_ONLY      substrings (a|b): run only tests whose name contains one
//
// Output: "ok - name" / "not ok - name" lines, then "e2e: N passed, M failed".
import { chromium } from 'playwright-core';
import XLSX from 'xlsx';
import AxeBuilder from '@axe-core/playwright';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import net from 'node:net';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

const BASE = process.env.E2E_BASE;
const APACHE = process.env.E2E_APACHE || '';
const EMAIL = process.env.E2E_EMAIL;
const PASSWORD = process.env.E2E_PASSWORD;
const ART = process.env.E2E_ARTIFACTS || path.resolve('e2e-artifacts');
const ONLY = process.env.E2E_ONLY || '';
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const LIVE_TIMEOUT = Number(process.env.E2E_LIVE_TIMEOUT || 90000);
if (!BASE || !EMAIL || !PASSWORD) {
  console.error('run.mjs: E2E_BASE, E2E_EMAIL and E2E_PASSWORD are required (use tests/e2e/run.sh)');
  process.exit(2);
}
fs.mkdirSync(ART, { recursive: true });

let passed = 0;
let failed = 0;
const state = {}; // shared between the scenario steps
let shotNo = 0;

// fullPage: false for very long pages (a 1,000-row table takes headless
// software rendering past any timeout)
async function shot(page, name, { fullPage = true } = {}) {
  shotNo++;
  const file = path.join(ART, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  try { await page.screenshot({ path: file, fullPage }); } catch (e) { /* page gone */ }
  return file;
}

async function test(name, fn, { needs = [] } = {}) {
  if (ONLY && !ONLY.split('|').some((x) => name.includes(x))) return;
  const missing = needs.filter((k) => !state[k]);
  if (missing.length) {
    failed++;
    console.log(`not ok - ${name} (not run: needs ${missing.join(', ')} from an earlier step)`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}`);
    for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, 8)) console.log(`#   ${line}`);
  }
}

// click a download button; resolves with the Download, or fails at once with the
// error toast the UI shows (e.g. the export endpoint answering 404/409/504)
async function clickDownload(pg, selector, timeout) {
  await pg.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
  const dl = pg.waitForEvent('download', { timeout });
  const err = pg.waitForSelector('.toast-error', { timeout }).then(async (el) => {
    throw new Error(`download failed in the UI: ${await el.textContent()}`);
  });
  dl.catch(() => {}); err.catch(() => {});
  await pg.click(selector);
  return Promise.race([dl, err]);
}

function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

// axe-core (@axe-core/playwright): no violation of WCAG 2.0/2.1 A and AA on
// the page as it is now; the violations are listed with their elements.
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const axeRuns = [];
async function axe(pg, name) {
  const r = await new AxeBuilder({ page: pg }).withTags(WCAG).analyze();
  axeRuns.push(name);
  const v = r.violations.map((x) => `${x.id} (${x.impact}): ${x.help} — ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  assert(!v.length, `axe on ${name}: ${v.length} WCAG A/AA violation(s):\n  ${v.join('\n  ')}`);
  console.log(`#   axe ${name}: ${r.passes.length} rules passed, ${r.incomplete.length} need review, no violation`);
}

// ------------------------------------------------------------------ API from node
async function apiCall(base, method, p, { token, json, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (json !== undefined) { h['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  const res = await fetch(base + p, { method, headers: h, body });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, data, text, headers: res.headers };
}

async function nodeLogin(base) {
  const r = await apiCall(base, 'POST', '/api/auth/login', { json: { email: EMAIL, password: PASSWORD } });
  assert(r.status === 200 && r.data && r.data.token, `login from node: ${r.status} ${r.text.slice(0, 200)}`);
  return r.data.token;
}

async function waitFor(fn, timeout, what) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeout) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
}

// ------------------------------------------------------------------ test files
const HEADER = ['Nazwa projektu', 'Opis', 'Wnioskodawca', 'Budżet (PLN)', 'Data rozpoczęcia', 'Data zakończenia', 'Grupa docelowa'];
function xlsxBuffer(rows) {
  const ws = XLSX.utils.aoa_to_sheet(rows);
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, ws, 'Projekty');
  return XLSX.write(wb, { type: 'buffer', bookType: 'xlsx' });
}
const uniq = Date.now().toString(36);
function goodRows(tag, n = 3) {
  const rows = [HEADER];
  const names = ['Zielone podwórka', 'Czyste Powiśle', 'Seniorzy w sieci', 'Młodzi w kulturze', 'Rowerem do szkoły'];
  for (let i = 0; i < n; i++) {
    rows.push([`${names[i % names.length]} ${tag}-${i + 1}`, `Projekt ${i + 1}: warsztaty, spotkania i działania lokalne dla mieszkańców.`,
      `Fundacja Sąsiedzi ${i + 1}`, 50000 + i * 12500, '01.03.2026', '31.10.2026', 'mieszkańcy osiedla i seniorzy']);
  }
  return rows;
}
function badRows() {
  return [HEADER,
    ['Dobry projekt', 'Opis w porządku', 'Fundacja A', 10000, '01.03.2026', '30.06.2026', 'dzieci'],
    ['Bez opisu', '', 'Fundacja B', 'dużo pieniędzy', '01.03.2026', '30.06.2026', 'młodzież'],
    ['Zła data', 'Opis', 'Fundacja C', 5000, '31.02.2026', '30.06.2026', 'seniorzy']];
}
function writeTmp(name, buf) {
  const f = path.join(ART, name);
  fs.writeFileSync(f, buf);
  return f;
}

// minimal zip reader: entry names from the central directory (+ inflate one entry)
function zipEntries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip (no end of central directory)');
  const n = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let k = 0; k < n; k++) {
    if (buf.readUInt32LE(off) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(off + 10);
    const csize = buf.readUInt32LE(off + 20);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    const local = buf.readUInt32LE(off + 42);
    const name = buf.slice(off + 46, off + 46 + nameLen).toString('utf8');
    out.push({ name, method, csize, local });
    off += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
function zipRead(buf, entry) {
  const l = entry.local;
  const start = l + 30 + buf.readUInt16LE(l + 26) + buf.readUInt16LE(l + 28);
  const data = buf.slice(start, start + entry.csize);
  return entry.method === 0 ? data : zlib.inflateRawSync(data);
}

// ------------------------------------------------------------------ the worker
// Some tests need the worker with other settings (a 1,000-project batch must
// finish within the suite's time budget; a batch must stay "running" while axe
// looks at it): the stack's worker is restarted with KARTOGRAF_* overrides and
// put back afterwards. Only possible when run.sh passed the stack (E2E_STATE).
const STACK = process.env.E2E_STATE || '';
const KGSTACK = process.env.E2E_KGSTACK || '';
async function restartWorker(overrides = null) {
  if (!STACK || !KGSTACK) throw new Error('E2E_STATE/E2E_KGSTACK not set: cannot restart the worker');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('KARTOGRAF_')) delete env[k];
  await execFileP(KGSTACK, ['stop', STACK, 'worker'], { env });
  // the server shares this 2-core machine with the browser under test: a
  // niced worker keeps server CPU from showing up as the page's long tasks
  const args = overrides ? ['-n', '10', KGSTACK, 'start', STACK, 'worker'] : ['-n', '0', KGSTACK, 'start', STACK, 'worker'];
  await execFileP('nice', args, { env: { ...env, ...(overrides || {}) } });
}

async function uploadBatch(token, rows, name) {
  const fd = new FormData();
  fd.append('file', new Blob([xlsxBuffer(rows)]), `${name}.xlsx`);
  fd.append('name', name);
  const up = await apiCall(BASE, 'POST', '/api/batches', { token, body: fd });
  assert(up.status === 201, `upload ${up.status} ${up.text.slice(0, 200)}`);
  return up.data;
}

// A completed project of a fresh 1-row batch (generated by the stack's worker).
async function completedProject(token, tag) {
  const b = await uploadBatch(token, goodRows(tag, 1), `E2E ${tag}`);
  const g = await apiCall(BASE, 'POST', `/api/batches/${b.id}/generate`, { token, json: {} });
  assert(g.status === 202, `generate ${g.status}`);
  return waitFor(async () => {
    const r = await apiCall(BASE, 'GET', `/api/batches/${b.id}`, { token });
    const p = r.data && r.data.projects[0];
    return p && p.status === 'COMPLETED' ? p.id : null;
  }, LIVE_TIMEOUT, 'a 1-project batch to complete');
}

// ------------------------------------------------------------------ browser
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
// playwright-core gives each context a fresh profile; no user data is reused
const problems = [];
const eventUrls = []; // every event-stream request the browser made (issue 16)
async function newPage(opts = {}) {
  const ctx = await browser.newContext({ viewport: opts.viewport || { width: 1280, height: 900 }, locale: 'pl-PL', acceptDownloads: true, timezoneId: 'Europe/Warsaw' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/i.test(t)) problems.push(`CSP: ${t}`);
    else if (m.type() === 'error' && !/Failed to load resource/.test(t)) problems.push(`console: ${t}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => { if (r.url().includes('/api/events/')) eventUrls.push(`${r.method()} ${r.url()}`); });
  // a static file the page asks for must exist (favicon included)
  page.on('response', (r) => {
    if (r.status() >= 400 && !/\/api\//.test(r.url())) problems.push(`static ${r.status()}: ${r.url()}`);
  });
  return { ctx, page };
}

async function login(page, base) {
  await page.goto(`${base}/#/login`);
  await page.waitForSelector('#email');
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('h1:has-text("Zestawy projektów")');
}

const { page } = await newPage();

await test('login page renders under the strict CSP and rejects a wrong password in Polish', async () => {
  const res = await page.goto(`${BASE}/`);
  const csp = res.headers()['content-security-policy'] || '';
  assert(/script-src 'self'/.test(csp), `CSP header present (${csp})`);
  await page.waitForSelector('#email');
  await shot(page, 'login');
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'zle-haslo-123');
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('#login-error:has-text("Nieprawidłowy")');
  await shot(page, 'login-wrong-password');
  await axe(page, 'login (with an error)');
});

await test('login → batches list', async () => {
  await login(page, BASE);
  assert(await page.evaluate(() => !!sessionStorage.getItem('kartograf.session')), 'token kept in sessionStorage');
  await shot(page, 'batches-list');
  await axe(page, 'batches list');
  state.loggedIn = true;
});

// Issue 20, Lighthouse mobile: the batches page loads on a phone without a
// layout shift (the top bar's nav appearing once the script ran pushed the
// page down by 90 px: CLS 0.10) and without creating an Intl formatter (the
// first one loads ICU's data: 60-250 ms of main thread, the longest task at
// load); the hand-written pl-PL formatting is Intl's, character for character.
await test('batches page on a 412-wide phone: no layout shift, no Intl at load; pl-PL formatting matches Intl', async () => {
  const { ctx, page: m } = await newPage({ viewport: { width: 412, height: 823 } });
  try {
    await m.addInitScript(() => {
      window.__shifts = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) {
          if (!e.hadRecentInput) window.__shifts.push([e.value, (e.sources || []).map((x) => (x.node ? x.node.nodeName + (x.node.id ? `#${x.node.id}` : '') : '?')).join(' ')]);
        }
      }).observe({ type: 'layout-shift', buffered: true });
      window.__intl = [];
      for (const k of ['DateTimeFormat', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'ListFormat', 'Collator']) {
        const C = Intl[k];
        Intl[k] = new Proxy(C, {
          construct(t, a) { window.__intl.push(k); return Reflect.construct(t, a); },
          apply(t, self, a) { window.__intl.push(k); return Reflect.apply(t, self, a); },
        });
      }
    });
    await login(m, BASE);
    await m.reload(); // a fresh load of #/ with the session, no input since
    await m.waitForSelector('.batch-list table.data, .batch-list p.note:not(:has-text("Wczytywanie"))');
    await m.waitForTimeout(500);
    const r = await m.evaluate(() => ({ shifts: window.__shifts, intl: window.__intl, bar: document.querySelector('.topbar').getBoundingClientRect().height }));
    const cls = r.shifts.reduce((a, [v]) => a + v, 0);
    assert(cls < 0.01, `no layout shift while the batches page loads on a phone (CLS ${cls.toFixed(4)}: ${JSON.stringify(r.shifts)})`);
    assert(r.intl.length === 0, `no Intl object made while the batches page loads (${r.intl})`);
    const bad = await m.evaluate(async () => {
      const d = await import('/app/dom.js');
      const lc = await import('/app/lifecycle.js');
      const out = [];
      const same = (what, mine, intl) => { if (mine !== intl) out.push(`${what}: ${JSON.stringify(mine)} != Intl ${JSON.stringify(intl)}`); };
      const dt = new Intl.DateTimeFormat('pl-PL', { dateStyle: 'medium', timeStyle: 'short' });
      for (let mo = 0; mo < 12; mo++) {
        for (const [day, hr, mi] of [[1, 0, 0], [9, 9, 5], [28, 23, 59]]) {
          const x = new Date(2026, mo, day, hr, mi);
          same('fmtDateTime', d.fmtDateTime(x.toISOString()), dt.format(x));
        }
      }
      const day = new Intl.DateTimeFormat('pl-PL', { day: '2-digit', month: '2-digit', year: 'numeric' });
      for (const s of ['2026-03-01', '1999-12-31', '2024-02-29']) {
        const [y, mo, dd] = s.split('-').map(Number);
        same('fmtDay', d.fmtDay(s), day.format(new Date(Date.UTC(y, mo - 1, dd, 12))));
      }
      const nums = [0, 1, 7, 12, 999, 1000, 1234, 9999, 10000, 12345.5, 123456, 1234567.891, 0.5, 0.05, 0.004, 0.00049, 0.0005,
        0.00005, 1.005, 2.675, 0.125, 0.99995, 9.99999, 99999.9999, 1e-7, 3.14159265, 50000, 0.1 + 0.2, 1e15, 1234.5678, 0.015, 0.0149];
      const f3 = new Intl.NumberFormat('pl-PL');
      const usd = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });
      const usd2 = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
      const usd4 = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });
      const pln = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'PLN' });
      for (const n of nums) {
        same(`fmtNum(${n})`, d.fmtNum(n), f3.format(n));
        same(`fmtCost(${n})`, d.fmtCost(n), usd.format(n));
        same(`fmtMoney(${n})`, d.fmtMoney(n), pln.format(n));
        same(`fmtUsd(${n})`, lc.fmtUsd(n), n > 0 && n < 0.01 ? usd4.format(n) : usd2.format(n));
      }
      const pr = new Intl.PluralRules('pl-PL');
      for (let n = 0; n <= 1200; n++) same(`plural(${n})`, d.pluralCategory(n), pr.select(n));
      return out;
    });
    assert(bad.length === 0, `pl-PL formatting matches Intl (${bad.length} differences: ${bad.slice(0, 8).join('; ')})`);
    assert(r.bar < 70, `the top bar stays one row on a 412-wide phone (${r.bar} px)`);
  } finally {
    await ctx.close();
  }
}, { needs: ['loggedIn'] });

await test('bad file: preview flags problems, server 400 shows per-cell errors and the template link', async () => {
  const file = writeTmp(`bad-${uniq}.xlsx`, xlsxBuffer(badRows()));
  await page.setInputFiles('#file', file);
  await page.waitForSelector('#preview-table');
  await page.waitForSelector('#client-problems');
  const clientCells = await page.$$eval('td.cell-client', (els) => els.map((e) => e.dataset.cell));
  assert(clientCells.includes('D3') && clientCells.includes('E4') && clientCells.includes('B3'),
    `client-side check marks B3, D3, E4 (got ${clientCells})`);
  await shot(page, 'upload-bad-preview');
  await page.click('#send');
  await page.waitForSelector('#server-errors');
  const serverCells = await page.$$eval('td.cell-server', (els) => els.map((e) => e.dataset.cell));
  assert(serverCells.includes('D3') && serverCells.includes('E4') && serverCells.includes('B3'),
    `server errors marked in the table at B3, D3, E4 (got ${serverCells})`);
  const items = await page.$$eval('#server-errors .problems li', (els) => els.map((e) => e.textContent));
  assert(items.some((t) => /Wiersz 3, kolumna D/.test(t)), `error list names row and column (${items.join(' | ')})`);
  const href = await page.getAttribute('#server-template-link', 'href');
  // resolved below the site (htdocs/app/api.js siteUrl: a subdirectory works too)
  assert(href === `${new URL(page.url()).origin}${new URL(page.url()).pathname.replace(/[^/]*$/, '')}api/template.xlsx`,
    `template link (${href})`);
  const t = await apiCall('', 'GET', href);
  assert(t.status === 200, `template downloads (${t.status})`);
  await shot(page, 'upload-bad-server-errors');
}, { needs: ['loggedIn'] });

await test('good file: upload creates the batch and opens it', async () => {
  await page.click('#reset');
  const file = writeTmp(`good-${uniq}.xlsx`, xlsxBuffer(goodRows(uniq, 3)));
  await page.setInputFiles('#file', file);
  await page.waitForSelector('#client-ok');
  await page.fill('#batch-name', `E2E ${uniq}`);
  await shot(page, 'upload-good-preview');
  await page.click('#send');
  await page.waitForURL(/#\/batches\/[0-9a-f-]{36}/);
  await page.waitForSelector('#projects tbody tr');
  const n = await page.$$eval('#projects tbody tr', (r) => r.length);
  assert(n === 3, `3 project rows (got ${n})`);
  const labels = await page.$$eval('#projects tbody tr .badge', (els) => els.map((e) => e.textContent));
  assert(labels.every((l) => l === 'Oczekuje'), `all "Oczekuje" (${labels})`);
  state.batchId = page.url().split('/').pop();
  await shot(page, 'batch-created');
}, { needs: ['loggedIn'] });

await test('start generation: statuses change live over SSE, notification on batch.completed', async () => {
  await page.waitForFunction(() => document.body.dataset.live === 'sse', null, { timeout: 15000 });
  // record every status label the rows show, without reloading the page
  await page.evaluate(() => {
    window.__seen = new Set();
    window.__marker = 'no-reload';
    const note = () => document.querySelectorAll('#projects tbody .badge').forEach((b) => window.__seen.add(b.textContent));
    new MutationObserver(note).observe(document.querySelector('#projects tbody'), { subtree: true, childList: true, characterData: true });
    note();
  });
  await page.click('#start');
  await page.waitForSelector('.toast');
  await shot(page, 'generation-started');
  await page.waitForFunction(() => [...document.querySelectorAll('#projects tbody tr')].every((r) => r.dataset.status === 'COMPLETED'),
    null, { timeout: LIVE_TIMEOUT });
  const seen = await page.evaluate(() => [...window.__seen]);
  assert(seen.includes('Gotowe') && seen.some((s) => s === 'W kolejce' || s === 'Generowanie…'),
    `live labels seen: ${seen.join(', ')}`);
  assert(await page.evaluate(() => window.__marker === 'no-reload'), 'no page reload');
  await page.waitForSelector('.toast:has-text("gotowy")', { timeout: 15000 });
  const q = await page.$$eval('#projects tbody td.quality', (els) => els.map((e) => e.textContent));
  assert(q.every((t) => /\d+\/100/.test(t)), `quality scores shown (${q})`);
  await shot(page, 'generation-completed');
  await axe(page, 'batch (finished)');
  state.generated = true;
}, { needs: ['batchId'] });

await test('open a card: 8 sections in order, unreviewed AI text on yellow, quality breakdown', async () => {
  await page.click('#projects tbody tr:first-child th a');
  await page.waitForSelector('article.section textarea');
  const keys = await page.$$eval('article.section', (els) => els.map((e) => e.dataset.key));
  assert(keys.join(',') === 'summary,objectives,target_group,activities,schedule,budget,outcomes,risks', `section order ${keys}`);
  const bg = await page.$eval('#sec-summary textarea', (t) => getComputedStyle(t).backgroundColor);
  assert(bg === 'rgb(255, 246, 204)', `unreviewed section is yellow (${bg})`);
  const crit = await page.$$eval('#quality .criteria li', (els) => els.map((e) => e.dataset.criterion));
  assert(crit.length === 6, `6 criteria (${crit})`);
  state.projectId = page.url().split('/').pop();
  state.scoreBefore = Number(await page.textContent('#score'));
  await shot(page, 'editor-open');
}, { needs: ['generated'] });

await test('edit and approve a section: it turns white and the score changes', async () => {
  const ta = '#sec-summary textarea';
  const text = await page.inputValue(ta);
  await page.fill(ta, `${text}\n\nSekcję sprawdził zespół projektu.`);
  await page.waitForSelector('#sec-summary.dirty');
  await page.click('#sec-summary button.approve');
  await page.waitForSelector('#sec-summary.reviewed');
  const bg = await page.$eval(ta, (t) => getComputedStyle(t).backgroundColor);
  assert(bg === 'rgb(255, 255, 255)', `reviewed section is white (${bg})`);
  await page.waitForFunction((before) => Number(document.querySelector('#score').textContent) !== before, state.scoreBefore);
  const after = Number(await page.textContent('#score'));
  assert(after > state.scoreBefore, `score rose from ${state.scoreBefore} to ${after}`);
  // approve a second one without editing
  await page.click('#sec-objectives button.approve');
  await page.waitForSelector('#sec-objectives.reviewed');
  await shot(page, 'editor-approved');
  state.edited = true;
}, { needs: ['projectId'] });

await test('409 conflict: another client saves in between, the user sees both versions and keeps theirs or mine', async () => {
  const token = await nodeLogin(BASE);
  const ta = '#sec-target_group textarea';
  const mine = 'Moja wersja: mieszkańcy osiedla, w tym seniorzy i rodziny z dziećmi.';
  await page.fill(ta, mine);
  // someone else saves the same project now (the page still holds the old version)
  const cur = await apiCall(BASE, 'GET', `/api/projects/${state.projectId}`, { token });
  const theirs = 'Ich wersja: grupa docelowa opisana przez innego redaktora.';
  const r = await apiCall(BASE, 'PATCH', `/api/projects/${state.projectId}`, { token, json: { version: cur.data.version, sections: { target_group: { body: theirs } } } });
  assert(r.status === 200, `PATCH from node ${r.status} ${r.text.slice(0, 200)}`);
  await page.click('#sec-target_group button.save');
  await page.waitForSelector('#sec-target_group .conflict:not([hidden])');
  assert((await page.textContent('#sec-target_group .conflict pre.mine')) === mine, 'my version shown');
  assert((await page.textContent('#sec-target_group .conflict pre.theirs')) === theirs, 'their version shown');
  await shot(page, 'editor-conflict');
  await axe(page, 'editor (with a conflict open)');
  await page.click('#sec-target_group .keep-mine');
  await page.waitForSelector('#sec-target_group .conflict', { state: 'hidden' });
  await page.waitForFunction(() => !document.querySelector('#sec-target_group').classList.contains('dirty'));
  const after = await apiCall(BASE, 'GET', `/api/projects/${state.projectId}`, { token });
  const body = after.data.sections.find((s) => s.key === 'target_group').body;
  assert(body === mine, `server holds my text after "Zachowaj moją" (${body})`);
  // and the other choice
  await page.fill(ta, 'Druga moja wersja.');
  const cur2 = await apiCall(BASE, 'GET', `/api/projects/${state.projectId}`, { token });
  await apiCall(BASE, 'PATCH', `/api/projects/${state.projectId}`, { token, json: { version: cur2.data.version, sections: { target_group: { body: theirs } } } });
  await page.click('#sec-target_group button.save');
  await page.waitForSelector('#sec-target_group .conflict:not([hidden])');
  await page.click('#sec-target_group .take-theirs');
  assert((await page.inputValue(ta)) === theirs, 'textarea shows their text after "Weź ich"');
  await shot(page, 'editor-conflict-resolved');
}, { needs: ['edited'] });

await test('revision history and revert', async () => {
  await page.click('#sec-summary button.history-toggle');
  await page.waitForSelector('#sec-summary .revisions li');
  const n = await page.$$eval('#sec-summary .revisions li', (l) => l.length);
  assert(n >= 2, `at least 2 revisions (${n})`);
  await shot(page, 'editor-history');
  const oldest = '#sec-summary .revisions li:last-child';
  const oldText = await page.$eval(`${oldest} pre`, (p) => p.textContent);
  await page.click(`${oldest} button.revert`);
  await page.waitForFunction((t) => document.querySelector('#sec-summary textarea').value === t, oldText);
}, { needs: ['edited'] });

await test('regenerate one section with an instruction', async () => {
  const before = await page.inputValue('#sec-risks textarea');
  await page.click('#sec-risks button.regen-toggle');
  await page.fill('#sec-risks-instr', 'krócej');
  await page.click('#sec-risks button.regen-go');
  await page.waitForFunction(() => /wygenerowana ponownie|Nie udało/.test(document.querySelector('#sec-risks .sec-status').textContent), null, { timeout: Number(process.env.E2E_REGEN_TIMEOUT || 60000) });
  const status = await page.textContent('#sec-risks .sec-status');
  assert(/wygenerowana ponownie/.test(status), `status: ${status}`);
  const after = await page.inputValue('#sec-risks textarea');
  await shot(page, 'editor-regenerated');
  assert(after.length > 0, 'section has text');
  if (after === before) console.log('#   note: regenerated text equals the old one (deterministic offline provider)');
}, { needs: ['edited'] });

await test('download the .docx (fetch + Blob) and check it is a Word document', async () => {
  const dl = await clickDownload(page, '#docx', 60000);
  const file = path.join(ART, `card-${uniq}.docx`);
  await dl.saveAs(file);
  const buf = fs.readFileSync(file);
  const names = zipEntries(buf).map((e) => e.name);
  assert(names.includes('word/document.xml'), `docx has word/document.xml (${names.join(', ')})`);
  const doc = zipRead(buf, zipEntries(buf).find((e) => e.name === 'word/document.xml')).toString('utf8');
  assert(/Sekcję sprawdził zespół projektu|Podsumowanie/.test(doc), 'document text contains the card');
  assert(/\.docx$/.test(dl.suggestedFilename()), `file name ${dl.suggestedFilename()}`);
  state.docx = true;
}, { needs: ['edited'] });

await test('download the whole batch as .zip', async () => {
  await page.goto(`${BASE}/#/batches/${state.batchId}`);
  await page.waitForSelector('#zip:not([disabled])');
  const dl = await clickDownload(page, '#zip', 120000);
  const file = path.join(ART, `batch-${uniq}.zip`);
  await dl.saveAs(file);
  const names = zipEntries(fs.readFileSync(file)).map((e) => e.name);
  assert(names.filter((n) => /\.docx$/.test(n)).length === 3, `3 cards in the zip (${names.join(', ')})`);
  await shot(page, 'batch-zip');
}, { needs: ['generated'] });

// A TCP proxy in front of lighttpd that can cut every open connection (the event
// stream included) and refuse new ones for a while: a network failure as the
// browser sees it, without touching the stack.
async function cutProxy(target) {
  const u = new URL(target);
  const socks = new Set();
  let down = false;
  const server = net.createServer((c) => {
    if (down) { c.destroy(); return; }
    const up = net.connect(Number(u.port), u.hostname);
    socks.add(c); socks.add(up);
    const end = () => { c.destroy(); up.destroy(); socks.delete(c); socks.delete(up); };
    c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
    c.pipe(up); up.pipe(c);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() { down = true; for (const s of socks) s.destroy(); socks.clear(); },
    restore() { down = false; },
    close() { for (const s of socks) s.destroy(); server.close(); },
  };
}

await test('SSE connection cut while generating: the view catches up without a reload', async () => {
  const token = await nodeLogin(BASE);
  const fd = new FormData();
  fd.append('file', new Blob([xlsxBuffer(goodRows(`${uniq}s`, 4))]), 'sse.xlsx');
  fd.append('name', `E2E SSE ${uniq}`);
  const up = await apiCall(BASE, 'POST', '/api/batches', { token, body: fd });
  assert(up.status === 201, `upload ${up.status} ${up.text.slice(0, 200)}`);
  const id = up.data.id;
  const proxy = await cutProxy(BASE);
  const { ctx, page: p2 } = await newPage();
  try {
    await login(p2, proxy.url);
    await p2.goto(`${proxy.url}/#/batches/${id}`);
    await p2.waitForFunction(() => document.body.dataset.live === 'sse');
    await p2.evaluate(() => { window.__marker = 'no-reload'; });
    proxy.cut(); // the open event stream breaks, reconnects are refused
    await p2.waitForFunction(() => document.body.dataset.live !== 'sse', null, { timeout: 15000 });
    await shot(p2, 'sse-cut');
    const g = await apiCall(BASE, 'POST', `/api/batches/${id}/generate`, { token, json: {} });
    assert(g.status === 202, `generate ${g.status}`);
    await waitFor(async () => {
      const b = await apiCall(BASE, 'GET', `/api/batches/${id}`, { token });
      return b.data && b.data.projects.every((x) => x.status === 'COMPLETED' || x.status === 'FAILED');
    }, LIVE_TIMEOUT, 'the batch to finish on the server');
    const stale = await p2.$$eval('#projects tbody tr', (r) => r.map((x) => x.dataset.status));
    assert(stale.every((s) => s === 'PENDING'), `view saw nothing while cut off (${stale})`);
    proxy.restore();
    await p2.waitForFunction(() => [...document.querySelectorAll('#projects tbody tr')].every((r) => r.dataset.status === 'COMPLETED'),
      null, { timeout: 30000 });
    assert(await p2.evaluate(() => window.__marker === 'no-reload'), 'no page reload');
    const mode = await p2.evaluate(() => document.body.dataset.live);
    await shot(p2, 'sse-caught-up');
    console.log(`#   caught up via: ${mode}`);
  } finally {
    await ctx.close();
    proxy.close();
  }
});

await test('event stream unavailable: the view falls back to polling and still follows the batch', async () => {
  const token = await nodeLogin(BASE);
  const fd = new FormData();
  fd.append('file', new Blob([xlsxBuffer(goodRows(`${uniq}p`, 2))]), 'poll.xlsx');
  const up = await apiCall(BASE, 'POST', '/api/batches', { token, body: fd });
  assert(up.status === 201, `upload ${up.status}`);
  const { ctx, page: p3 } = await newPage();
  try {
    await login(p3, BASE);
    await p3.route('**/api/events/**', (route) => route.abort('connectionrefused'));
    await p3.goto(`${BASE}/#/batches/${up.data.id}`);
    await p3.waitForFunction(() => document.body.dataset.live === 'polling', null, { timeout: 20000 });
    await p3.click('#start');
    await p3.waitForFunction(() => [...document.querySelectorAll('#projects tbody tr')].every((r) => r.dataset.status === 'COMPLETED'),
      null, { timeout: LIVE_TIMEOUT });
    assert((await p3.textContent('#live-state')) !== 'Na żywo', 'badge does not claim a live stream');
    await shot(p3, 'polling-fallback');
  } finally {
    await ctx.close();
  }
});

await test('an invalid token sends the user back to login with "Sesja wygasła"', async () => {
  const { ctx, page: x } = await newPage();
  try {
    await login(x, BASE);
    await x.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('kartograf.session'));
      s.token = 'invalid.token.value';
      sessionStorage.setItem('kartograf.session', JSON.stringify(s));
    });
    await x.reload();
    await x.waitForSelector('#login-error:has-text("Sesja wygasła, zaloguj się ponownie")');
    await shot(x, 'session-expired');
    await login(x, BASE);
    const old = await x.evaluate(() => JSON.parse(sessionStorage.getItem('kartograf.session')).token);
    assert((await apiCall(BASE, 'GET', '/api/auth/me', { token: old })).status === 200, 'token works before logout');
    await x.click('#logout');
    await x.waitForSelector('#email');
    assert(await x.evaluate(() => !sessionStorage.getItem('kartograf.session')), 'logout clears the token');
    const after = await apiCall(BASE, 'GET', '/api/auth/me', { token: old });
    assert(after.status === 401, `"Wyloguj" ends the session on the server (old token: ${after.status})`);
  } finally {
    await ctx.close();
  }
});

// ---- batch lifecycle and money (issue 17): cap, estimate, stop, delete
await test('cost cap on the upload form, estimate beside the start button, "Zatrzymaj" stops a generating batch', async () => {
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('#file', { state: 'attached' });
  const file = writeTmp(`life-${uniq}.xlsx`, xlsxBuffer(goodRows(`L${uniq}`, 15)));
  await page.setInputFiles('#file', file);
  await page.waitForSelector('#client-ok');
  await page.fill('#batch-name', `Cykl życia ${uniq}`);
  await page.fill('#batch-cap', 'abc');
  await page.click('#send');
  await page.waitForSelector('#cap-error:has-text("Limit kosztów musi być liczbą")');
  await page.fill('#batch-cap', '2,50');
  await shot(page, 'life-upload-with-cap');
  await page.click('#send');
  await page.waitForURL(/#\/batches\/[0-9a-f-]{36}/);
  state.lifeBatch = page.url().split('/').pop();
  await page.waitForSelector('#cap-label:has-text("z limitu 2,50")');
  await page.waitForSelector('#estimate:has-text("Szacowany koszt: ok. 0,00")');
  const est = await page.textContent('#estimate');
  assert(/15 projektów, offline/.test(est), `estimate names rows and provider (${est})`);
  await shot(page, 'life-estimate-and-cap');
  await page.click('#start');
  await page.waitForSelector('#stop:not([hidden])');
  await page.click('#stop');
  await page.waitForSelector('.toast:has-text("Zatrzymano generowanie")');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#projects tbody tr')];
    return rows.length === 15 && !rows.some((r) => r.dataset.status === 'QUEUED' || r.dataset.status === 'GENERATING') &&
      rows.some((r) => r.dataset.status === 'PENDING');
  }, null, { timeout: 30000 });
  assert(await page.isHidden('#stop'), '"Zatrzymaj" hidden once nothing generates');
  const pending = await page.$$eval('#projects tbody tr[data-status=PENDING]', (r) => r.length);
  await shot(page, 'life-stopped');
  // a cap of 0 stops everything: the page says so, "Generuj" is refused with what to do
  await page.fill('#cap', '0');
  await page.click('#cap-save');
  await page.waitForSelector('#cap-stopped:has-text("Limit kosztów został osiągnięty")');
  await page.click('#start');
  await page.waitForSelector('.toast-error:has-text("limit")');
  await shot(page, 'life-cap-reached');
  // no cap: "Generuj" resumes the stopped cards
  await page.fill('#cap', '');
  await page.click('#cap-save');
  await page.waitForSelector('#cap-label:has-text("bez limitu")');
  await page.click('#start');
  await page.waitForFunction(() => [...document.querySelectorAll('#projects tbody tr')].every((r) => r.dataset.status === 'COMPLETED'),
    null, { timeout: LIVE_TIMEOUT });
  await page.waitForSelector('#estimate-vs-actual:not([hidden])');
  assert(pending > 0, 'some cards were stopped before they started');
  await shot(page, 'life-resumed-estimate-vs-actual');
}, { needs: ['loggedIn'] });

await test('"Usuń": a confirmation naming the batch and its cards, then the list updates', async () => {
  await page.goto(`${BASE}/#/`);
  const row = `tr[data-batch-id="${state.lifeBatch}"]`;
  await page.waitForSelector(row);
  await page.click(`${row} .delete-batch`);
  await page.waitForSelector('dialog.confirm[open]');
  const text = await page.textContent('dialog.confirm');
  assert(text.includes(`„Cykl życia ${uniq}”`) && /15 kartami/.test(text), `dialog names the batch and its cards (${text})`);
  await shot(page, 'life-delete-confirm');
  await page.click('#confirm-cancel');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  assert(await page.isVisible(row), 'cancel keeps the batch');
  await page.click(`${row} .delete-batch`);
  await page.click('#confirm-ok');
  await page.waitForSelector('.toast:has-text("Usunięto zestaw")');
  await page.waitForSelector(row, { state: 'detached' });
  const r = await apiCall(BASE, 'GET', `/api/batches/${state.lifeBatch}`, { token: await nodeLogin(BASE) });
  assert(r.status === 404, `the batch is gone (${r.status})`);
  await shot(page, 'life-deleted');
}, { needs: ['lifeBatch'] });

await test('"Zmień hasło" changes the password and ends the other sessions', async () => {
  const other = await nodeLogin(BASE);
  const NEW = `${PASSWORD}-nowe`;
  const { ctx, page: x } = await newPage();
  try {
    await login(x, BASE);
    await x.click('#account');
    await x.waitForSelector('#current-password');
    await x.fill('#current-password', PASSWORD);
    await x.fill('#new-password', 'krotkie');
    await x.fill('#repeat-password', 'krotkie');
    await x.click('form button[type=submit]');
    await x.waitForSelector('#account-error:has-text("co najmniej 12")');
    await x.fill('#current-password', 'zle haslo 12345');
    await x.fill('#new-password', NEW);
    await x.fill('#repeat-password', NEW);
    await x.click('form button[type=submit]');
    await x.waitForSelector('#account-error:has-text("Obecne hasło jest nieprawidłowe")');
    await shot(x, 'account-wrong-password');
    await x.fill('#current-password', PASSWORD);
    await x.click('form button[type=submit]');
    await x.waitForSelector('h1:has-text("Zestawy projektów")');
    const mine = await x.evaluate(() => JSON.parse(sessionStorage.getItem('kartograf.session')).token);
    assert((await apiCall(BASE, 'GET', '/api/auth/me', { token: mine })).status === 200, 'this tab keeps working (new token)');
    assert((await apiCall(BASE, 'GET', '/api/auth/me', { token: other })).status === 401, 'the other session ended');
    const back = await apiCall(BASE, 'POST', '/api/auth/password', { token: mine, json: { current_password: NEW, new_password: PASSWORD } });
    assert(back.status === 200, `password changed back (${back.status})`);
  } finally {
    await ctx.close();
  }
}, { needs: ['loggedIn'] });

await test('accessibility basics and tablet width', async () => {
  const { ctx, page: t } = await newPage({ viewport: { width: 768, height: 1024 } });
  await login(t, BASE);
  const unlabeled = await t.$$eval('input:not([type=hidden]), textarea, select', (els) => els.filter((e) =>
    !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e) => e.outerHTML.slice(0, 80)));
  assert(!unlabeled.length, `every field has a label (${unlabeled})`);
  assert(await t.$('[aria-live]'), 'an aria-live region exists');
  const first = await t.evaluate(() => document.querySelector('a[href], button, input, textarea, select').textContent);
  assert(/Przejdź do treści/.test(first || ''), `skip link first in tab order (${first})`);
  await t.focus('.skip-link');
  const box = await t.$eval('.skip-link', (e) => e.getBoundingClientRect().left);
  assert(box >= 0, 'skip link visible when focused');
  await shot(t, 'tablet-batches');
  if (state.projectId) {
    await t.goto(`${BASE}/#/projects/${state.projectId}`);
    await t.waitForSelector('article.section textarea');
    const tas = await t.$$eval('article.section textarea', (els) => els.filter((e) => !e.getAttribute('aria-labelledby')).length);
    assert(tas === 0, 'section editors are labelled by their headings');
    const overflow = await t.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert(!overflow, 'no horizontal scrolling at tablet width');
    await shot(t, 'tablet-editor');
  }
  await ctx.close();
}, { needs: ['loggedIn'] });

await test('batch page while generating: no WCAG A/AA violation (axe)', async () => {
  const token = await nodeLogin(BASE);
  const b = await uploadBatch(token, goodRows(`${uniq}r`, 3), `E2E w toku ${uniq}`);
  // a provider that takes a minute per stage: the projects stay GENERATING
  await restartWorker({ KARTOGRAF_AI_OFFLINE_DELAY_MS: '60000', KARTOGRAF_WORKER_SHUTDOWN_GRACE: '0' });
  const { ctx, page: r } = await newPage();
  try {
    await login(r, BASE);
    await r.goto(`${BASE}/#/batches/${b.id}`);
    await r.waitForFunction(() => document.body.dataset.live === 'sse', null, { timeout: 15000 });
    await r.click('#start');
    await r.waitForFunction(() => [...document.querySelectorAll('#projects tbody tr')].every((x) => x.dataset.status === 'GENERATING'),
      null, { timeout: 30000 });
    await r.waitForSelector('#eta:has-text("Szacowany czas")');
    await shot(r, 'batch-running');
    await axe(r, 'batch (running)');
  } finally {
    await ctx.close();
    await restartWorker(null);
  }
});

// Nothing of the page may lie under a toast: the lane is in the flow (it
// pushes the content down) and sticky parts of the page keep clear of it.
async function toastOverlaps(pg) {
  return pg.evaluate(() => {
    const lane = document.getElementById('toasts').getBoundingClientRect();
    const hit = [];
    for (const t of document.querySelectorAll('#toasts .toast')) {
      const a = t.getBoundingClientRect();
      for (const el of document.querySelectorAll('#main *')) {
        const b = el.getBoundingClientRect();
        if (!b.width || !b.height || getComputedStyle(el).visibility === 'hidden') continue;
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) hit.push(el.tagName + (el.id ? `#${el.id}` : '') + (el.className ? `.${String(el.className).split(' ')[0]}` : ''));
      }
    }
    return { hit: hit.slice(0, 5), lane: lane.height };
  });
}

await test('toasts: in a lane that covers nothing (1280×800, 768 wide), close by themselves, errors stay, said once', async () => {
  const pid = await completedProject(await nodeLogin(BASE), `${uniq}t`);
  for (const viewport of [{ width: 1280, height: 800 }, { width: 768, height: 1024 }]) {
    const { ctx, page: t } = await newPage({ viewport });
    try {
      await login(t, BASE);
      await t.goto(`${BASE}/#/projects/${pid}`);
      await t.waitForSelector('article.section textarea');
      // an error (the export fails) and a success (the export works)
      await t.route('**/api/export/project/**', (rt) => rt.fulfill({ status: 504, contentType: 'application/json', body: '{"error":"timeout","message":"timeout"}' }));
      await t.click('#docx');
      const err = await t.waitForSelector('.toast-error');
      await t.unroute('**/api/export/project/**');
      const dl = t.waitForEvent('download', { timeout: 60000 });
      await t.click('#docx');
      await dl;
      const ok = await t.waitForSelector('.toast-ok');
      const o = await toastOverlaps(t);
      assert(!o.hit.length && o.lane > 0, `${viewport.width}px: toasts over ${o.hit.join(', ')}`);
      // scrolled down: the lane sticks at the top, the quality panel stays below it
      await t.evaluate(() => window.scrollTo(0, document.body.scrollHeight / 2));
      const clear = await t.evaluate(() => {
        const lane = document.getElementById('toasts').getBoundingClientRect();
        const side = document.querySelector('.editor-side').getBoundingClientRect();
        return { laneBottom: lane.bottom, sideTop: side.top, sticky: getComputedStyle(document.querySelector('.editor-side')).position };
      });
      assert(clear.sticky !== 'sticky' || clear.sideTop >= clear.laneBottom - 1, `${viewport.width}px: quality panel below the lane (${JSON.stringify(clear)})`);
      await shot(t, `toasts-${viewport.width}`, { fullPage: false });
      // said once: no toast is (inside) a live region; the hidden regions hold the words
      const said = await t.evaluate(() => ({
        live: [...document.querySelectorAll('#toasts .toast')].filter((x) => x.closest('[aria-live],[role=status],[role=alert]')).length,
        polite: document.getElementById('sr-live').textContent,
        alert: document.getElementById('sr-alert').textContent,
      }));
      assert(said.live === 0, 'toasts are not live regions themselves');
      assert(/Pobrano plik/.test(said.polite) && /Nie udało się pobrać dokumentu/.test(said.alert), `announced: ${JSON.stringify(said)}`);
      // the success closes itself (6 s), the error stays until closed
      await ok.waitForElementState('hidden', { timeout: 12000 });
      assert(await err.isVisible(), 'the error toast stays');
      await err.$eval('.toast-close', (b) => b.click());
      await t.waitForFunction(() => !document.querySelector('.toast'));
      assert((await t.evaluate(() => document.getElementById('toasts').getBoundingClientRect().height)) === 0, 'empty lane takes no space');
    } finally {
      await ctx.close();
    }
  }
});

// Instruments a page before its scripts run: the frames, every change of the
// summary line and progress bar, and every live event (EventSource wrapped:
// arrival time and size). Fixed-size typed arrays, so the instrument does not
// grow the heap it helps to measure. Long tasks come from the Long Tasks API
// and, with their CPU time, from a Chromium trace (see mainTasks).
function instrumentPage() {
  const N = 1 << 15;
  const m = { lt: [], frames: new Float64Array(N), nf: 0, sum: new Float64Array(N), ns: 0, ev: new Float64Array(N), ne: 0, bytes: 0, done: 0, lastText: '' };
  window.__perf = m;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) m.lt.push([e.startTime, e.duration]); })
    .observe({ type: 'longtask', buffered: true });
  const frame = (t) => {
    if (m.nf < N) m.frames[m.nf++] = t;
    const el = document.getElementById('overall-text');
    const txt = el ? el.textContent + '|' + document.getElementById('overall').value : '';
    if (txt !== m.lastText) { m.lastText = txt; if (m.ns < N) m.sum[m.ns++] = t; }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const ES = window.EventSource;
  const types = ['snapshot', 'project.status_changed', 'project.progress', 'project.completed', 'project.failed'];
  window.EventSource = class extends ES {
    constructor(...a) {
      super(...a);
      const note = (e) => { if (m.ne < N) m.ev[m.ne++] = performance.now(); m.bytes += e.data.length; };
      for (const t of types) this.addEventListener(t, note);
      this.addEventListener('batch.completed', () => { m.done = performance.now(); performance.mark('e2e:done'); });
    }
  };
}

function dist(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return 'none';
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  return `n=${v.length} median=${q(0.5).toFixed(0)} p90=${q(0.9).toFixed(0)} p99=${q(0.99).toFixed(0)} max=${v[v.length - 1].toFixed(0)} ms`;
}

async function heap(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const g = (n) => (metrics.find((x) => x.name === n) || {}).value || 0;
  return { heap: g('JSHeapUsedSize'), nodes: g('Nodes'), listeners: g('JSEventListeners') };
}

// The page's main-thread tasks from a Chromium trace ('toplevel' category):
// wall-clock duration and the thread's CPU time of each, between two user
// timing marks. On a loaded machine a task can take 30× its CPU time in wall
// clock (the renderer waits for a core): CPU time is what the page's own code
// costs, wall clock what a user on this machine would feel.
function mainTasks(traceBuf, fromMark, toMark) {
  const t = JSON.parse(traceBuf.toString('utf8'));
  const ev = Array.isArray(t) ? t : t.traceEvents;
  const threads = new Map();
  for (const e of ev) if (e.ph === 'M' && e.name === 'thread_name' && e.args.name === 'CrRendererMain') threads.set(`${e.pid}:${e.tid}`, []);
  const marks = {};
  for (const e of ev) {
    if (e.cat && e.cat.includes('blink.user_timing')) marks[e.name] = Math.max(marks[e.name] || 0, e.ts);
    const list = threads.get(`${e.pid}:${e.tid}`);
    if (list && e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask') list.push(e);
  }
  // the page's renderer: the main thread that saw the marks' frames busiest
  const tasks = [...threads.values()].sort((a, b) => b.length - a.length)[0] || [];
  const from = marks[fromMark] || 0;
  const to = marks[toMark] || Infinity;
  const gc = [marks['e2e:gc'] || 0, marks['e2e:gc-end'] || 0];
  const inside = tasks.filter((e) => e.ts + e.dur >= from && e.ts <= to && !(e.ts >= gc[0] && e.ts <= gc[1]));
  return {
    // the longest three: "wall/CPU ms at +seconds after the first mark"
    top: [...inside].sort((a, b) => b.dur - a.dur).slice(0, 3)
      .map((e) => `${(e.dur / 1000).toFixed(0)}/${((e.tdur || 0) / 1000).toFixed(0)} ms at +${((e.ts - from) / 1e6).toFixed(1)} s`).join(', '),
    wall: inside.map((e) => e.dur / 1000),
    cpu: inside.map((e) => (e.tdur || 0) / 1000),
    cpuBetween: (a, b) => inside.filter((e) => e.ts >= a && e.ts <= b).reduce((x, e) => x + (e.tdur || 0) / 1000, 0),
    marks,
  };
}

// The page on its own core. A user's browser does not share its CPU with
// the server, but here the ASan-built stack (worker, PostgreSQL, the event
// relay) generating 1,000 cards at full speed shares two cores with
// Chromium, and the page's tasks took 2-2.2x their CPU time in wall clock.
// While the page is measured every process of the stack (the pid files in
// STATE/run and their descendants: PostgreSQL's backends, the worker's
// children) may run on the CPUs this process may use but the first only, so
// that one is Chromium's (which may still use the others when they are
// free); afterwards the stack gets all of them again. Pinning Chromium itself to CPU 0 was tried: its browser, viz
// and renderer processes then queue behind each other on one core. Needs 2
// CPUs and taskset (util-linux); returns whether it split.
function procTree() {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let st;
    try { st = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    if (!kids.has(ppid)) kids.set(ppid, []);
    kids.get(ppid).push(Number(d));
  }
  const below = (pid, out = new Set()) => { out.add(pid); for (const k of kids.get(pid) || []) below(k, out); return out; };
  return below;
}
// the CPUs this process may use (a container may allow fewer than the host has)
function allowedCpus() {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const out = [];
  for (const part of (m ? m[1] : '').split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) out.push(c);
  }
  return out;
}
async function splitCpus(on) {
  const cpus = allowedCpus();
  if (cpus.length < 2 || !STACK) return false;
  const below = procTree();
  const stack = new Set();
  for (const f of fs.readdirSync(path.join(STACK, 'run'))) {
    if (!/\.pid(\.kg)?$/.test(f)) continue;
    const pid = Number(fs.readFileSync(path.join(STACK, 'run', f), 'utf8').trim().split('\n')[0]);
    if (pid > 1) for (const p of below(pid)) stack.add(p);
  }
  const list = (on ? cpus.slice(1) : cpus).join(',');
  const done = await Promise.all([...stack].map((p) =>
    execFileP('taskset', ['-a', '-p', '-c', list, String(p)]).then(() => true, () => false)));
  if (BROWSER_NICE) await boostBrowser(on);
  return on && done.some(Boolean);
}

// ...and ahead of everything else on the machine. The kernel schedules
// sessions against each other first (autogroups, CONFIG_SCHED_AUTOGROUP):
// a process's own nice only counts inside its session, so a niced worker
// still takes a session's full share from the browser, and renicing
// Chromium does nothing (a busy loop at nice -19 got 45% of a CPU here under
// a load of 9). Playwright starts Chromium in a session of its own; while
// the page is measured that session's autogroup runs at nice
// E2E_BROWSER_NICE (default -10: ~10× the weight of a session at 0; the same
// loop then got 95%), 0 again afterwards. Needs root or CAP_SYS_NICE,
// otherwise nothing changes and the CPUs line says "nice 0". A weight, not a
// reservation: the page's tasks still take their own CPU time, but other
// work on the 2 cores (the stack, someone's compiler) no longer doubles
// their wall clock.
const BROWSER_NICE = Number(process.env.E2E_BROWSER_NICE ?? -10);
let browserNice = 0;
async function boostBrowser(on) {
  const own = (() => { try { return fs.readFileSync('/proc/self/autogroup', 'utf8').split(' ')[0]; } catch { return ''; } })();
  const groups = new Map(); // autogroup -> a pid in it
  for (const p of procTree()(process.pid)) {
    try {
      if (!/chrom/i.test(fs.readFileSync(`/proc/${p}/comm`, 'utf8'))) continue;
      const g = fs.readFileSync(`/proc/${p}/autogroup`, 'utf8').split(' ')[0];
      if (g !== own && !groups.has(g)) groups.set(g, p);
    } catch { /* gone, or no autogroups */ }
  }
  let ok = groups.size > 0;
  for (const p of groups.values()) {
    try { fs.writeFileSync(`/proc/${p}/autogroup`, String(on ? BROWSER_NICE : 0)); } catch { ok = false; }
  }
  browserNice = on && ok ? BROWSER_NICE : 0;
}
function cpusLine(pinned) {
  const c = allowedCpus();
  return `${pinned ? `the stack on CPU ${c.slice(1).join(',')}, CPU ${c[0]} left to Chromium` : 'shared (not split)'}; Chromium at nice ${browserNice}`;
}

// ---- the stack's Redis and PostgreSQL from node, for the event replay below
// (run.sh passes the stack: E2E_STATE). Redis speaks RESP over a socket of
// our own; PostgreSQL is one psql process fed statement by statement.
function stackConf(section, key) {
  let cur = '';
  for (const line of fs.readFileSync(path.join(STACK, 'kartograf.conf'), 'utf8').split('\n')) {
    const sec = /^\s*\[([^\]]+)\]/.exec(line);
    if (sec) { cur = sec[1]; continue; }
    const kv = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (kv && cur === section && kv[1] === key) return kv[2];
  }
  return '';
}

function respEncode(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
// one reply from b at i: [value, next index], or null when incomplete
function respParse(b, i) {
  const nl = b.indexOf('\r\n', i);
  if (nl < 0) return null;
  const type = String.fromCharCode(b[i]);
  const line = b.toString('utf8', i + 1, nl);
  let j = nl + 2;
  if (type === '+') return [line, j];
  if (type === '-') return [new Error(`redis: ${line}`), j];
  if (type === ':') return [Number(line), j];
  const n = Number(line);
  if (n < 0) return [null, j];
  if (type === '$') return b.length < j + n + 2 ? null : [b.toString('utf8', j, j + n), j + n + 2];
  if (type !== '*') throw new Error(`redis: unexpected reply type ${type}`);
  const out = [];
  for (let k = 0; k < n; k++) {
    const r = respParse(b, j);
    if (!r) return null;
    out.push(r[0]);
    j = r[1];
  }
  return [out, j];
}
// onMessage(data, t): pub/sub messages with their arrival time (performance.now())
async function redisClient(onMessage = null) {
  const sock = net.createConnection({ host: stackConf('redis', 'host') || '127.0.0.1', port: Number(stackConf('redis', 'port')) });
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  const waiting = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    const t = performance.now();
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    let i = 0;
    for (let r; i < buf.length && (r = respParse(buf, i));) {
      i = r[1];
      const v = r[0];
      if (onMessage && Array.isArray(v) && v[0] === 'message') { onMessage(v[2], t); continue; }
      const w = waiting.shift();
      if (w) { if (v instanceof Error) w.reject(v); else w.resolve(v); }
    }
    buf = buf.subarray(i);
  });
  sock.on('error', (e) => { while (waiting.length) waiting.shift().reject(e); });
  const cmd = (...args) => new Promise((resolve, reject) => { waiting.push({ resolve, reject }); sock.write(respEncode(args)); });
  if (stackConf('redis', 'password')) await cmd('AUTH', stackConf('redis', 'password'));
  if (Number(stackConf('redis', 'db') || 0)) await cmd('SELECT', stackConf('redis', 'db'));
  return { cmd, close: () => sock.destroy() };
}

function psqlSession() {
  const p = spawn('psql', [stackConf('database', 'conninfo'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = [];
  let out = '';
  let err = '';
  let n = 0;
  p.stdout.on('data', (d) => {
    out += d;
    for (let k; (k = out.indexOf('\n')) >= 0;) {
      const line = out.slice(0, k);
      out = out.slice(k + 1);
      if (!waiting.length) continue;
      if (line === `__kg_done_${waiting[0].id}`) waiting.shift().resolve();
      else waiting[0].lines.push(line);
    }
  });
  p.stderr.on('data', (d) => { err += d; });
  p.on('close', (code) => { while (waiting.length) waiting.shift().reject(new Error(`psql exited (${code}): ${err.trim()}`)); });
  p.stdin.on('error', () => {});
  return {
    query(sql) {
      const id = ++n;
      return new Promise((resolve, reject) => {
        const w = { id, lines: [], resolve: () => resolve(w.lines), reject };
        waiting.push(w);
        p.stdin.write(`${sql}\n\\echo __kg_done_${id}\n`);
      });
    },
    close() { p.stdin.end(); },
  };
}

// Every event published for a batch (SUBSCRIBE kg:batch:<id>), with the time
// it was published: the batch's real event stream, to be replayed.
async function recordEvents(batchId) {
  const events = [];
  const r = await redisClient((data, t) => events.push([t, data]));
  await r.cmd('SUBSCRIBE', `kg:batch:${batchId}`);
  return { events, stop: () => r.close() };
}

// lib/kg_event.c's publish script, verbatim: the history and the channel
const PUBLISH_LUA = "redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', " +
  "'seq', ARGV[2], 'data', ARGV[1]) " +
  "redis.call('EXPIRE', KEYS[1], ARGV[4]) " +
  "return redis.call('PUBLISH', KEYS[2], ARGV[1])";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Replays the events recorded for batch `from` (recordEvents) on batch `to`,
// a batch of as many rows that nothing generates (the worker is stopped), at
// their recorded pace, the way the worker publishes: first the state in
// PostgreSQL (one transaction per tick: each project as its last event of
// the tick says, a finished one copied from `from`'s row with its quality,
// provider and times; the batch's event_seq and at the end its status), then
// the event into the history and the channel (PUBLISH_LUA), so the relay,
// its snapshots and catch-ups, and the page's GET /api/batches/{id} all see
// what they would have seen. The events the generate request published
// itself (seq 1..G, every project QUEUED) are not replayed: the page's own
// click publishes them for `to`, and the replay starts when seq G arrives,
// each later event at its recorded distance from the recorded seq G.
async function replayEvents(recorded, from, to) {
  const ev = recorded.map(([t, d]) => [t, JSON.parse(d)]);
  const bySeq = new Map(ev.map((e) => [e[1].seq, e]));
  let G = 0;
  while (bySeq.has(G + 1) && bySeq.get(G + 1)[1].type === 'project.status_changed' && bySeq.get(G + 1)[1].status === 'QUEUED') G++;
  assert(G > 0, 'recorded stream starts with the generate request\'s QUEUED events');
  const work = ev.filter(([, o]) => o.seq > G);
  const tRef = bySeq.get(G)[0];
  assert(UUID.test(from) && UUID.test(to), 'batch ids');
  const sql = psqlSession();
  const pub = await redisClient();
  let t0 = 0;
  let arrived;
  let aborted = false;
  const gen = new Promise((res) => { arrived = res; });
  const sub = await redisClient((data, t) => { if (JSON.parse(data).seq === G && !t0) { t0 = t; arrived(); } });
  await sub.cmd('SUBSCRIBE', `kg:batch:${to}`);
  const map = new Map();
  for (const line of await sql.query(`SELECT a.id || ' ' || b.id FROM projects a JOIN projects b ON b.row_number = a.row_number AND b.batch_id = '${to}' WHERE a.batch_id = '${from}';`)) {
    const [a, b] = line.split(' ');
    map.set(a, b);
  }
  const stats = { events: work.length, ticks: 0, maxLateMs: 0, G };
  const done = (async () => {
    try {
      await gen;
      if (aborted) return stats;
      const seq = Number((await sql.query(`SELECT event_seq FROM batches WHERE id = '${to}';`))[0]);
      assert(seq === G, `the generate request of the replayed batch published ${seq} events, the recorded one ${G}`);
      for (let i = 0; i < work.length && !aborted;) {
        const wait = t0 + (work[i][0] - tRef) - performance.now();
        if (wait > 0) { await new Promise((r) => setTimeout(r, wait)); continue; }
        stats.maxLateMs = Math.max(stats.maxLateMs, -wait);
        const tick = [];
        while (i < work.length && t0 + (work[i][0] - tRef) <= performance.now()) tick.push(work[i++][1]);
        await replayTick(tick, sql, pub, map, to);
        stats.ticks++;
      }
    } finally {
      sub.close();
      pub.close();
      sql.close();
    }
    return stats;
  })();
  // the page failed: let go of the connections (else node never exits)
  return { done, abort: () => { aborted = true; arrived(); } };
}

async function replayTick(tick, sql, pub, map, to) {
  const last = new Map(); // project -> its last event in this tick
  let maxSeq = 0;
  let final = null;
  const out = [];
  for (const o of tick) {
    const e = { ...o, batch_id: to, ts: new Date().toISOString() };
    if (o.project_id) {
      e.project_id = map.get(o.project_id);
      assert(e.project_id && /^[A-Z]+$/.test(o.status) && Number.isInteger(o.progress), `replayable event ${JSON.stringify(o)}`);
      last.set(o.project_id, o);
    }
    if (o.type === 'batch.completed') { assert(/^[A-Z]+$/.test(o.status), 'batch status'); final = o.status; }
    maxSeq = Math.max(maxSeq, o.seq);
    out.push(e);
  }
  const done = [...last.entries()].filter(([, o]) => o.status === 'COMPLETED' || o.status === 'FAILED');
  const moving = [...last.entries()].filter(([, o]) => o.status !== 'COMPLETED' && o.status !== 'FAILED');
  const stmts = ['BEGIN;'];
  if (moving.length) {
    stmts.push(`UPDATE projects b SET status = v.st, progress = v.pr, quality_score = NULL, quality = NULL, error = NULL, finished_at = NULL, ` +
      `started_at = CASE WHEN v.st = 'GENERATING' THEN coalesce(b.started_at, now()) END ` +
      `FROM (VALUES ${moving.map(([a, o]) => `('${map.get(a)}'::uuid, '${o.status}', ${o.progress}::smallint)`).join(', ')}) v(id, st, pr) WHERE b.id = v.id;`);
  }
  if (done.length) {
    stmts.push('UPDATE projects b SET status = a.status, progress = a.progress, quality_score = a.quality_score, quality = a.quality, ' +
      'provider = a.provider, error = a.error, attempts = a.attempts, started_at = a.started_at, finished_at = a.finished_at ' +
      `FROM projects a, (VALUES ${done.map(([a]) => `('${map.get(a)}'::uuid, '${a}'::uuid)`).join(', ')}) v(b, a) WHERE b.id = v.b AND a.id = v.a;`);
  }
  stmts.push(`UPDATE batches SET event_seq = greatest(event_seq, ${maxSeq})${final ? `, status = '${final}', completed_at = now()` : ''} WHERE id = '${to}';`, 'COMMIT;');
  await sql.query(stmts.join('\n'));
  await Promise.all(out.map((e) => pub.cmd('EVAL', PUBLISH_LUA, '2', `kg:events:${to}`, `kg:batch:${to}`, JSON.stringify(e), String(e.seq), '1000', String(7 * 24 * 3600))));
}

// Opens a batch page instrumented (instrumentPage, a trace of the main
// thread, the stack on its own CPUs), presses "Rozpocznij generowanie" and
// follows the batch to batch.completed. Returns what was measured; prints it
// under `label`.
async function watchBatch(batchId, label) {
  const { ctx, page: s } = await newPage();
  let tracing = false;
  let pinned = false;
  try {
    await s.addInitScript(instrumentPage);
    await login(s, BASE);
    const cdp = await ctx.newCDPSession(s);
    await cdp.send('Performance.enable');
    pinned = await splitCpus(true);
    await browser.startTracing(s, { categories: ['toplevel', 'blink.user_timing', ...(process.env.E2E_SAVE_TRACE ? ['devtools.timeline', 'v8.execute'] : [])] });
    tracing = true;
    const open = await s.evaluate((id) => { performance.mark('e2e:open'); const t = performance.now(); location.hash = `#/batches/${id}`; return t; }, batchId);
    await s.waitForFunction(() => performance.getEntriesByName('kg:batch:rendered').length > 0, null, { timeout: 60000, polling: 200 });
    assert(await s.$$eval('#projects tbody tr', (r) => r.length) === SCALE_N, `${SCALE_N} rows`);
    await s.waitForFunction(() => document.body.dataset.live === 'sse', null, { timeout: 30000 });
    const rendered = await s.evaluate(() => {
      const mk = performance.getEntriesByName('kg:batch:rendered').pop();
      const r = performance.getEntriesByType('resource').filter((e) => /\/api\/batches\/[0-9a-f-]{36}$/.test(e.name)).shift();
      return { mark: mk.startTime, dataEnd: r ? r.responseEnd : null };
    });
    // the forced GC of the heap measurement is ours, not the page's
    await s.evaluate(() => performance.mark('e2e:gc'));
    const h0 = await heap(cdp);
    await s.evaluate(() => performance.mark('e2e:gc-end'));
    await shot(s, `scale-${label}-open`, { fullPage: false });
    const t0 = Date.now();
    await s.click('#start');
    await s.waitForFunction(() => window.__perf.done > 0, null, { timeout: Number(process.env.E2E_SCALE_TIMEOUT || 300000), polling: 1000 });
    const genMs = Date.now() - t0;
    await s.waitForFunction((n) => document.getElementById('overall-text').textContent.startsWith(`100% · Gotowe: ${n} z ${n}`), SCALE_N, { timeout: 30000, polling: 500 });
    await new Promise((r) => setTimeout(r, 1500)); // the final refresh
    const rowsDone = await s.$$eval('#projects tbody tr', (r) => r.filter((x) => x.dataset.status === 'COMPLETED').length);
    const traceBuf = await browser.stopTracing();
    tracing = false;
    if (process.env.E2E_SAVE_TRACE) fs.writeFileSync(path.join(ART, `scale-${label}-trace.json`), traceBuf);
    const traced = mainTasks(traceBuf, 'e2e:open', 'e2e:done');
    const h1 = await heap(cdp);
    await shot(s, `scale-${label}-completed`, { fullPage: false });
    const m = await s.evaluate((openT) => {
      const p = window.__perf;
      const frames = [...p.frames.slice(0, p.nf)].filter((t) => t >= openT && t <= p.done);
      const evs = [...p.ev.slice(0, p.ne)].filter((t) => t > openT);
      const first = evs.length > 1 ? evs[1] : p.done; // [0] is the snapshot
      const sums = [...p.sum.slice(0, p.ns)].filter((t) => t >= first && t <= p.done);
      return {
        lt: p.lt.filter(([t, d]) => t + d >= openT && t <= p.done).map(([, d]) => d),
        gaps: frames.slice(1).map((t, i) => t - frames[i]),
        sumGaps: [...sums, p.done].map((t, i, a) => t - (i ? a[i - 1] : first)),
        events: p.ne, bytes: p.bytes,
      };
    }, open);
    const wallSum = traced.wall.reduce((a, x) => a + x, 0);
    const cpuSum = traced.cpu.reduce((a, x) => a + x, 0);
    const r = {
      label, genMs, rowsDone, h0, h1, pinned, ...m,
      starved: cpuSum ? wallSum / cpuSum : 1,
      renderWall: rendered.mark - rendered.dataEnd,
      // CPU from setting the hash (request, parse, every row) to the last row
      renderCpu: traced.cpuBetween(traced.marks['e2e:open'] || 0, traced.marks['kg:batch:rendered'] || 0),
      maxCpu: Math.max(0, ...traced.cpu),
      maxWall: Math.max(0, ...traced.wall),
      wall: traced.wall,
      cpu: traced.cpu,
      maxSumGap: Math.max(0, ...m.sumGaps),
      cpus: cpusLine(pinned),
    };
    console.log(`#   [${label}] ${SCALE_N} projects to batch.completed in ${genMs} ms; ${m.events} events, ${(m.bytes / 1024).toFixed(0)} KiB of event data`);
    console.log(`#   [${label}] first full render: data → ${SCALE_N} rows ${r.renderWall.toFixed(0)} ms wall; open → rows ${(rendered.mark - open).toFixed(0)} ms wall, ${r.renderCpu.toFixed(0)} ms CPU`);
    console.log(`#   [${label}] main-thread tasks, CPU time: ${dist(traced.cpu)}`);
    console.log(`#   [${label}] main-thread tasks, wall clock: ${dist(traced.wall)} (starvation factor ${r.starved.toFixed(2)}: wall/CPU); longest (wall/CPU): ${traced.top}`);
    console.log(`#   [${label}] Long Tasks API (wall clock, > 50 ms): ${dist(m.lt)}`);
    console.log(`#   [${label}] frame gaps: ${dist(m.gaps)}; summary update gaps while running: ${dist(m.sumGaps)}`);
    console.log(`#   [${label}] heap ${(h0.heap / 1e6).toFixed(2)} → ${(h1.heap / 1e6).toFixed(2)} MB, DOM nodes ${h0.nodes} → ${h1.nodes}, listeners ${h0.listeners} → ${h1.listeners}`);
    console.log(`#   [${label}] CPUs: ${r.cpus}`);
    return r;
  } finally {
    if (pinned) await splitCpus(false);
    if (tracing) await browser.stopTracing().catch(() => {});
    await ctx.close();
  }
}

// what is the page's own however the machine is loaded: CPU time of its tasks, memory
function assertCpuLimits(r) {
  assert(r.rowsDone === SCALE_N, `[${r.label}] all ${SCALE_N} rows COMPLETED (${r.rowsDone})`);
  assert(r.maxCpu <= 100, `[${r.label}] no main-thread task above 100 ms of CPU (max ${r.maxCpu.toFixed(0)} ms)`);
  assert(r.renderCpu <= 500, `[${r.label}] first full render within 500 ms of CPU (${r.renderCpu.toFixed(0)} ms)`);
  assert(r.h1.heap <= r.h0.heap * 1.25 + 2e6, `[${r.label}] heap does not grow with the events (${r.h0.heap} → ${r.h1.heap})`);
  assert(r.h1.nodes <= r.h0.nodes * 1.1 + 500, `[${r.label}] DOM nodes do not grow with the events (${r.h0.nodes} → ${r.h1.nodes})`);
}
// What a user on this machine would feel: wall clock. Each miss says
// whether the machine may be to blame — the page's own CPU time for it was
// within the limit divided by E2E_STARVED (a 30 ms task that took 120 ms
// waited for a CPU) — or not (then it is the page's, and no rerun helps).
function overWall(wall, cpu, limit, what) {
  const over = wall.map((w, i) => [w, cpu[i]]).filter(([w]) => w > limit);
  if (!over.length) return [];
  const [w, c] = over.sort((a, b) => b[0] - a[0])[0];
  return [{ msg: `${what} took ${w.toFixed(0)} ms wall clock, ${c.toFixed(0)} ms CPU (limit ${limit})`, machine: over.every(([, x]) => x <= limit / STARVED) }];
}
function wallFailures(r) {
  const f = overWall(r.wall, r.cpu, 100, 'a main-thread task');
  if (r.renderWall > 500) f.push({ msg: `first full render ${r.renderWall.toFixed(0)} ms wall clock, ${r.renderCpu.toFixed(0)} ms CPU (limit 500)`, machine: r.renderCpu <= 500 / STARVED });
  if (r.maxSumGap > 1000) f.push({ msg: `summary not updated for ${r.maxSumGap.toFixed(0)} ms while events arrived (limit 1000)`, machine: r.starved >= STARVED });
  return f;
}

// The limits of issue 20 for a batch page with SCALE_N projects, in two runs.
//
// 1. Generation: the batch is generated for real (the worker restarted for
//    speed: offline provider without delay, concurrency 20, niced) while
//    the page follows it, and every event the batch publishes is recorded
//    with its time. Asserted: the CPU-time limits (no task above 100 ms, first
//    render 500 ms, heap and DOM do not grow). The wall clock is printed only:
//    here the stack that generates (worker, PostgreSQL, relay; ASan-built in
//    make test) shares the 2 cores with Chromium, which a user's browser
//    never does.
// 2. Replay: the worker stopped, a second batch of SCALE_N rows is opened in
//    a fresh page and "Rozpocznij generowanie" pressed (the real generate
//    request); then the recorded events are replayed for it at their recorded
//    pace through the real path — PostgreSQL updated as the worker would,
//    the events through Redis (history + PUBLISH), the SSE relay and lighttpd
//    — so the page gets the same stream and its GET /api/batches/{id}
//    answers agree with it, while nothing generates. Asserted: the same CPU
//    limits and the wall-clock ones: no main-thread task above 100 ms, first
//    full render (data → every row) within 500 ms, summary line and progress
//    bar updated at least once a second while events arrive. A miss the
//    machine may be to blame for (the page's own CPU time for it within the
//    limit / E2E_STARVED, default 1.5; for the summary: wall/CPU of all its
//    tasks ≥ E2E_STARVED) runs the replay again on a new batch, up to
//    E2E_WALL_TRIES (default 3) runs in all; any other miss, or one in the
//    last run, fails.
// E2E_WALL=0 reports the wall clock without asserting it. Through the
// shared host (E2E_SHARED) there is no replay (another database and Redis):
// only run 1, 300 projects (a process per request, polling: 300 took 71 s).
const SCALE_N = Number(process.env.E2E_SCALE_N || (process.env.E2E_SHARED ? 300 : 1000));
const STARVED = Number(process.env.E2E_STARVED || 1.5);
const ASSERT_WALL = process.env.E2E_WALL !== '0';
const WALL_TRIES = Math.max(1, Number(process.env.E2E_WALL_TRIES || 3));
await test(`scale: ${SCALE_N} projects: the batch page stays fluid from opening to batch.completed (generated, then its events replayed)`, async () => {
  const token = await nodeLogin(BASE);
  const replay = !process.env.E2E_SHARED && !!STACK;
  let t0 = Date.now();
  const a = await uploadBatch(token, goodRows(`${uniq}k`, SCALE_N), `E2E ${SCALE_N} ${uniq}`);
  console.log(`#   upload of ${SCALE_N} rows: ${Date.now() - t0} ms`);
  const rows = goodRows(`${uniq}r`, SCALE_N);
  let b = replay ? await uploadBatch(token, rows, `E2E ${SCALE_N} replay ${uniq}`) : null;
  await restartWorker({
    KARTOGRAF_AI_OFFLINE_DELAY_MS: process.env.E2E_SCALE_DELAY_MS || '0',
    KARTOGRAF_WORKER_CONCURRENCY: process.env.E2E_SCALE_CONCURRENCY || '20',
    KARTOGRAF_WORKER_GLOBAL_LIMIT: process.env.E2E_SCALE_CONCURRENCY || '20',
    KARTOGRAF_WORKER_USER_CONCURRENCY: process.env.E2E_SCALE_CONCURRENCY || '20',
  });
  let rec = null;
  try {
    rec = replay ? await recordEvents(a.id) : null;
    const gen = await watchBatch(a.id, 'generation');
    if (rec) rec.stop();
    assertCpuLimits(gen);
    if (!replay) {
      console.log(`#   note: no replay through the shared host: the wall-clock figures above are reported, not asserted`);
      return;
    }
    console.log(`#   recorded ${rec.events.length} events of the generation`);
    await execFileP(KGSTACK, ['stop', STACK, 'worker']);
    for (let run = 1; ; run++) {
      const rp = await replayEvents(rec.events, a.id, b.id);
      const rpDone = rp.done.catch((e) => e);
      const r = await watchBatch(b.id, `replay ${run}`).catch(async (e) => { rp.abort(); await rpDone; throw e; });
      const st = await rpDone;
      if (st instanceof Error) throw st;
      console.log(`#   [replay ${run}] ${st.events} events replayed after the generate request's ${st.G}, in ${st.ticks} transactions; the latest ${st.maxLateMs.toFixed(0)} ms behind its recorded time`);
      assertCpuLimits(r);
      const f = wallFailures(r);
      if (!f.length) {
        console.log(`#   [replay ${run}] wall-clock limits met (max task ${r.maxWall.toFixed(0)} ms, render ${r.renderWall.toFixed(0)} ms, summary gap ${r.maxSumGap.toFixed(0)} ms, starvation ${r.starved.toFixed(2)})`);
        break;
      }
      const msg = f.map((x) => x.msg).join('; ');
      if (!ASSERT_WALL) { console.log(`#   note: E2E_WALL=0: wall clock not asserted (${msg})`); break; }
      const machine = f.every((x) => x.machine);
      assert(machine && run < WALL_TRIES, `[replay ${run}] ${msg} (starvation ${r.starved.toFixed(2)}; ${machine ? `the last of ${WALL_TRIES} runs` : 'the page\'s own: its CPU time alone is over the limit / E2E_STARVED'})`);
      console.log(`#   [replay ${run}] ${msg}: the page's CPU time was within the limit / ${STARVED}, so the machine kept it waiting: once more on a new batch`);
      b = await uploadBatch(token, rows, `E2E ${SCALE_N} replay ${run + 1} ${uniq}`);
    }
  } finally {
    if (rec) rec.stop();
    await restartWorker(null);
  }
});

// 500 batches: the list asks the server for one page at a time
// (GET /api/batches?limit=20&offset=…) and keeps the page in the address.
await test('batches list with 500 batches paginates (server-side limit/offset, page kept in the URL)', async () => {
  const token = await nodeLogin(BASE);
  const before = (await apiCall(BASE, 'GET', '/api/batches?limit=1', { token })).data.total;
  const N = Number(process.env.E2E_LIST_N || 500);
  const csv = Buffer.from('Nazwa projektu,Opis,Wnioskodawca\nProjekt listy,Opis projektu listy,Fundacja Lista\n');
  let next = 0;
  const t0 = Date.now();
  const one = async () => {
    while (next < N) {
      const i = next++;
      const fd = new FormData();
      fd.append('file', new Blob([csv], { type: 'text/csv' }), `lista-${i}.csv`);
      fd.append('name', `Lista ${uniq} ${String(i).padStart(3, '0')}`);
      const r = await apiCall(BASE, 'POST', '/api/batches', { token, body: fd });
      assert(r.status === 201, `upload ${i}: ${r.status} ${r.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 6 }, one));
  console.log(`#   ${N} batches uploaded in ${Date.now() - t0} ms`);
  const total = before + N;
  // the server refuses what it cannot page
  for (const q of ['limit=0', 'limit=201', 'offset=-1', 'limit=abc']) {
    const r = await apiCall(BASE, 'GET', `/api/batches?${q}`, { token });
    assert(r.status === 400 && r.data && r.data.error, `?${q} → 400 JSON (${r.status} ${r.text.slice(0, 100)})`);
  }
  const { ctx, page: l } = await newPage();
  try {
    const sizes = [];
    l.on('response', async (res) => {
      if (/\/api\/batches\?/.test(res.url())) sizes.push([res.url().replace(/^.*\?/, ''), (await res.body()).length]);
    });
    await login(l, BASE);
    const pages = Math.ceil(total / 20);
    await l.waitForSelector(`.pager-pos:has-text("Strona 1 z ${pages}")`);
    assert(await l.$$eval('.batch-list tbody tr', (r) => r.length) === 20, '20 rows on page 1');
    const names = async (q) => (await apiCall(BASE, 'GET', `/api/batches?${q}`, { token })).data.batches.map((x) => x.name);
    const shown = () => l.$$eval('.batch-list tbody tr th', (r) => r.map((t) => t.textContent));
    assert(JSON.stringify(await shown()) === JSON.stringify(await names('limit=20&offset=0')), 'page 1 is the server\'s first page (newest first)');
    assert(await l.isDisabled('.pager-prev') && await l.isDisabled('.pager-first'), 'no newer page on page 1');
    await l.click('.pager-next');
    await l.waitForSelector(`.pager-pos:has-text("Strona 2 z ${pages}")`);
    assert(/#\/\?page=2$/.test(l.url()), `page 2 in the URL (${l.url()})`);
    assert(JSON.stringify(await shown()) === JSON.stringify(await names('limit=20&offset=20')), 'page 2 is the server\'s second page');
    await l.click('.pager-last');
    await l.waitForSelector(`.pager-pos:has-text("Strona ${pages} z ${pages}")`);
    const lastRows = await l.$$eval('.batch-list tbody tr', (r) => r.length);
    assert(lastRows === total - (pages - 1) * 20, `last page holds the rest (${lastRows})`);
    await l.reload();
    await l.waitForSelector(`.pager-pos:has-text("Strona ${pages} z ${pages}")`);
    assert(await l.isDisabled('.pager-next'), 'no older page on the last page');
    await shot(l, 'batches-paged');
    assert(sizes.every(([, n]) => n < 30000), `every list response is one page (${sizes.map(([q, n]) => `${q}: ${n} B`).join(', ')})`);
    assert(sizes.some(([q]) => q === `limit=20&offset=${(pages - 1) * 20}`), `the last page asked with an offset (${sizes.map(([q]) => q)})`);
  } finally {
    await ctx.close();
  }
});

// Typing in a card whose 8 sections hold 20,000 characters each (the most a
// section takes), 41 keystrokes 40 ms apart, with the stack on its own CPUs
// (splitCpus). Measured: every main-thread task (Chromium trace: wall clock
// and CPU time) and every keystroke's Event Timing (input delay + handlers
// + until the next frame is presented). Asserted, the issue's "long-task
// measure": no task above 50 ms of CPU and none above 50 ms of wall clock
// while typing. The Event Timing durations are printed (the worst with
// their parts); they are not asserted: the part after the handlers waits
// for the frame to be presented, which headless Chromium's software
// compositor (its GPU and browser processes) does outside the page's main
// thread: the first keystroke of a section (it turns dirty) waits
// 160-270 ms for its frame while no task of the page takes 50 ms. A miss of
// a task whose CPU time was within 50 / E2E_STARVED is typed again, up to
// E2E_WALL_TRIES runs, as in the scale test; so is a run with a task above
// 50 ms of CPU (a single outlier was seen once), failing in the last run.
await test('typing: editor with 8 sections × 20,000 characters stays within 50 ms per keystroke', async () => {
  const token = await nodeLogin(BASE);
  const pid = await completedProject(token, `${uniq}big`);
  const cur = await apiCall(BASE, 'GET', `/api/projects/${pid}`, { token });
  const para = 'Projekt obejmuje warsztaty, spotkania i działania lokalne dla mieszkańców osiedla. ';
  const long = (i) => `${i}. ${para.repeat(Math.ceil(20000 / para.length))}`.slice(0, 20000);
  const sections = Object.fromEntries(cur.data.sections.map((x, i) => [x.key, { body: long(i + 1) }]));
  const r = await apiCall(BASE, 'PATCH', `/api/projects/${pid}`, { token, json: { version: cur.data.version, sections } });
  assert(r.status === 200, `PATCH 8 × 20,000 characters: ${r.status} ${r.text.slice(0, 200)}`);
  const text = 'Dodatkowe zdanie o rezultatach projektu. ';
  const ta = '#sec-activities textarea';
  const { ctx, page: e } = await newPage();
  let tracing = false;
  let pinned = false;
  try {
    await e.addInitScript(() => {
      window.__keys = [];
      new PerformanceObserver((l) => {
        for (const x of l.getEntries()) {
          window.__keys.push({ name: x.name, dur: x.duration, delay: x.processingStart - x.startTime, handlers: x.processingEnd - x.processingStart,
            after: x.startTime + x.duration - x.processingEnd, t: x.startTime });
        }
      }).observe({ type: 'event', durationThreshold: 16, buffered: true });
    });
    await login(e, BASE);
    await e.goto(`${BASE}/#/projects/${pid}`);
    await e.waitForFunction(() => document.querySelectorAll('article.section textarea').length === 8 &&
      [...document.querySelectorAll('article.section textarea')].every((t) => t.value.length === 20000));
    await e.click(ta);
    let at = 10000;
    for (let run = 1; ; run++) {
      await e.evaluate(([sel, pos]) => { const t = document.querySelector(sel); t.setSelectionRange(pos, pos); }, [ta, at]);
      // where a user's click puts the caret it is in view: setSelectionRange
      // does not scroll, so without this the first keystroke scrolled the
      // textarea to the caret and waited ~200-270 ms for the new part of the
      // text to be drawn (to the frame, off the main thread)
      await e.keyboard.press('ArrowRight');
      await e.keyboard.press('ArrowLeft');
      await e.waitForTimeout(300);
      pinned = await splitCpus(true);
      await browser.startTracing(e, { categories: ['toplevel', 'blink.user_timing'] });
      tracing = true;
      await e.evaluate(() => { window.__keys = []; performance.mark('e2e:typing'); });
      await e.keyboard.type(text, { delay: 40 });
      await e.waitForTimeout(500);
      await e.evaluate(() => performance.mark('e2e:typed'));
      const traced = mainTasks(await browser.stopTracing(), 'e2e:typing', 'e2e:typed');
      tracing = false;
      const cpus = cpusLine(pinned);
      if (pinned) { await splitCpus(false); pinned = false; }
      const val = await e.inputValue(ta);
      assert(val.length === 20000 + run * text.length && val.slice(at, at + text.length) === text, 'the text arrived where typed');
      at += text.length;
      await e.waitForSelector('#sec-activities.dirty');
      const keys = (await e.evaluate(() => window.__keys)).filter((k) => /^key|^input|^beforeinput|^keypress/.test(k.name));
      const wallSum = traced.wall.reduce((a, x) => a + x, 0);
      const cpuSum = traced.cpu.reduce((a, x) => a + x, 0);
      const starved = cpuSum ? wallSum / cpuSum : 1;
      const maxCpu = Math.max(0, ...traced.cpu);
      const maxWall = Math.max(0, ...traced.wall);
      const downs = keys.filter((k) => k.name === 'keydown').map((k) => k.t);
      const nth = (k) => downs.filter((t) => t <= k.t).length;
      const worst = [...keys].sort((a, b) => b.dur - a.dur).slice(0, 3)
        .map((k) => `${k.name} of keystroke ${nth(k)} ${k.dur.toFixed(0)} ms (input delay ${k.delay.toFixed(0)}, handlers ${k.handlers.toFixed(0)}, to the frame ${k.after.toFixed(0)})`);
      console.log(`#   [typing ${run}] ${text.length} keystrokes; main-thread tasks CPU: ${dist(traced.cpu)}`);
      console.log(`#   [typing ${run}] wall clock: ${dist(traced.wall)} (starvation factor ${starved.toFixed(2)}); longest (wall/CPU): ${traced.top}`);
      console.log(`#   [typing ${run}] Event Timing ≥ 16 ms (key/input events): ${dist(keys.map((k) => k.dur))}; handlers ${dist(keys.map((k) => k.handlers))}`);
      if (worst.length) console.log(`#   [typing ${run}] slowest: ${worst.join('; ')}`);
      console.log(`#   [typing ${run}] CPUs: ${cpus}`);
      if (maxCpu > 50) {
        // One task over the CPU limit in a run is typed again, as a wall-clock
        // miss is: a clean clone once saw a single 54 ms task (the others at
        // most 22 ms) where every other run had none above 20 ms. A page whose
        // keystrokes do too much misses in every run and fails in the last.
        const over = traced.cpu.filter((x) => x > 50).length;
        assert(run < WALL_TRIES, `[typing ${run}] no task above 50 ms of CPU while typing (max ${maxCpu.toFixed(0)} ms, ${over} task(s); the last of ${WALL_TRIES} runs)`);
        console.log(`#   [typing ${run}] ${over} task(s) above 50 ms of CPU while typing (max ${maxCpu.toFixed(0)} ms): once more`);
        continue;
      }
      if (maxWall <= 50) {
        console.log(`#   [typing ${run}] wall-clock limit met (max task ${maxWall.toFixed(0)} ms)`);
        break;
      }
      const [f] = overWall(traced.wall, traced.cpu, 50, 'a main-thread task while typing');
      if (!ASSERT_WALL) { console.log(`#   note: E2E_WALL=0: wall clock not asserted (${f.msg})`); break; }
      assert(f.machine && run < WALL_TRIES, `[typing ${run}] ${f.msg} (starvation ${starved.toFixed(2)}; ${f.machine ? `the last of ${WALL_TRIES} runs` : 'the page\'s own: its CPU time alone is over the limit / E2E_STARVED'})`);
      console.log(`#   [typing ${run}] ${f.msg}: the page's CPU time was within the limit / ${STARVED}, so the machine kept it waiting: once more`);
    }
    await shot(e, 'editor-big', { fullPage: false });
  } finally {
    if (pinned) await splitCpus(false);
    if (tracing) await browser.stopTracing().catch(() => {});
    await ctx.close();
  }
});

// The shared host's mod_fcgid site (E2E_SHARED=fcgid in run.sh, README "Shared
// hosting"): a smoke, not the whole suite again.  mod_fcgid buffers the event
// stream (FcgidOutputBufferSize), so the page must fall back to polling; no
// worker runs until "cron" starts one (E2E_CRON_WORKER: the crontab line's
// command as the hosting account), and the page says generation starts within
// a minute until then.
const CRON_WORKER = process.env.E2E_CRON_WORKER || '';
if (process.env.E2E_SHARED_MODE === 'fcgid') {
  await test('mod_fcgid smoke: login, a refused large upload explained, upload, "within a minute" until cron starts the worker, polling follows the batch, .docx and .zip', async () => {
    assert(CRON_WORKER, 'E2E_CRON_WORKER not set (run.sh)');
    const { ctx, page: f } = await newPage();
    let worker = null;
    let workerExit = null;
    try {
      const res = await f.goto(`${BASE}/`);
      const h = res.headers();
      assert(/script-src 'self'/.test(h['content-security-policy'] || ''), `CSP from the .htaccess (${h['content-security-policy']})`);
      assert(h['x-content-type-options'] === 'nosniff', `nosniff (${h['x-content-type-options']})`);
      await login(f, BASE);
      // a sheet above FcgidMaxRequestLen (128 KiB): mod_fcgid refuses it before
      // Kartograf reads it, and the page says so in words
      const big = [HEADER];
      for (let i = 0; i < 300; i++) {
        big.push([`Duży projekt ${i + 1}`, `${'Opis działań w dzielnicy. '.repeat(24)}${i}`, 'Fundacja Duża',
          10000 + i, '01.03.2026', '31.10.2026', 'mieszkańcy']);
      }
      const csv = big.map((r) => r.map((c) => `"${String(c).replace(/"/g, '""')}"`).join(',')).join('\r\n');
      assert(Buffer.byteLength(csv) > 160 * 1024, `the sheet is above the limit (${Buffer.byteLength(csv)} bytes)`);
      await f.setInputFiles('#file', writeTmp(`fcgid-big-${uniq}.csv`, Buffer.from(csv)));
      await f.waitForSelector('#client-ok');
      await f.click('#send');
      const refused = await (await f.waitForSelector('#upload-error', { timeout: 30000 })).textContent();
      assert(/Serwer WWW odrzucił plik \(\d+ KiB\)/.test(refused) && /FcgidMaxRequestLen/.test(refused),
        `a readable message for the web server's refusal (${refused})`);
      await shot(f, 'fcgid-upload-refused');
      if (await f.isVisible('#reset')) await f.click('#reset');
      const file = writeTmp(`fcgid-${uniq}.xlsx`, xlsxBuffer(goodRows(`${uniq}f`, 3)));
      await f.setInputFiles('#file', file);
      await f.waitForSelector('#client-ok');
      await f.fill('#batch-name', `E2E fcgid ${uniq}`);
      await f.click('#send');
      await f.waitForURL(/#\/batches\/[0-9a-f-]{36}/);
      await f.waitForSelector('#projects tbody tr');
      const n = await f.$$eval('#projects tbody tr', (r) => r.length);
      assert(n === 3, `3 project rows (got ${n})`);
      // nothing of the buffered stream arrives: the page polls instead
      await f.waitForFunction(() => document.body.dataset.live === 'polling', null, { timeout: 25000 });
      await f.evaluate(() => {
        window.__marker = 'no-reload';
        window.__seen = new Set();
        const note = () => document.querySelectorAll('#projects tbody .badge').forEach((b) => window.__seen.add(b.textContent));
        new MutationObserver(note).observe(document.querySelector('#projects tbody'), { subtree: true, childList: true, characterData: true });
        note();
      });
      await f.click('#start');
      await f.waitForSelector('#queue-note:has-text("Generowanie rozpocznie się w ciągu minuty")', { timeout: 20000 });
      await shot(f, 'fcgid-waiting-for-cron');
      // the crontab line's command, as cron would start it
      worker = execFile(CRON_WORKER, [], { env: { PATH: '/usr/bin:/bin' } }, () => {});
      workerExit = new Promise((r) => worker.on('exit', (code, sig) => r({ code, sig })));
      await f.waitForFunction(() => [...document.querySelectorAll('#projects tbody tr')].every((r) => r.dataset.status === 'COMPLETED'),
        null, { timeout: LIVE_TIMEOUT });
      assert(await f.isHidden('#queue-note'), 'the "within a minute" note is gone once the worker runs');
      const seen = await f.evaluate(() => [...window.__seen]);
      assert(seen.includes('Gotowe') && seen.length >= 2, `status changes shown: ${seen.join(', ')}`);
      assert(await f.evaluate(() => window.__marker === 'no-reload'), 'no page reload');
      await shot(f, 'fcgid-completed');
      const batchUrl = f.url();
      await f.click('#projects tbody tr:first-child th a');
      await f.waitForSelector('article.section textarea');
      const docx = await clickDownload(f, '#docx', 90000);
      const dfile = path.join(ART, `fcgid-card-${uniq}.docx`);
      await docx.saveAs(dfile);
      assert(zipEntries(fs.readFileSync(dfile)).some((e) => e.name === 'word/document.xml'), 'a Word document');
      await f.goto(batchUrl);
      await f.waitForSelector('#zip:not([disabled])');
      const zip = await clickDownload(f, '#zip', 120000);
      const zfile = path.join(ART, `fcgid-batch-${uniq}.zip`);
      await zip.saveAs(zfile);
      const names = zipEntries(fs.readFileSync(zfile)).map((e) => e.name);
      assert(names.filter((x) => /\.docx$/.test(x)).length === 3, `3 cards in the zip (${names.join(', ')})`);
      await shot(f, 'fcgid-downloaded');
    } finally {
      await ctx.close();
      if (worker && worker.exitCode === null) worker.kill('SIGTERM');
    }
    const ex = await Promise.race([workerExit, new Promise((r) => setTimeout(() => r(null), 30000))]);
    assert(ex && ex.code === 0, `the cron worker left cleanly after SIGTERM (${JSON.stringify(ex)})`);
  });
}

if (APACHE) {
  await test('apache smoke: UI served with CSP, login, list, open a batch and a card', async () => {
    const { ctx, page: a } = await newPage();
    const res = await a.goto(`${APACHE}/`);
    assert(/script-src 'self'/.test(res.headers()['content-security-policy'] || ''), 'CSP header from Apache');
    await login(a, APACHE);
    if (state.batchId) {
      await a.goto(`${APACHE}/#/batches/${state.batchId}`);
      await a.waitForSelector('#projects tbody tr');
      await a.waitForFunction(() => ['sse', 'ended'].includes(document.body.dataset.live), null, { timeout: 15000 });
    }
    if (state.projectId) {
      await a.goto(`${APACHE}/#/projects/${state.projectId}`);
      await a.waitForSelector('article.section textarea');
    }
    await shot(a, 'apache-smoke');
    await ctx.close();
  });
}

await test('event streams were opened with single-use tickets, never with the token in the URL', async () => {
  const gets = eventUrls.filter((u) => u.startsWith('GET '));
  assert(gets.length > 0, 'the UI opened event streams');
  const bad = eventUrls.filter((u) => /[?&]token=/.test(u) || (u.startsWith('GET ') && !/[?&]ticket=[0-9a-f]{64}/.test(u)));
  assert(!bad.length, `event URLs without a ticket or with a token: ${bad.slice(0, 3).join(' | ')}`);
});

await test('no CSP violations or script errors during the run', async () => {
  assert(!problems.length, problems.slice(0, 10).join('\n'));
});

await browser.close();
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
