// The batches list and the spreadsheet upload with a client-side preview.
import { h, replace, fmtDateTime, fmtCost, plural, toast, announce } from './dom.js';
import { api, siteUrl, ApiError } from './api.js';
import { PROJECT_STATUS, STATUS_ORDER, batchStatus } from './labels.js';
import { COLUMNS, analyzeGrid, gridFromSheet, colName, displayValue } from './sheet.js';
import { deleteBatch, capField, parseCap, applyCap } from './lifecycle.js';

const TEMPLATE_URL = siteUrl('/api/template.xlsx');
const PAGE = 20;

let xlsxPromise = null;
export function loadXLSX() {
  if (window.XLSX) return Promise.resolve(window.XLSX);
  if (!xlsxPromise) {
    xlsxPromise = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = siteUrl('/vendor/xlsx.full.min.js');
      s.onload = () => (window.XLSX ? resolve(window.XLSX) : reject(new Error('XLSX missing')));
      s.onerror = () => { xlsxPromise = null; reject(new Error('load failed')); };
      document.head.appendChild(s);
    });
  }
  return xlsxPromise;
}

// The page of the list lives in the address (#/?page=3), so a reload or a
// link keeps it; replaceState changes it without a new route.
function pageFromHash() {
  const m = /[?&]page=(\d{1,6})\b/.exec(location.hash);
  return m ? Math.max(1, Number(m[1])) : 1;
}

