// The project card editor: 8 sections, review, conflicts, quality, history.
import { h, replace, fmtDateTime, fmtDay, fmtMoney, wordCount, plural, toast, announce, setTitle } from './dom.js';
import { api, download, ApiError } from './api.js';
import { projectStatus, CRITERIA, FACTS, FACT_SECTION, INPUT_FIELDS, flagText } from './labels.js';

const NATIVE_AUTOSIZE = !!(window.CSS && CSS.supports && CSS.supports('field-sizing', 'content'));

const NOTE_TEXT = {
  edited: 'edycja', edit: 'edycja', reviewed: 'zatwierdzenie', review: 'zatwierdzenie',
  reverted: 'przywrócenie wersji', revert: 'przywrócenie wersji', generated: 'wygenerowanie',
  generate: 'wygenerowanie', regenerated: 'ponowne wygenerowanie', regenerate: 'ponowne wygenerowanie',
};

export function renderProject(root, projectId) {
  let project = null;
  let alive = true;
  const drafts = new Map();   // key -> text the user typed and has not saved
  const views = new Map();    // key -> section view
  const timers = new Set();

  const title = h('h1', null, 'Karta projektu');
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Zestawy projektów'));
  const meta = h('p', { class: 'note', id: 'project-meta' });
  const notice = h('div', { id: 'project-notice' });
  const docxBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'docx' }, 'Pobierz .docx');
  const sectionsBox = h('div', { class: 'sections' });
  const quality = h('section', { class: 'card quality', id: 'quality', 'aria-labelledby': 'quality-h' });
  const inputBox = h('section', { class: 'card', 'aria-labelledby': 'input-h' });

  // The card appears in one piece when its data is there: an empty frame
  // filled in later would move under the reader (layout shift).
  const loading = h('p', { class: 'note' }, 'Wczytywanie karty…');
  const body = [meta, notice,
    h('div', { class: 'actions toolbar' }, docxBtn,
      h('span', { class: 'note' }, 'Żółte tło: tekst AI do przejrzenia. Białe: sprawdzone przez człowieka.')),
    h('div', { class: 'editor-layout' },
      h('div', { class: 'editor-main' }, sectionsBox),
      h('aside', { class: 'editor-side', 'aria-label': 'Ocena jakości i dane projektu' }, quality, inputBox))];
  replace(root, crumbs, title, loading);

  docxBtn.addEventListener('click', async () => {
    if (drafts.size) toast('Masz niezapisane zmiany — plik zawiera ostatnią zapisaną wersję karty.', 'warn');
    docxBtn.disabled = true;
    docxBtn.textContent = 'Przygotowywanie dokumentu…';
    try {
      const r = await download(`/api/export/project/${encodeURIComponent(projectId)}`, `${(project && project.name) || 'karta'}.docx`);
      toast(`Pobrano plik ${r.name}.`, 'ok');
    } catch (e) {
      toast(`Nie udało się pobrać dokumentu: ${e.message}`, 'error');
    } finally {
      docxBtn.disabled = !project || project.status !== 'COMPLETED';
      docxBtn.textContent = 'Pobierz .docx';
    }
  });

  const onBeforeUnload = (ev) => { if (drafts.size) { ev.preventDefault(); ev.returnValue = ''; } };
  window.addEventListener('beforeunload', onBeforeUnload);

  async function load() {
    try {
      const p = await api('GET', `/api/projects/${encodeURIComponent(projectId)}`);
      if (!alive) return;
      setProject(p);
    } catch (e) {
      if (!alive) return;
      replace(root, crumbs, h('h1', null, 'Nie można otworzyć karty'), h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  function editable() { return project && project.status === 'COMPLETED'; }

  function setProject(p) {
    const oldScore = project ? project.quality_score : null;
    const first = !project;
    project = p;
    title.textContent = p.name || 'Karta projektu';
    setTitle(p.name || 'Karta projektu');
    replace(crumbs, h('a', { href: `#/batches/${encodeURIComponent(p.batch_id)}` }, '← Wróć do zestawu'));
    meta.textContent = `Wiersz ${p.row ?? '—'} · status: ${projectStatus(p.status)} · wersja ${p.version} · zmieniono ${fmtDateTime(p.updated_at)}`;
    const notes = [];
    if (p.offline) notes.push(h('p', { class: 'alert alert-info offline-note' }, 'Tekst wygenerowany offline (bez modelu AI) — wbudowany generator złożył kartę z danych arkusza.'));
    if (p.status !== 'COMPLETED') notes.push(h('p', { class: 'alert alert-warn' }, `Karta nie jest gotowa do edycji (status: ${projectStatus(p.status)}).`, p.error ? ` ${p.error}` : ''));
    replace(notice, notes);
    docxBtn.disabled = p.status !== 'COMPLETED';
    for (const s of p.sections || []) {
      let v = views.get(s.key);
      if (!v) {
        v = sectionView(s.key);
        views.set(s.key, v);
        sectionsBox.appendChild(v.el);
      }
      v.update(s);
    }
    renderQuality(oldScore);
    renderInput();
    if (first) loading.replaceWith(...body);
  }

  function sectionData(key) { return (project.sections || []).find((s) => s.key === key); }

  function sectionView(key) {
    const idx = (project.sections || []).findIndex((s) => s.key === key) + 1;
    const hid = `sec-${key}-h`;
    const heading = h('h2', { id: hid });
    const badge = h('span', { class: 'badge' });
    const flags = h('ul', { class: 'flags', 'aria-label': 'Uwagi do poprawy' });
    const ta = h('textarea', { id: `sec-${key}-text`, rows: '8', 'aria-labelledby': hid, 'aria-describedby': `sec-${key}-count sec-${key}-flags`, spellcheck: 'true', lang: 'pl' });
    flags.id = `sec-${key}-flags`;
    const count = h('p', { class: 'note count', id: `sec-${key}-count` });
    const saveBtn = h('button', { type: 'button', class: 'btn save' }, 'Zapisz');
    const approveBtn = h('button', { type: 'button', class: 'btn btn-primary approve' }, 'Zatwierdź');
    const undoBtn = h('button', { type: 'button', class: 'btn btn-quiet undo' }, 'Cofnij zmiany');
    const regenBtn = h('button', { type: 'button', class: 'btn regen-toggle', 'aria-expanded': 'false', 'aria-controls': `sec-${key}-regen` }, 'Wygeneruj ponownie…');
    const histBtn = h('button', { type: 'button', class: 'btn history-toggle', 'aria-expanded': 'false', 'aria-controls': `sec-${key}-history` }, 'Historia zmian');
    const status = h('p', { class: 'sec-status', role: 'status' });
    const conflict = h('div', { class: 'conflict', hidden: true });
    const instr = h('input', { type: 'text', id: `sec-${key}-instr`, maxlength: '500', placeholder: 'np. krócej; więcej o grupie docelowej' });
    const regenGo = h('button', { type: 'button', class: 'btn btn-primary regen-go' }, 'Wygeneruj sekcję ponownie');
    const regen = h('div', { class: 'regen', id: `sec-${key}-regen`, hidden: true },
      h('label', { for: `sec-${key}-instr` }, 'Wskazówka dla AI (opcjonalnie)'), instr, regenGo);
    const history = h('div', { class: 'history', id: `sec-${key}-history`, hidden: true });
    const el = h('article', { class: 'section', id: `sec-${key}`, dataset: { key }, 'aria-labelledby': hid },
      h('header', { class: 'section-head' }, heading, badge),
      flags, ta, count,
      h('div', { class: 'actions' }, saveBtn, approveBtn, undoBtn, regenBtn, histBtn),
      status, conflict, regen, history);
    let busy = false;

    // Typing must stay cheap with 20,000 characters in each of 8 sections: an
    // input event only records the draft; the classes, badge and buttons
    // change when the section turns dirty or clean, the word count (a scan of
    // the text) is redone once per frame at most, and the flags are redrawn
    // only when the data changes. The height follows the text through CSS
    // (field-sizing: content); the script measures only where that is missing.
    let countFrame = 0;
    let sizeFrame = 0;
    const autosize = () => {
      sizeFrame = 0;
      ta.style.height = 'auto';
      ta.style.height = `${Math.min(Math.max(ta.scrollHeight + 4, 160), 900)}px`;
    };
    ta.addEventListener('input', () => {
      const s = sectionData(key);
      const was = drafts.has(key);
      const text = ta.value; // one read: the getter copies 20,000 characters
      if (text === (s.body || '')) drafts.delete(key); else drafts.set(key, text);
      if (drafts.has(key) !== was) refresh();
      else if (!countFrame) countFrame = requestAnimationFrame(updateCount);
      if (!NATIVE_AUTOSIZE && !sizeFrame) sizeFrame = requestAnimationFrame(autosize);
    });
    ta.addEventListener('keydown', (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') { ev.preventDefault(); if (drafts.has(key)) save(false); }
    });
    saveBtn.addEventListener('click', () => save(false));
    approveBtn.addEventListener('click', () => save(true));
    undoBtn.addEventListener('click', () => { drafts.delete(key); ta.value = sectionData(key).body || ''; refresh(); ta.focus(); });
    regenBtn.addEventListener('click', () => toggle(regen, regenBtn, () => instr.focus()));
    histBtn.addEventListener('click', () => toggle(history, histBtn, loadHistory));
    regenGo.addEventListener('click', regenerate);
    instr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); regenerate(); } });

    function toggle(panel, btn, onOpen) {
      panel.hidden = !panel.hidden;
      btn.setAttribute('aria-expanded', String(!panel.hidden));
      if (!panel.hidden && onOpen) onOpen();
    }

    function update(s) {
      heading.textContent = `${idx}. ${s.title || key}`;
      if (!drafts.has(key)) ta.value = s.body || '';
      renderFlags(s);
      refresh();
      if (!NATIVE_AUTOSIZE && !sizeFrame) sizeFrame = requestAnimationFrame(autosize);
    }

    function updateCount() {
      countFrame = 0;
      const s = sectionData(key);
      const words = wordCount(ta.value);
      count.textContent = `${plural(words, 'słowo', 'słowa', 'słów')}` + (s.min_words && s.max_words ? ` (zalecane ${s.min_words}–${s.max_words})` : '') +
        (s.updated_at ? ` · zmieniono ${fmtDateTime(s.updated_at)}` : '') + (s.offline ? ' · tekst offline (bez modelu AI)' : '');
      count.classList.toggle('out-of-range', !!(s.min_words && s.max_words && ta.value && (words < s.min_words || words > s.max_words)));
    }

    function renderFlags(s) {
      const q = project.quality || {};
      const codes = (s.flags && s.flags.length ? s.flags : (q.sections && q.sections[key]) || []);
      const unsupported = (((q.criteria || {}).consistency || {}).unsupported || {})[key] || [];
      const missing = (q.missing_facts || []).filter((f) => FACT_SECTION[f] === key);
      replace(flags, codes.map((code) => {
        const [label, advice] = flagText(code, { section: s, unsupported, missing });
        return h('li', { class: `flag flag-${code}`, dataset: { flag: code } }, h('strong', null, label), advice ? ` — ${advice}` : '');
      }));
      flags.hidden = codes.length === 0;
    }

    function refresh() {
      const s = sectionData(key);
      const dirty = drafts.has(key);
      const can = editable() && !busy;
      el.classList.toggle('reviewed', !!s.reviewed && !dirty);
      el.classList.toggle('unreviewed', !s.reviewed && !dirty);
      el.classList.toggle('dirty', dirty);
      el.dataset.reviewed = String(!!s.reviewed);
      badge.className = `badge ${dirty ? 'badge-dirty' : s.reviewed ? 'badge-ok' : 'badge-todo'}`;
      badge.textContent = dirty ? 'Niezapisane zmiany' : s.reviewed ? (s.origin === 'human' ? 'Sprawdzona (edytowana)' : 'Zatwierdzona') : s.body ? 'Do przejrzenia (tekst AI)' : 'Pusta';
      updateCount();
      ta.readOnly = !editable();
      saveBtn.disabled = !can || !dirty;
      approveBtn.disabled = !can || (!dirty && !!s.reviewed);
      approveBtn.textContent = dirty ? 'Zapisz i zatwierdź' : s.reviewed ? 'Zatwierdzona' : 'Zatwierdź';
      undoBtn.hidden = !dirty;
      regenBtn.disabled = !editable();
      regenGo.disabled = !can || dirty;
      regenGo.title = dirty ? 'Najpierw zapisz albo cofnij swoje zmiany w tej sekcji.' : '';
    }

    async function save(review, forceVersion) {
      if (busy) return;
      const s = sectionData(key);
      const edit = {};
      if (drafts.has(key)) edit.body = drafts.get(key);
      if (review) edit.reviewed = true;
      if (!Object.keys(edit).length) return;
      busy = true; refresh();
      status.textContent = review ? 'Zapisywanie i zatwierdzanie…' : 'Zapisywanie…';
      const before = project.quality_score;
      try {
        const p = await api('PATCH', `/api/projects/${encodeURIComponent(projectId)}`,
          { json: { version: forceVersion || project.version, sections: { [key]: edit } } });
        drafts.delete(key);
        conflict.hidden = true;
        busy = false;
        setProject(p);
        const diff = (p.quality_score ?? 0) - (before ?? 0);
        const msg = `Sekcja „${s.title}” ${review ? 'zatwierdzona' : 'zapisana'}. Jakość karty: ${p.quality_score ?? '—'}/100${diff ? ` (${diff > 0 ? '+' : ''}${diff})` : ''}.`;
        status.textContent = msg; // role=status: read once
      } catch (e) {
        busy = false;
        if (e instanceof ApiError && e.status === 409 && e.data && e.data.project && e.code !== 'not_editable') {
          showConflict(e.data.project, review);
          status.textContent = '';
        } else if (e instanceof ApiError && e.status === 409 && e.data && e.data.project) {
          status.textContent = e.message;
          setProject(e.data.project);
        } else {
          status.textContent = `Nie zapisano: ${e.message}`;
          toast(`Nie zapisano sekcji „${s.title}”: ${e.message}`, 'error', { silent: true });
        }
      } finally {
        busy = false;
        refresh();
      }
    }

    function showConflict(current, review) {
      const mine = drafts.has(key) ? drafts.get(key) : ta.value;
      const theirsSec = (current.sections || []).find((x) => x.key === key) || {};
      const theirs = theirsSec.body || '';
      // the rest of the card follows the server; this section keeps the draft until the user chooses
      setProject(current);
      const keepBtn = h('button', { type: 'button', class: 'btn btn-primary keep-mine' }, 'Zachowaj moją');
      const takeBtn = h('button', { type: 'button', class: 'btn take-theirs' }, 'Weź ich');
      replace(conflict,
        h('h3', { tabindex: '-1', id: `sec-${key}-conflict-h` }, 'Ktoś w międzyczasie zmienił tę kartę'),
        h('p', null, `Na serwerze jest już wersja ${current.version} (zmieniona ${fmtDateTime(theirsSec.updated_at || current.updated_at)}${theirsSec.reviewed ? ', zatwierdzona' : ''}). Porównaj teksty i wybierz, który zostaje.`),
        h('div', { class: 'compare' },
          h('div', null, h('h4', null, 'Twoja wersja'), h('pre', { class: 'mine', tabindex: '0' }, mine)),
          h('div', null, h('h4', null, 'Wersja na serwerze'), h('pre', { class: 'theirs', tabindex: '0' }, theirs))),
        h('div', { class: 'actions' }, keepBtn, takeBtn));
      conflict.hidden = false;
      conflict.setAttribute('role', 'group');
      conflict.setAttribute('aria-labelledby', `sec-${key}-conflict-h`);
      keepBtn.addEventListener('click', () => {
        drafts.set(key, mine);
        ta.value = mine;
        conflict.hidden = true;
        save(review, current.version);
      });
      takeBtn.addEventListener('click', () => {
        drafts.delete(key);
        ta.value = theirs;
        conflict.hidden = true;
        refresh();
        status.textContent = 'Przyjęto wersję z serwera.';
        ta.focus();
      });
      drafts.set(key, mine);
      ta.value = mine;
      refresh();
      announce('Konflikt zmian: ktoś w międzyczasie zmienił tę kartę. Wybierz wersję.');
      conflict.querySelector('h3').focus();
    }

    async function regenerate() {
      if (busy || drafts.has(key)) return;
      const s = sectionData(key);
      const instruction = instr.value.trim();
      busy = true; refresh();
      el.classList.add('regenerating');
      status.textContent = 'Generowanie sekcji na nowo…';
      try {
        const r = await api('POST', `/api/projects/${encodeURIComponent(projectId)}/sections/${encodeURIComponent(key)}/regenerate`,
          { json: { instruction, version: project.version } });
        const since = Math.max(project.version, (r && r.version) || 0);
        const sectionVersion = s.version;
        const t0 = Date.now();
        await new Promise((resolve, reject) => {
          const poll = async () => {
            if (!alive) return resolve();
            try {
              const p = await api('GET', `/api/projects/${encodeURIComponent(projectId)}`);
              const ns = (p.sections || []).find((x) => x.key === key) || {};
              if (p.version > since || ns.version !== sectionVersion) { busy = false; setProject(p); return resolve(); }
              // the worker dropped the request: the card was edited in
              // the meantime, or every AI provider failed
              if (ns.regenerating === false) {
                setProject(p);
                return reject(new ApiError(409, { error: 'not_applied' }));
              }
            } catch (e) { if (e.status === 401 || e.status === 404) return reject(e); }
            if (Date.now() - t0 > 120000) return reject(new ApiError(504, { error: 'timeout' }));
            const t = setTimeout(() => { timers.delete(t); poll(); }, 1500);
            timers.add(t);
          };
          poll();
        });
        const msg = `Sekcja „${s.title}” wygenerowana ponownie. Przejrzyj nowy tekst.`;
        status.textContent = msg; // role=status: read once
        instr.value = '';
      } catch (e) {
        status.textContent = `Nie udało się wygenerować sekcji: ${e.message}`;
        if (e instanceof ApiError && e.status === 409 && e.data && e.data.project) setProject(e.data.project);
      } finally {
        busy = false;
        el.classList.remove('regenerating');
        refresh();
      }
    }

    async function loadHistory() {
      replace(history, h('p', { class: 'note' }, 'Wczytywanie historii…'));
      try {
        const r = await api('GET', `/api/projects/${encodeURIComponent(projectId)}/sections/${encodeURIComponent(key)}/revisions?limit=50`);
        const revs = r.revisions || [];
        if (!revs.length) { replace(history, h('p', { class: 'note' }, 'Brak wcześniejszych wersji.')); return; }
        replace(history,
          h('h3', null, `Historia sekcji (${r.total ?? revs.length})`),
          h('ol', { class: 'revisions' }, revs.map((rev, i) => {
            const who = rev.origin === 'ai' ? `AI${rev.provider ? ` (${rev.provider === 'offline' ? 'offline, bez modelu AI' : rev.provider})` : ''}`
              : (rev.user && (rev.user.display_name || rev.user.email)) || 'użytkownik';
            const what = NOTE_TEXT[rev.note] || rev.note || (rev.origin === 'ai' ? 'tekst AI' : 'edycja');
            const btn = h('button', { type: 'button', class: 'btn btn-small revert', disabled: !editable() || i === 0 }, i === 0 ? 'Bieżąca' : 'Przywróć tę wersję');
            btn.addEventListener('click', () => revert(rev));
            return h('li', { dataset: { revisionId: rev.id } },
              h('p', null, h('strong', null, fmtDateTime(rev.created_at)), ` · ${who} · ${what}${rev.reviewed ? ' · zatwierdzona' : ''}`),
              h('details', null, h('summary', null, 'Pokaż tekst'), h('pre', { tabindex: '0' }, rev.new_body || '(pusta)')),
              btn);
          })));
      } catch (e) {
        replace(history, h('p', { class: 'form-error' }, `Nie udało się wczytać historii: ${e.message}`));
      }
    }

    async function revert(rev) {
      if (busy) return;
      if (drafts.has(key)) { status.textContent = 'Najpierw zapisz albo cofnij swoje zmiany w tej sekcji.'; return; }
      busy = true; refresh();
      try {
        const p = await api('POST', `/api/projects/${encodeURIComponent(projectId)}/sections/${encodeURIComponent(key)}/revert`,
          { json: { revision_id: rev.id, version: project.version } });
        busy = false;
        setProject(p);
        const msg = `Przywrócono wersję z ${fmtDateTime(rev.created_at)}.`;
        status.textContent = msg; // role=status: read once
        loadHistory();
      } catch (e) {
        status.textContent = `Nie udało się przywrócić: ${e.message}`;
        if (e instanceof ApiError && e.status === 409 && e.data && e.data.project) setProject(e.data.project);
      } finally {
        busy = false;
        refresh();
      }
    }

    return { el, update };
  }

  function renderQuality(oldScore) {
    const q = project.quality || {};
    const score = project.quality_score ?? q.score;
    const crit = q.criteria || {};
    const diff = oldScore !== null && oldScore !== undefined && score !== null && score !== undefined ? score - oldScore : 0;
    replace(quality,
      h('h2', { id: 'quality-h' }, 'Jakość karty'),
      h('p', { class: 'score' },
        h('span', { class: 'score-value', id: 'score' }, score === null || score === undefined ? '—' : String(score)),
        h('span', { class: 'score-max' }, '/100'),
        diff ? h('span', { class: `score-diff ${diff > 0 ? 'up' : 'down'}` }, ` ${diff > 0 ? '+' : ''}${diff}`) : null),
      h('meter', { min: '0', max: '100', low: '50', high: '80', optimum: '100', value: String(score ?? 0), 'aria-label': 'Wynik jakości' }),
      h('ul', { class: 'criteria' }, CRITERIA.map(([k, label, what]) => {
        const c = crit[k];
        if (!c) return null;
        return h('li', { dataset: { criterion: k } },
          h('div', { class: 'row-between' }, h('strong', null, label), h('span', null, `${c.score}/${c.max}`)),
          h('meter', { min: '0', max: String(c.max), value: String(c.score), 'aria-label': `${label}: ${c.score} z ${c.max}` }),
          h('p', { class: 'note' }, `${what}. ${c.detail ? `Wynik: ${c.detail}.` : ''}`));
      })),
      (q.missing_facts || []).length
        ? h('p', { class: 'missing' }, h('strong', null, 'Brakujące fakty: '), q.missing_facts.map((f) => FACTS[f] || f).join(', '), '.')
        : null);
  }

  function renderInput() {
    const inp = project.input || {};
    const rows = INPUT_FIELDS.filter(([k]) => inp[k] !== undefined && inp[k] !== null && inp[k] !== '').map(([k, label]) => {
      let v = inp[k];
      if (k === 'budget') v = fmtMoney(v);
      else if (k === 'start_date' || k === 'end_date') v = fmtDay(v);
      return [h('dt', null, label), h('dd', null, String(v))];
    });
    replace(inputBox, h('h2', { id: 'input-h' }, 'Dane z arkusza'),
      h('details', { open: window.matchMedia('(min-width: 64em)').matches },
        h('summary', null, 'Pokaż dane wejściowe'),
        h('dl', { class: 'facts' }, rows)));
  }

  load();
  return () => {
    alive = false;
    for (const t of timers) clearTimeout(t);
    window.removeEventListener('beforeunload', onBeforeUnload);
  };
}
