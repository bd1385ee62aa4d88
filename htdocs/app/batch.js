// One batch: start generation, watch it live, retry failures, download all.
//
// The projects, their counts and the table rows live in batchtable.js, which
// applies every event incrementally and paints once per animation frame; this
// file wires the page: the header and summary, the buttons, the live stream
// and the occasional full refresh. Each control is its own small function.
import { h, replace, fmtDateTime, fmtCost, fmtDuration, plural, toast, announce, setTitle } from './dom.js';
import { api, download } from './api.js';
import { batchStatus } from './labels.js';
import { BatchLive } from './live.js';
import { createProjectTable } from './batchtable.js';
import { batchLifecycle } from './lifecycle.js';

const REFRESH_WHILE_RUNNING_MS = 10000; // details events do not carry: provider, cost
const ANNOUNCE_EVERY_MS = 5000;         // screen readers: one message per 5 s at most
const ZIP_LABEL = 'Pobierz wszystko (.zip)';

export function renderBatch(root, batchId) {
  let batch = null;
  let alive = true;
  let live = null;
  let etaStart = null;        // {t, p} when we first saw the batch generating
  let etaShown = 0;
  let refreshTimer = null;
  let refreshDue = 0;
  let queue = null;           // "queue" of GET /api/batches/{id} (lib/kg_sched.h)
  const v = batchView();
  // stop, delete, cost cap and estimate (lifecycle.js)
  const life = batchLifecycle(batchId, { onChanged: () => scheduleRefresh(0) });
  v.actions.insertBefore(life.stopBtn, v.retryAllBtn);
  v.actions.append(life.deleteBtn);
  v.actions.after(life.estimateText);
  v.body.splice(v.body.indexOf(v.progress) + 1, 0, life.money);
  // the page appears when its data is there, below the heading that keeps
  // the focus (no empty frame that then moves: layout shift)
  const loading = h('p', { class: 'note' }, 'Wczytywanie zestawu…');
  replace(root, ...v.head, loading);

  const table = createProjectTable(v.tbody, {
    retry: (id) => generate([id]),
    onChange: projectChanged,
    onFrame: updateSummary,
    onRendered: () => performance.mark('kg:batch:rendered'),
  });
  const announcer = throttledAnnouncer();

  v.startBtn.addEventListener('click', () => generate(null));
  v.retryAllBtn.addEventListener('click', () => generate(table.ids('FAILED')));
  v.zipBtn.addEventListener('click', downloadZip);

  async function load() {
    try {
      const b = await api('GET', `/api/batches/${encodeURIComponent(batchId)}`);
      if (!alive) return;
      applyBatch(b);
      loading.replaceWith(...v.body);
      startLive();
    } catch (e) {
      if (!alive) return;
      replace(root, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Zestawy projektów')),
        h('h1', null, 'Nie można wyświetlić zestawu'), h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  function startLive() {
    if (live) return;
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

  function applyBatch(b) {
    const { projects, ...rest } = b;
    batch = Object.assign(batch || {}, rest);
    if ('queue' in b) queue = b.queue;
    v.title.textContent = b.name || 'Zestaw bez nazwy';
    setTitle(b.name || 'Zestaw');
    for (const p of projects || []) table.apply(p, false);
    updateMeta();
    updateSummary();
  }

  // a snapshot (on connect, or catching up after a gap) is state, not news:
  // no highlights, no per-project announcements
  function applySnapshot(s) {
    if (batch && s.status) batch.status = s.status;
    for (const p of s.projects || []) table.apply(p, false);
    updateMeta();
    updateSummary();
  }

  function applyEvent(ev) {
    if (applyLifecycleEvent(ev)) return;
    if (ev.type === 'batch.completed') { batchCompleted(ev); return; }
    if (!ev.project_id) return;
    const patch = { id: ev.project_id };
    if (ev.status) patch.status = ev.status;
    if (typeof ev.progress === 'number') patch.progress = ev.progress;
    if (ev.quality_score !== undefined && ev.quality_score !== null) patch.quality_score = ev.quality_score;
    if (ev.type === 'project.failed') patch.error = ev.message || (table.get(ev.project_id) || {}).error || 'Generowanie nie powiodło się.';
    if (ev.type === 'project.status_changed' && ev.status && ev.status !== 'FAILED') patch.error = null;
    table.apply(patch, true);
    if (ev.type === 'project.completed' || ev.type === 'project.failed') scheduleRefresh(REFRESH_WHILE_RUNNING_MS);
  }

  function batchCompleted(ev) {
    if (batch) batch.status = ev.status || 'COMPLETED';
    const c = table.tally.count;
    const msg = `Zestaw „${(batch && batch.name) || ''}” jest gotowy: ${plural(c.COMPLETED, 'karta gotowa', 'karty gotowe', 'kart gotowych')}${c.FAILED ? `, ${plural(c.FAILED, 'błąd', 'błędy', 'błędów')}` : ''}.`;
    announcer.cancel();
    toast(msg, c.FAILED ? 'warn' : 'ok');
    notifyDesktop(msg);
    updateMeta();
    updateSummary();
    scheduleRefresh(300);
  }

  // batch.stopped (Zatrzymaj, or the cost cap) and project.deleted
  function applyLifecycleEvent(ev) {
    if (ev.type === 'batch.stopped') {
      if (batch) batch.status = ev.status || 'VALIDATED';
      announce('Generowanie zatrzymane.');
      scheduleRefresh(300);
      return true;
    }
    if (ev.type === 'project.deleted' && ev.project_id) {
      table.remove(ev.project_id);
      return true;
    }
    return false;
  }

  // a project finished: tell screen readers, but not 1,000 times
  function projectChanged(p, old) {
    if (p.status === old.status || (p.status !== 'COMPLETED' && p.status !== 'FAILED')) return;
    const one = p.status === 'COMPLETED'
      ? `${p.name}: gotowe, jakość ${p.quality_score ?? '—'}.`
      : `${p.name}: błąd generowania.`;
    announcer.add(one, () => {
      const c = table.tally.count;
      return `Gotowe: ${c.COMPLETED} z ${table.size()}${c.FAILED ? `, błędy: ${c.FAILED}` : ''}.`;
    });
  }

  // details the events do not carry (provider, cost, error text): one GET,
  // at most every REFRESH_WHILE_RUNNING_MS while projects finish, and soon
  // after the batch ends; an earlier due time wins over a later one
  function scheduleRefresh(ms) {
    const due = Date.now() + ms;
    if (refreshTimer && refreshDue <= due) return;
    clearTimeout(refreshTimer);
    refreshDue = due;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      try {
        const b = await api('GET', `/api/batches/${encodeURIComponent(batchId)}`);
        if (alive) applyBatch(b);
      } catch (e) { /* next event or poll */ }
    }, ms);
  }

  function isFinal() {
    const c = table.tally.count;
    return table.size() > 0 && c.QUEUED + c.GENERATING === 0 &&
      !!batch && (batch.status === 'COMPLETED' || batch.status === 'PARTIAL');
  }

  function updateMeta() {
    if (!batch) return;
    setText(v.meta, `Utworzono ${fmtDateTime(batch.created_at)} · ${plural(batch.row_count || 0, 'projekt', 'projekty', 'projektów')} · stan: ${batchStatus(batch.status)} · koszt AI: ${fmtCost(batch.cost)}`);
  }

  // O(1): the counts are kept by the table
  function updateSummary() {
    const t = table.tally;
    const c = t.count;
    const n = t.n;
    const avg = n ? t.sum / n : 0;
    const p = Math.round(avg);
    if (v.overall.value !== p) v.overall.value = p;
    setText(v.overallText, `${p}% · Gotowe: ${c.COMPLETED} z ${n}` +
      (c.FAILED ? ` · Błąd: ${c.FAILED}` : '') +
      (c.GENERATING ? ` · Generowanie: ${c.GENERATING}` : '') +
      (c.QUEUED ? ` · W kolejce: ${c.QUEUED}` : '') +
      (c.PENDING ? ` · Oczekuje: ${c.PENDING}` : ''));
    updateEta(c.QUEUED + c.GENERATING, avg, n && c.COMPLETED + c.FAILED === n);
    showQueue(c);
    updateControls(c);
    v.offlineNote.hidden = t.offline === 0;
  }

  // estimated time left from the rate observed since we started watching;
  // the text changes at most once a second
  function updateEta(active, avg, finished) {
    if (!active) {
      etaStart = null;
      setText(v.eta, finished ? 'Generowanie zakończone.' : '');
      return;
    }
    const now = Date.now();
    if (!etaStart) etaStart = { t: now, p: avg };
    if (now - etaShown < 1000 && v.eta.textContent) return;
    etaShown = now;
    const done = avg - etaStart.p;
    const secs = (now - etaStart.t) / 1000;
    setText(v.eta, done > 1 && secs > 2
      ? `Szacowany czas do końca: ok. ${fmtDuration(secs * (100 - avg) / done)}.`
      : 'Szacowany czas do końca: obliczanie…');
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
    setText(v.queueNote, text);
    v.queueNote.hidden = !text;
  }

  function updateControls(c) {
    v.startBtn.hidden = c.PENDING === 0;
    v.retryAllBtn.hidden = c.FAILED === 0;
    setText(v.retryAllBtn, `Ponów nieudane (${c.FAILED})`);
    v.zipBtn.disabled = c.COMPLETED === 0 || v.zipBtn.textContent !== ZIP_LABEL;
    if (batch) life.update(batch, c);
  }

  async function generate(ids) {
    const buttons = [v.startBtn, v.retryAllBtn];
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
      updateMeta();
      updateSummary();
    }
  }

  async function downloadZip() {
    v.zipBtn.disabled = true;
    v.zipBtn.textContent = 'Przygotowywanie archiwum…';
    try {
      const r = await download(`/api/export/batch/${encodeURIComponent(batchId)}`, `${(batch && batch.name) || 'karty'}.zip`);
      toast(`Pobrano plik ${r.name}.`, 'ok');
    } catch (e) {
      toast(`Nie udało się pobrać archiwum: ${e.message}`, 'error');
    } finally {
      v.zipBtn.textContent = ZIP_LABEL;
      updateSummary();
    }
  }

  function showMode(m) {
    const text = { connecting: 'Łączenie…', sse: 'Na żywo', polling: 'Odświeżanie co 3 s', ended: 'Zakończono', idle: '' }[m] || '';
    v.liveBadge.textContent = text;
    v.liveBadge.className = `live-badge live-${m}`;
  }

  load();
  return () => {
    alive = false;
    clearTimeout(refreshTimer);
    announcer.cancel();
    table.stop();
    if (live) live.stop();
    if (window.kartografLive === live) delete window.kartografLive;
  };
}

// The page's fixed parts; the rows are batchtable.js's.
function batchView() {
  const v = {
    title: h('h1', null, 'Zestaw'),
    meta: h('p', { class: 'note' }),
    offlineNote: h('p', { class: 'alert alert-info offline-note', hidden: true, id: 'offline-note' },
      'Tekst wygenerowany offline (bez modelu AI) — wbudowany generator złożył karty z danych arkusza. Przejrzyj je szczególnie uważnie.'),
    startBtn: h('button', { type: 'button', class: 'btn btn-primary', id: 'start' }, 'Rozpocznij generowanie'),
    retryAllBtn: h('button', { type: 'button', class: 'btn', id: 'retry-failed', hidden: true }, 'Ponów nieudane'),
    zipBtn: h('button', { type: 'button', class: 'btn', id: 'zip', disabled: true }, ZIP_LABEL),
    liveBadge: h('span', { class: 'live-badge', id: 'live-state', role: 'status' }, ''),
    overall: h('progress', { id: 'overall', max: '100', value: '0', 'aria-labelledby': 'overall-label' }),
    overallText: h('p', { id: 'overall-text' }),
    eta: h('p', { id: 'eta', class: 'note' }),
    queueNote: h('p', { id: 'queue-note', class: 'note', role: 'status', hidden: true }),
    tbody: h('tbody', { role: 'rowgroup' }),
  };
  v.actions = h('div', { class: 'actions' }, v.startBtn, v.retryAllBtn, v.zipBtn);
  v.head = [h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Zestawy projektów')), v.title];
  v.progress = h('section', { class: 'card', 'aria-labelledby': 'overall-label' },
    h('div', { class: 'row-between' },
      h('h2', { id: 'overall-label' }, 'Postęp generowania'), v.liveBadge),
    v.overall, v.overallText, v.eta, v.queueNote, v.actions);
  v.body = [
    v.meta, v.offlineNote, v.progress,
    h('section', { class: 'card', 'aria-labelledby': 'projects-h' },
      h('h2', { id: 'projects-h' }, 'Projekty'),
      h('div', { class: 'table-wrap' },
        // explicit roles: style.css lays the rows out as grids
        h('table', { class: 'data projects', id: 'projects', role: 'table', 'aria-labelledby': 'projects-caption' },
          h('caption', { class: 'visually-hidden', id: 'projects-caption' }, 'Projekty zestawu ze statusem generowania'),
          h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' },
            ['Wiersz', 'Projekt', 'Status', 'Postęp', 'Jakość', 'Uwagi'].map((t, i) =>
              h('th', { scope: 'col', role: 'columnheader', class: i === 0 || i === 4 ? 'num' : null }, t)))),
          v.tbody))),
  ];
  return v;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// Per-project news for screen readers: the first at once, then at most one
// message per ANNOUNCE_EVERY_MS — the single news if only one came, else the
// summary that many() gives.
function throttledAnnouncer() {
  let timer = null;
  let last = 0;
  let queued = [];
  let many = null;
  function flush() {
    timer = null;
    if (!queued.length) return;
    last = Date.now();
    announce(queued.length === 1 ? queued[0] : many());
    queued = [];
  }
  return {
    add(text, summary) {
      queued.push(text);
      many = summary;
      if (timer) return;
      timer = setTimeout(flush, Math.max(0, last + ANNOUNCE_EVERY_MS - Date.now()));
    },
    cancel() { clearTimeout(timer); timer = null; queued = []; },
  };
}

function notifyDesktop(msg) {
  try {
    if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
      new Notification('Kartograf', { body: msg });
    }
  } catch (e) { /* optional */ }
}