export function renderBatches(root) {
  let offset = (pageFromHash() - 1) * PAGE;
  let alive = true;
  const listBox = h('div', { class: 'batch-list', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'note' }, 'Wczytywanie listy…'));
  const upload = uploadPanel();
  replace(root,
    h('h1', null, 'Zestawy projektów'),
    upload.el,
    h('section', { class: 'card', 'aria-labelledby': 'list-h' },
      h('h2', { id: 'list-h', tabindex: '-1' }, 'Twoje zestawy'),
      listBox));

  async function load() {
    listBox.setAttribute('aria-busy', 'true');
    try {
      const r = await api('GET', `/api/batches?limit=${PAGE}&offset=${offset}`);
      if (!alive) return;
      const total = r.total || 0;
      if (offset > 0 && offset >= total) { // past the end (batches deleted meanwhile)
        offset = Math.max(0, Math.floor((total - 1) / PAGE) * PAGE);
        load();
        return;
      }
      replace(listBox, batchTable(r.batches || [], total));
    } catch (e) {
      if (!alive) return;
      replace(listBox, h('p', { class: 'form-error', role: 'alert' }, e.message),
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Spróbuj ponownie'));
    } finally {
      listBox.setAttribute('aria-busy', 'false');
    }
  }

  function batchTable(batches, total) {
    if (!batches.length && offset === 0) {
      return h('p', { class: 'note' }, 'Nie masz jeszcze żadnych zestawów. Wczytaj pierwszy arkusz powyżej.');
    }
    const rows = batches.map((b) => h('tr', { dataset: { batchId: b.id } },
      h('th', { scope: 'row' }, h('a', { href: `#/batches/${encodeURIComponent(b.id)}` }, b.name || 'Bez nazwy')),
      h('td', null, fmtDateTime(b.created_at)),
      h('td', null, h('span', { class: `badge batch-${String(b.status || '').toLowerCase()}` }, batchStatus(b.status))),
      h('td', null, countsView(b.counts || {}, b.row_count)),
      h('td', { class: 'num' }, fmtCost(b.cost)),
      h('td', null, deleteButton(b))));
    const pager = pagerView(total);
    return h('div', null,
      h('div', { class: 'table-wrap' },
        h('table', { class: 'data' },
          h('caption', { class: 'visually-hidden' }, 'Zestawy projektów, od najnowszego'),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Nazwa'), h('th', { scope: 'col' }, 'Utworzono'), h('th', { scope: 'col' }, 'Stan'),
            h('th', { scope: 'col' }, 'Projekty według statusu'), h('th', { scope: 'col', class: 'num' }, 'Koszt AI (USD)'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Akcje')))),
          h('tbody', null, rows))),
      h('p', { class: 'note' }, `Razem: ${plural(total, 'zestaw', 'zestawy', 'zestawów')}.`),
      pager);
  }

  // "Usuń" with a confirmation naming the batch and its number of cards
  function deleteButton(b) {
    return h('button', {
      type: 'button', class: 'btn btn-small btn-danger-outline delete-batch', 'aria-label': `Usuń zestaw ${b.name || ''}`,
      onclick: async () => { if (await deleteBatch(b)) load(); },
    }, 'Usuń');
  }

  // « Najnowsze · ← Nowsze · Strona 3 z 25 · Starsze → · Najstarsze »
  function pagerView(total) {
    const pages = Math.max(1, Math.ceil(total / PAGE));
    const page = Math.floor(offset / PAGE) + 1;
    if (pages === 1) return null;
    const go = (p) => () => {
      offset = (p - 1) * PAGE;
      history.replaceState(null, '', p > 1 ? `#/?page=${p}` : '#/');
      load().then(() => { const h2 = document.getElementById('list-h'); if (h2) h2.focus(); });
    };
    const btn = (label, p, cls, aria) => h('button', {
      type: 'button', class: `btn ${cls}`, disabled: p === page, onclick: go(p), 'aria-label': aria || null,
    }, label);
    return h('nav', { class: 'pager', 'aria-label': 'Strony listy zestawów' },
      btn('« Najnowsze', 1, 'pager-first', 'Pierwsza strona: najnowsze zestawy'),
      btn('← Nowsze', Math.max(1, page - 1), 'pager-prev'),
      h('span', { class: 'pager-pos', 'aria-current': 'page' }, `Strona ${page} z ${pages}`),
      btn('Starsze →', Math.min(pages, page + 1), 'pager-next'),
      btn('Najstarsze »', pages, 'pager-last', 'Ostatnia strona: najstarsze zestawy'));
  }

  load();
  return () => { alive = false; upload.destroy(); };
}

export function countsView(counts, rowCount) {
  const items = STATUS_ORDER.filter((s) => counts[s]).map((s) =>
    h('li', { class: `chip status-${s.toLowerCase()}` }, `${PROJECT_STATUS[s]}: ${counts[s]}`));
  return h('div', null,
    h('span', { class: 'visually-hidden' }, `${rowCount || 0} projektów. `),
    h('ul', { class: 'chips', 'aria-label': 'Liczba projektów według statusu' }, items.length ? items : h('li', { class: 'chip' }, '—')));
}

// A 413/500 without our request_id came from the web server, not from
// Kartograf: on shared hosting mod_fcgid refuses bodies above
// FcgidMaxRequestLen (128 KiB by default) before the program sees them.
function uploadErrorText(e, f) {
  if (e instanceof ApiError && (e.status === 413 || e.status === 500) && !(e.data && e.data.request_id)) {
    const kib = Math.ceil(f.size / 1024);
    return `Serwer WWW odrzucił plik (${kib} KiB), zanim Kartograf go odczytał — ` +
      'najpewniej przekracza limit wielkości żądania ustawiony na tym serwerze. ' +
      'Podziel arkusz na mniejsze części albo poproś administratora o zwiększenie limitu (FcgidMaxRequestLen).';
  }
  return e.message;
}

function uploadPanel() {
  let file = null;
  let grid = null;
  let analysis = null;
  let serverErrors = null;
  let busy = false;

  const input = h('input', { type: 'file', id: 'file', class: 'visually-hidden', accept: '.xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv' });
  const nameInput = h('input', { type: 'text', id: 'batch-name', maxlength: '200', autocomplete: 'off' });
  const zone = h('div', { class: 'dropzone', id: 'dropzone' },
    h('p', null, 'Przeciągnij tutaj plik .xlsx lub .csv albo'),
    h('label', { for: 'file', class: 'btn btn-primary' }, 'Wybierz plik z dysku'),
    input,
    h('p', { class: 'note' }, 'Wymagane kolumny: Nazwa projektu, Opis, Wnioskodawca. Nagłówki mogą być po polsku lub po angielsku.'));
  const status = h('div', { class: 'upload-status', 'aria-live': 'polite' });
  const preview = h('div', { class: 'preview' });
  const cap = capField('batch-cap');
  const sendBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'send', disabled: true }, 'Wyślij plik');
  const resetBtn = h('button', { type: 'button', class: 'btn', id: 'reset', hidden: true }, 'Wybierz inny plik');
  const el = h('section', { class: 'card', 'aria-labelledby': 'upload-h' },
    h('h2', { id: 'upload-h' }, 'Nowy zestaw z arkusza'),
    h('p', null, 'Nie masz pliku? ', h('a', { href: TEMPLATE_URL, download: 'szablon-kartograf.xlsx', class: 'template-link' }, 'Pobierz szablon (.xlsx)'),
      ' — zawiera wszystkie kolumny, przykładowy wiersz i instrukcję.'),
    zone,
    h('div', { class: 'field' }, h('label', { for: 'batch-name' }, 'Nazwa zestawu (opcjonalnie)'), nameInput),
    cap.el,
    status,
    preview,
    h('div', { class: 'actions' }, sendBtn, resetBtn));

  input.addEventListener('change', () => { if (input.files && input.files[0]) choose(input.files[0]); });
  const stop = (ev) => { ev.preventDefault(); ev.stopPropagation(); };
  zone.addEventListener('dragenter', (ev) => { stop(ev); zone.classList.add('drag'); });
  zone.addEventListener('dragover', (ev) => { stop(ev); zone.classList.add('drag'); });
  zone.addEventListener('dragleave', (ev) => { stop(ev); zone.classList.remove('drag'); });
  zone.addEventListener('drop', (ev) => {
    stop(ev);
    zone.classList.remove('drag');
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) choose(f);
  });
  sendBtn.addEventListener('click', send);
  resetBtn.addEventListener('click', () => {
    file = grid = analysis = serverErrors = null;
    input.value = '';
    replace(status); replace(preview);
    sendBtn.disabled = true; resetBtn.hidden = true;
    input.focus();
  });

  async function choose(f) {
    file = f;
    grid = analysis = serverErrors = null;
    resetBtn.hidden = false;
    if (!nameInput.value) nameInput.value = f.name.replace(/\.(xlsx|csv)$/i, '');
    replace(preview);
    if (!/\.(xlsx|csv)$/i.test(f.name)) {
      replace(status, h('p', { class: 'form-error', role: 'alert' }, `Plik „${f.name}” nie wygląda na arkusz .xlsx ani .csv. Serwer może go odrzucić.`));
    } else {
      replace(status, h('p', null, `Sprawdzanie pliku „${f.name}”…`));
    }
    sendBtn.disabled = false;
    try {
      const XLSX = await loadXLSX();
      let wb;
      if (/\.csv$/i.test(f.name)) {
        const text = new TextDecoder('utf-8').decode(await f.arrayBuffer()).replace(/^\ufeff/, '');
        wb = XLSX.read(text, { type: 'string', raw: true });
      } else {
        wb = XLSX.read(await f.arrayBuffer(), { type: 'array', cellDates: true });
      }
      const ws = wb.Sheets[wb.SheetNames[0]];
      grid = gridFromSheet(XLSX, ws);
      analysis = analyzeGrid(grid);
      showPreview();
    } catch (e) {
      console.error(e);
      replace(status, h('p', { class: 'form-error', role: 'alert' },
        `Nie udało się odczytać pliku w przeglądarce (${f.name}). Możesz go mimo to wysłać — serwer sprawdzi go dokładnie.`));
    }
  }

  function showPreview() {
    const problems = serverErrors || analysis.problems;
    const summary = [];
    summary.push(h('p', null, `Plik „${file.name}”: ${plural(analysis.dataRows, 'wiersz', 'wiersze', 'wierszy')} z danymi.`));
    if (serverErrors) {
      summary.push(h('div', { class: 'alert alert-error', role: 'alert', id: 'server-errors' },
        h('h3', null, 'Serwer odrzucił plik — popraw błędy i wyślij ponownie'),
        h('p', null, 'Błędy są zaznaczone na czerwono w tabeli poniżej. ',
          h('a', { href: TEMPLATE_URL, download: 'szablon-kartograf.xlsx', class: 'template-link', id: 'server-template-link' }, 'Pobierz szablon (.xlsx)'),
          ', jeśli chcesz zacząć od poprawnego pliku.'),
        problemList(problems, 'server')));
    } else if (problems.length) {
      summary.push(h('div', { class: 'alert alert-warn', id: 'client-problems' },
        h('h3', null, `Znaleziono ${plural(problems.length, 'problem', 'problemy', 'problemów')}`),
        h('p', null, 'Zaznaczone komórki najpewniej zostaną odrzucone przez serwer. Popraw plik albo wyślij go mimo to, aby zobaczyć pełną ocenę serwera.'),
        problemList(problems, 'client')));
    } else {
      summary.push(h('p', { class: 'alert alert-ok', id: 'client-ok' }, 'Nie widać problemów. Wyślij plik, aby serwer go sprawdził i utworzył zestaw.'));
    }
    sendBtn.textContent = problems.length && !serverErrors ? 'Wyślij mimo to' : 'Wyślij plik';
    replace(status, summary);
    replace(preview, previewTable(problems, serverErrors ? 'server' : 'client'));
    announce(serverErrors ? `Serwer odrzucił plik: ${plural(problems.length, 'błąd', 'błędy', 'błędów')}.`
      : problems.length ? `Podgląd pliku: ${plural(problems.length, 'problem', 'problemy', 'problemów')}.` : 'Podgląd pliku: bez problemów.');
  }

  function problemList(problems, kind) {
    return h('ul', { class: 'problems', dataset: { kind } }, problems.map((p) => {
      const col = p.column || (p.col >= 0 ? colName(p.col) : '');
      const field = COLUMNS.find((c) => c.key === p.field);
      const where = [p.row ? `Wiersz ${p.row}` : null, col ? `kolumna ${col}` : null].filter(Boolean).join(', ');
      const label = `${where}${field ? ` „${field.label}”` : ''}`;
      const item = h('li', { dataset: { row: p.row || '', column: col, code: p.code || '' } });
      if (col && p.row) {
        item.appendChild(h('button', { type: 'button', class: 'linklike', onclick: () => focusCell(`${col}${p.row}`) }, label));
      } else if (label) {
        item.appendChild(h('strong', null, label));
      }
      item.appendChild(document.createTextNode(`${label ? ': ' : ''}${p.message}`));
      return item;
    }));
  }

  function focusCell(ref) {
    const td = preview.querySelector(`[data-cell="${ref}"]`);
    if (td) { td.focus(); td.scrollIntoView({ block: 'nearest', inline: 'nearest' }); }
  }

  function previewTable(problems, kind) {
    const byCell = {};
    const byRow = {};
    for (const p of problems) {
      const col = p.column || (p.col >= 0 ? colName(p.col) : '');
      if (col && p.row) (byCell[`${col}${p.row}`] = byCell[`${col}${p.row}`] || []).push(p.message);
      else if (p.row) (byRow[p.row] = byRow[p.row] || []).push(p.message);
    }
    const ncols = Math.max(grid.ncols, ...problems.map((p) => (p.column ? lettersToIndex(p.column) + 1 : 0)));
    const letters = [];
    for (let c = 0; c < ncols; c++) letters.push(colName(c));
    const rows = grid.rows.slice();
    // rows the server complains about that the preview does not have
    for (const r of Object.keys(byRow).concat(Object.keys(byCell).map((k) => k.replace(/^[A-Z]+/, '')))) {
      if (!rows.some((x) => x.r === +r)) rows.push({ r: +r, cells: {} });
    }
    rows.sort((a, b) => a.r - b.r);
    const shown = rows.slice(0, 500);
    const tbody = h('tbody', null, shown.map((row) => {
      const rowMsgs = byRow[row.r];
      const isHeader = analysis && row.r === analysis.headerRow;
      return h('tr', { class: [isHeader ? 'header-row' : '', rowMsgs ? `row-bad row-${kind}` : ''].join(' ').trim() },
        h('th', { scope: 'row', title: rowMsgs ? rowMsgs.join(' ') : null }, String(row.r),
          rowMsgs ? h('span', { class: 'visually-hidden' }, ` Błąd: ${rowMsgs.join(' ')}`) : null),
        letters.map((L, c) => {
          const ref = `${L}${row.r}`;
          const msgs = byCell[ref];
          return h('td', {
            dataset: { cell: ref }, tabindex: msgs ? '-1' : null,
            class: msgs ? `cell-bad cell-${kind}` : null, title: msgs ? msgs.join(' ') : null,
          }, displayValue(row.cells[c]),
          msgs ? h('span', { class: 'visually-hidden' }, ` Błąd: ${msgs.join(' ')}`) : null);
        }));
    }));
    return h('div', null,
      h('div', { class: 'table-wrap preview-wrap', role: 'region', 'aria-label': 'Podgląd arkusza', tabindex: '0' },
        h('table', { class: 'sheet', id: 'preview-table' },
          h('caption', { class: 'visually-hidden' }, 'Podgląd pierwszego arkusza; komórki z błędami są zaznaczone'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Wiersz'), letters.map((L) => h('th', { scope: 'col' }, L)))),
          tbody)),
      rows.length > shown.length || grid.truncated ? h('p', { class: 'note' }, 'Pokazano pierwsze 500 wierszy.') : null,
      h('p', { class: 'legend note' }, h('span', { class: 'swatch cell-client' }), ' problem wykryty w przeglądarce  ',
        h('span', { class: 'swatch cell-server' }), ' błąd zgłoszony przez serwer'));
  }

  async function send() {
    if (!file || busy) return;
    const capValue = parseCap(cap.input.value);
    if (Number.isNaN(capValue)) {
      replace(status, h('p', { class: 'form-error', role: 'alert', id: 'cap-error' }, 'Limit kosztów musi być liczbą, np. 2,50 (USD), albo pustym polem (bez limitu).'));
      cap.input.focus();
      return;
    }
    busy = true;
    sendBtn.disabled = true;
    const old = sendBtn.textContent;
    sendBtn.textContent = 'Wysyłanie…';
    const fd = new FormData();
    if (nameInput.value.trim()) fd.append('name', nameInput.value.trim());
    fd.append('file', file, file.name);
    try {
      const b = await api('POST', '/api/batches', { body: fd });
      if (capValue !== null) await applyCap(b.id, capValue);
      toast(`Utworzono zestaw „${b.name || file.name}”: ${plural(b.row_count || (b.projects || []).length, 'projekt', 'projekty', 'projektów')}.`, 'ok');
      location.hash = `#/batches/${encodeURIComponent(b.id)}`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && e.code === 'validation_failed') {
        serverErrors = e.data.errors || [];
        if (!grid) { grid = { rows: [], ncols: 0 }; analysis = { dataRows: 0, headerRow: null, problems: [] }; }
        showPreview();
        const box = document.getElementById('server-errors');
        if (box) box.scrollIntoView({ block: 'start' });
      } else {
        replace(status, h('p', { class: 'form-error', role: 'alert', id: 'upload-error' }, uploadErrorText(e, file)),
          e instanceof ApiError && e.data && e.data.template_url
            ? h('p', null, h('a', { href: siteUrl(e.data.template_url), class: 'template-link' }, 'Pobierz szablon (.xlsx)')) : null);
      }
    } finally {
      busy = false;
      sendBtn.disabled = false;
      if (sendBtn.textContent === 'Wysyłanie…') sendBtn.textContent = old;
    }
  }

  return { el, destroy() {} };
}

function lettersToIndex(s) {
  let n = 0;
  for (const ch of s) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}
