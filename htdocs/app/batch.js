// One batch: start generation, watch it live, retry failures, download all.
import { h, replace, fmtDateTime, fmtCost, fmtDuration, plural, toast, announce, setTitle } from './dom.js';
import { api, download } from './api.js';
import { projectStatus, batchStatus } from './labels.js';
import { BatchLive } from './live.js';

const ACTIVE = new Set(['QUEUED', 'GENERATING']);
const DONE = new Set(['COMPLETED', 'FAILED']);

export function renderBatch(root, batchId) {
  let batch = null;
  const projects = new Map(); // id -> project
  const rows = new Map();     // id -> {tr, cells...}
  let alive = true;
  let live = null;
  let etaStart = null;        // {t, p} when we first saw the batch generating
  let refreshTimer = null;

  const title = h('h1', null, 'Zestaw');
  const meta = h('p', { class: 'note' });
  const offlineNote = h('p', { class: 'alert alert-info offline-note', hidden: true, id: 'offline-note' },
    'Tekst wygenerowany offline (bez modelu AI) — wbudowany generator złożył karty z danych arkusza. Przejrzyj je szczególnie uważnie.');
  const startBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'start' }, 'Rozpocznij generowanie');
  const retryAllBtn = h('button', { type: 'button', class: 'btn', id: 'retry-failed', hidden: true }, 'Ponów nieudane');
  const zipBtn = h('button', { type: 'button', class: 'btn', id: 'zip', disabled: true }, 'Pobierz wszystko (.zip)');
  const liveBadge = h('span', { class: 'live-badge', id: 'live-state', role: 'status' }, '');
  const overall = h('progress', { id: 'overall', max: '100', value: '0', 'aria-labelledby': 'overall-label' });
  const overallText = h('p', { id: 'overall-text' });
  const eta = h('p', { id: 'eta', class: 'note' });
  const queueNote = h('p', { id: 'queue-note', class: 'note', role: 'status', hidden: true });
  let queue = null;           // "queue" of GET /api/batches/{id} (lib/kg_sched.h)
  const tbody = h('tbody');
  const tableBox = h('div', { class: 'table-wrap' },
    h('table', { class: 'data projects', id: 'projects' },
      h('caption', { class: 'visually-hidden' }, 'Projekty zestawu ze statusem generowania'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', class: 'num' }, 'Wiersz'), h('th', { scope: 'col' }, 'Projekt'), h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Postęp'), h('th', { scope: 'col', class: 'num' }, 'Jakość'), h('th', { scope: 'col' }, 'Uwagi'))),
      tbody));

  replace(root,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Zestawy projektów')),
    title, meta, offlineNote,
    h('section', { class: 'card', 'aria-labelledby': 'overall-label' },
      h('div', { class: 'row-between' },
        h('h2', { id: 'overall-label' }, 'Postęp generowania'), liveBadge),
      overall, overallText, eta, queueNote,
      h('div', { class: 'actions' }, startBtn, retryAllBtn, zipBtn)),
    h('section', { class: 'card', 'aria-labelledby': 'projects-h' },
      h('h2', { id: 'projects-h' }, 'Projekty'),
      tableBox));

  startBtn.addEventListener('click', () => generate(null));
  retryAllBtn.addEventListener('click', () => generate([...projects.values()].filter((p) => p.status === 'FAILED').map((p) => p.id)));
  zipBtn.addEventListener('click', async () => {
    zipBtn.disabled = true;
    const old = zipBtn.textContent;
    zipBtn.textContent = 'Przygotowywanie archiwum…';
    try {
      const r = await download(`/api/export/batch/${encodeURIComponent(batchId)}`, `${(batch && batch.name) || 'karty'}.zip`);
      toast(`Pobrano plik ${r.name}.`, 'ok');
    } catch (e) {
      toast(`Nie udało się pobrać archiwum: ${e.message}`, 'error');
    } finally {
      zipBtn.textContent = old;
      updateSummary();
    }
  });

  async function load() {
    try {
      const b = await api('GET', `/api/batches/${encodeURIComponent(batchId)}`);
      if (!alive) return;
      applyBatch(b);
      if (!live) {
        live = new BatchLive(batchId, {
          onSnapshot: applySnapshot,
          onEvent: applyEvent,
          onPoll: (nb) => {
            applyBatch(nb);
            if (isFinal()) { live.stopPolling(); live.setMode('ended'); }
          },
          onMode: showMode,
          onEnd: () => scheduleRefresh(0),
        });
        live.start();
        window.kartografLive = live; // for tests and debugging
      }
    } catch (e) {
      if (!alive) return;
      replace(root, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Zestawy projektów')),
        h('h1', null, 'Nie można wyświetlić zestawu'), h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  function applyBatch(b) {
    batch = Object.assign(batch || {}, b);
    title.textContent = b.name || 'Zestaw bez nazwy';
    setTitle(b.name || 'Zestaw');
    if ('queue' in b) queue = b.queue;
    for (const p of b.projects || []) upsert(p, false);
    updateSummary();
  }

  function applySnapshot(s) {
    if (batch) batch.status = s.status || batch.status;
    for (const p of s.projects || []) upsert(p, true);
    updateSummary();
  }

  function applyEvent(ev) {
    if (ev.type === 'batch.completed') {
      if (batch) batch.status = ev.status || 'COMPLETED';
      const list = [...projects.values()];
      const ok = list.filter((p) => p.status === 'COMPLETED').length;
      const bad = list.filter((p) => p.status === 'FAILED').length;
      const msg = `Zestaw „${(batch && batch.name) || ''}” jest gotowy: ${plural(ok, 'karta gotowa', 'karty gotowe', 'kart gotowych')}${bad ? `, ${plural(bad, 'błąd', 'błędy', 'błędów')}` : ''}.`;
      toast(msg, bad ? 'warn' : 'ok', 10000);
      announce(msg);
      notifyDesktop(msg);
      updateSummary();
      scheduleRefresh(300);
      return;
    }
    if (!ev.project_id) return;
    const patch = { id: ev.project_id };
    if (ev.status) patch.status = ev.status;
    if (typeof ev.progress === 'number') patch.progress = ev.progress;
    if (ev.quality_score !== undefined && ev.quality_score !== null) patch.quality_score = ev.quality_score;
    if (ev.type === 'project.failed') patch.error = ev.message || (projects.get(ev.project_id) || {}).error || 'Generowanie nie powiodło się.';
    if (ev.type === 'project.status_changed' && ev.status && ev.status !== 'FAILED') patch.error = null;
    upsert(patch, true);
    updateSummary();
    if (ev.type === 'project.completed' || ev.type === 'project.failed') scheduleRefresh(1500);
  }

  // details the events do not carry (provider, cost, error text): one GET, debounced
  function scheduleRefresh(ms) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        const b = await api('GET', `/api/batches/${encodeURIComponent(batchId)}`);
        if (alive) applyBatch(b);
      } catch (e) { /* next event or poll */ }
    }, ms);
  }

  function upsert(p, fromLive) {
    const old = projects.get(p.id);
    const cur = Object.assign({}, old || {}, p);
    projects.set(p.id, cur);
    let r = rows.get(p.id);
    if (!r) {
      r = makeRow(cur);
      rows.set(p.id, r);
      // keep sheet order
      const after = [...rows.values()].map((x) => x).filter((x) => x !== r)
        .find((x) => (projects.get(x.id).row || 0) > (cur.row || 0));
      if (after) tbody.insertBefore(r.tr, after.tr); else tbody.appendChild(r.tr);
    }
    fillRow(r, cur);
    if (fromLive && old && old.status !== cur.status) {
      if (cur.status === 'COMPLETED') announce(`${cur.name}: ${projectStatus(cur.status)}, jakość ${cur.quality_score ?? '—'}.`);
      else if (cur.status === 'FAILED') announce(`${cur.name}: ${projectStatus(cur.status)}.`);
      r.tr.classList.remove('flash');
      void r.tr.offsetWidth; // restart the highlight animation
      r.tr.classList.add('flash');
    }
  }

  function makeRow(p) {
    const r = {
      id: p.id,
      tr: h('tr', { dataset: { projectId: p.id } }),
      rowNo: h('td', { class: 'num' }),
      name: h('th', { scope: 'row' }),
      status: h('td', null),
      prog: h('progress', { max: '100', value: '0' }),
      progText: h('span', { class: 'prog-text' }),
      quality: h('td', { class: 'num quality' }),
      notes: h('td', { class: 'notes' }),
    };
    r.prog.setAttribute('aria-label', `Postęp: ${p.name || ''}`);
    r.tr.append(r.rowNo, r.name, r.status, h('td', { class: 'progress-cell' }, r.prog, r.progText), r.quality, r.notes);
    return r;
  }

  function fillRow(r, p) {
    r.rowNo.textContent = p.row ?? '';
    r.tr.dataset.status = p.status || '';
    const link = p.status === 'COMPLETED'
      ? h('a', { href: `#/projects/${encodeURIComponent(p.id)}` }, p.name || 'Projekt')
      : h('span', null, p.name || 'Projekt');
    replace(r.name, link);
    replace(r.status, h('span', { class: `badge status-${String(p.status || '').toLowerCase()}` }, projectStatus(p.status)));
    const prog = DONE.has(p.status) ? 100 : Math.max(0, Math.min(100, Number(p.progress) || 0));
    r.prog.value = prog;
    r.progText.textContent = `${prog}%`;
    r.quality.textContent = p.status === 'COMPLETED' && p.quality_score !== null && p.quality_score !== undefined ? `${p.quality_score}/100` : '—';
    const notes = [];
    if (p.status === 'FAILED') {
      notes.push(h('span', { class: 'error-text' }, p.error || 'Generowanie nie powiodło się.'));
      notes.push(h('button', { type: 'button', class: 'btn btn-small retry', onclick: () => generate([p.id]), 'aria-label': `Ponów generowanie: ${p.name || ''}` }, 'Ponów'));
    }
    if (p.provider === 'offline' && p.status === 'COMPLETED') notes.push(h('span', { class: 'tag' }, 'offline'));
    replace(r.notes, notes);
  }

  function isFinal() {
    const list = [...projects.values()];
    return list.length > 0 && !list.some((p) => ACTIVE.has(p.status)) &&
      batch && (batch.status === 'COMPLETED' || batch.status === 'PARTIAL');
  }

  function updateSummary() {
    if (batch) {
      meta.textContent = `Utworzono ${fmtDateTime(batch.created_at)} · ${plural(batch.row_count || 0, 'projekt', 'projekty', 'projektów')} · stan: ${batchStatus(batch.status)} · koszt AI: ${fmtCost(batch.cost)}`;
    }
    const list = [...projects.values()];
    const n = list.length || 1;
    const c = { PENDING: 0, QUEUED: 0, GENERATING: 0, COMPLETED: 0, FAILED: 0 };
    let sum = 0;
    for (const p of list) {
      c[p.status] = (c[p.status] || 0) + 1;
      sum += DONE.has(p.status) ? 100 : Math.max(0, Math.min(100, Number(p.progress) || 0));
    }
    const pct = Math.round(sum / n);
    overall.value = pct;
    overallText.textContent = `${pct}% · Gotowe: ${c.COMPLETED} z ${list.length}` +
      (c.FAILED ? ` · Błąd: ${c.FAILED}` : '') +
      (c.GENERATING ? ` · Generowanie: ${c.GENERATING}` : '') +
      (c.QUEUED ? ` · W kolejce: ${c.QUEUED}` : '') +
      (c.PENDING ? ` · Oczekuje: ${c.PENDING}` : '');
    const active = c.QUEUED + c.GENERATING;
    // estimated time left from the observed rate since we started watching
    if (active > 0) {
      const now = Date.now();
      if (!etaStart) etaStart = { t: now, p: sum / n };
      const done = sum / n - etaStart.p;
      const secs = (now - etaStart.t) / 1000;
      if (done > 1 && secs > 2) {
        const left = secs * (100 - sum / n) / done;
        eta.textContent = `Szacowany czas do końca: ok. ${fmtDuration(left)}.`;
      } else {
        eta.textContent = 'Szacowany czas do końca: obliczanie…';
      }
    } else {
      etaStart = null;
      eta.textContent = c.COMPLETED + c.FAILED === list.length && list.length ? 'Generowanie zakończone.' : '';
    }
    showQueue(c);
    startBtn.hidden = c.PENDING === 0;
    startBtn.disabled = false;
    retryAllBtn.hidden = c.FAILED === 0;
    retryAllBtn.textContent = `Ponów nieudane (${c.FAILED})`;
    zipBtn.disabled = c.COMPLETED === 0 || zipBtn.textContent !== 'Pobierz wszystko (.zip)';
    offlineNote.hidden = !list.some((p) => p.provider === 'offline');
  }

  // Where a waiting batch stands: the queue serves batches round robin,
  // so the server counts the batches that get a free slot before this one.
  function showQueue(c) {
    let text = '';
    if (queue && c.QUEUED > 0 && c.GENERATING === 0) {
      if (queue.workers === 0) {
        text = 'Generowanie rozpocznie się w ciągu minuty.';
      } else if (queue.waiting && queue.batches_ahead !== null) {
        const when = `start za ok. ${fmtDuration(queue.eta_seconds)}`;
        text = queue.batches_ahead > 0
          ? `Przed Tobą w kolejce: ${plural(queue.batches_ahead, 'zestaw', 'zestawy', 'zestawów')}, ${when}.`
          : `Twój zestaw jest następny w kolejce, ${when}.`;
      }
    }
    queueNote.textContent = text;
    queueNote.hidden = !text;
  }

  async function generate(ids) {
    const buttons = [startBtn, retryAllBtn];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const r = await api('POST', `/api/batches/${encodeURIComponent(batchId)}/generate`, { json: ids ? { project_ids: ids } : {} });
      const n = r && typeof r.queued === 'number' ? r.queued : 0;
      toast(n ? `Dodano do kolejki: ${plural(n, 'projekt', 'projekty', 'projektów')}.` : 'Nic nowego do wygenerowania.', 'ok');
      if (batch) batch.status = 'GENERATING';
      if (live && (live.mode === 'ended' || live.mode === 'idle')) live.start();
      if (!live || live.mode === 'polling') scheduleRefresh(500);
    } catch (e) {
      toast(`Nie udało się rozpocząć generowania: ${e.message}`, 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      updateSummary();
    }
  }

  function showMode(m) {
    const text = { connecting: 'Łączenie…', sse: 'Na żywo', polling: 'Odświeżanie co 3 s', ended: 'Zakończono', idle: '' }[m] || '';
    liveBadge.textContent = text;
    liveBadge.className = `live-badge live-${m}`;
  }

  load();
  return () => {
    alive = false;
    clearTimeout(refreshTimer);
    if (live) live.stop();
    if (window.kartografLive === live) delete window.kartografLive;
  };
}

function notifyDesktop(msg) {
  try {
    if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
      new Notification('Kartograf', { body: msg });
    }
  } catch (e) { /* optional */ }
}
