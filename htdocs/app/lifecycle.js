// A batch's life and money (issue 17): delete with a confirmation, stop
// ("Zatrzymaj"), the cost cap (spent / cap bar, the message when the cap
// stopped the batch), the cost estimate beside "Generuj" and estimate vs
// actual once generated. Kept apart from batch.js so that page can change
// freely: it only creates these controls and calls update().
import { h, replace, plural, toast, announce, fmtDecimal, fmtNum } from './dom.js';
import { api } from './api.js';

// Money is USD (the [ai] prices are USD per 1,000 tokens); no Intl at load
// (dom.js says why)
export function fmtUsd(v) {
  const n = Number(v || 0);
  return `${fmtDecimal(n, 2, n > 0 && n < 0.01 ? 4 : 2)}\u00a0USD`;
}
const numFmt = { format: fmtNum };

// A modal confirmation (a <dialog>): resolves true when confirmed.
export function confirmDialog(title, text, okLabel) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'btn btn-danger', id: 'confirm-ok' }, okLabel);
    const cancel = h('button', { type: 'button', class: 'btn', id: 'confirm-cancel' }, 'Anuluj');
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-h' },
      h('h2', { id: 'confirm-h' }, title), h('p', null, text), h('div', { class: 'actions' }, ok, cancel));
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(false); });
    document.body.appendChild(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// "Usuń" for a batch: asks, deletes, tells. Resolves true when deleted.
export async function deleteBatch(b) {
  const cards = b.row_count || 0;
  const yes = await confirmDialog('Usunąć zestaw?',
    `Zestaw „${b.name || 'bez nazwy'}” zostanie usunięty razem z ${plural(cards, 'kartą', 'kartami', 'kartami')} ` +
    'i pobranymi plikami. Tej operacji nie można cofnąć.',
    `Usuń zestaw (${plural(cards, 'karta', 'karty', 'kart')})`);
  if (!yes) return false;
  try {
    await api('DELETE', `/api/batches/${encodeURIComponent(b.id)}`);
    toast(`Usunięto zestaw „${b.name || ''}”.`, 'ok');
    announce(`Usunięto zestaw ${b.name || ''}.`);
    return true;
  } catch (e) {
    toast(`Nie udało się usunąć zestawu: ${e.message}`, 'error', 10000);
    return false;
  }
}

// Parse "1,50" / "1.5" / "" (no cap) as typed by a Polish user.
export function parseCap(text) {
  const t = String(text || '').trim().replace(/\s/g, '').replace(',', '.');
  if (!t) return null;
  if (!/^\d+(\.\d+)?$/.test(t)) return NaN;
  return Number(t);
}

// The cap field of the upload form ("Limit kosztów AI").
export function capField(id) {
  const input = h('input', { type: 'text', id, inputmode: 'decimal', autocomplete: 'off', placeholder: 'bez limitu', class: 'cap-input' });
  const el = h('div', { class: 'field' },
    h('label', { for: id }, 'Limit kosztów AI w USD (opcjonalnie)'), input,
    h('p', { class: 'note' }, 'Po osiągnięciu limitu generowanie zatrzyma się. Ceny modeli są w USD za 1000 tokenów.'));
  return { el, input };
}

export async function applyCap(batchId, value) {
  return api('PATCH', `/api/batches/${encodeURIComponent(batchId)}`, { json: { cost_cap: value } });
}

// The batch page's controls; update(batch, counts) after every change.
export function batchLifecycle(batchId, { onChanged }) {
  let batch = null;
  let estimate = null;
  let estimating = false;
  let lastCounts = null;
  let lastKey = '';

  const stopBtn = h('button', { type: 'button', class: 'btn', id: 'stop', hidden: true }, 'Zatrzymaj');
  const deleteBtn = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'delete-batch' }, 'Usuń zestaw');
  const estimateText = h('p', { class: 'estimate note', id: 'estimate' });
  const capBar = h('progress', { id: 'cap-bar', max: '100', value: '0', 'aria-labelledby': 'cap-label' });
  const capLabel = h('p', { id: 'cap-label', class: 'note' });
  const capMsg = h('div', { id: 'cap-stopped', class: 'alert alert-warn', role: 'status', hidden: true });
  const capInput = h('input', { type: 'text', id: 'cap', inputmode: 'decimal', autocomplete: 'off', placeholder: 'bez limitu', class: 'cap-input' });
  const capSave = h('button', { type: 'button', class: 'btn btn-small', id: 'cap-save' }, 'Zapisz limit');
  const actual = h('div', { id: 'estimate-vs-actual', class: 'note', hidden: true });
  const money = h('section', { class: 'card', 'aria-labelledby': 'money-h', id: 'money' },
    h('h2', { id: 'money-h' }, 'Koszt AI (USD)'),
    capLabel, capBar, capMsg,
    h('div', { class: 'field inline' }, h('label', { for: 'cap' }, 'Limit kosztów (USD)'), capInput, capSave),
    actual);

  stopBtn.addEventListener('click', stop);
  deleteBtn.addEventListener('click', async () => {
    if (batch && await deleteBatch(batch)) location.hash = '#/';
  });
  capSave.addEventListener('click', saveCap);

  async function stop() {
    stopBtn.disabled = true;
    try {
      const r = await api('POST', `/api/batches/${encodeURIComponent(batchId)}/cancel`);
      const n = r && r.stopped ? r.stopped : 0;
      toast(n ? `Zatrzymano generowanie: ${plural(n, 'projekt wraca', 'projekty wracają', 'projektów wraca')} do stanu „Oczekuje”. Karty w trakcie zostaną porzucone po bieżącym wywołaniu AI.`
        : 'Nic nie było generowane.', 'ok', 9000);
      onChanged();
    } catch (e) {
      toast(`Nie udało się zatrzymać: ${e.message}`, 'error');
    } finally {
      stopBtn.disabled = false;
    }
  }

  async function saveCap() {
    const v = parseCap(capInput.value);
    if (Number.isNaN(v)) {
      toast('Limit musi być liczbą, np. 2,50 (USD), albo pustym polem (bez limitu).', 'error');
      capInput.focus();
      return;
    }
    capSave.disabled = true;
    try {
      const r = await applyCap(batchId, v);
      toast(v === null ? 'Usunięto limit kosztów.' : `Zapisano limit kosztów: ${fmtUsd(v)}.` +
        (r.stopped ? ` Wydano już tyle — generowanie zatrzymane (${plural(r.stopped, 'projekt', 'projekty', 'projektów')}).` : ''), 'ok', 9000);
      onChanged();
    } catch (e) {
      toast(`Nie udało się zapisać limitu: ${e.message}`, 'error');
    } finally {
      capSave.disabled = false;
    }
  }

  let again = false;
  async function loadEstimate() {
    if (estimating) { again = true; return; }
    estimating = true;
    try {
      estimate = await api('GET', `/api/batches/${encodeURIComponent(batchId)}/estimate`);
      render();
    } catch (e) {
      estimateText.textContent = 'Nie udało się oszacować kosztu.';
    } finally {
      estimating = false;
      if (again) { again = false; loadEstimate(); }
    }
  }

  function render() {
    if (!batch) return;
    const c = lastCounts || {};
    const spent = Number(batch.cost || 0);
    const cap = batch.cost_cap === null || batch.cost_cap === undefined ? null : Number(batch.cost_cap);
    const active = (c.QUEUED || 0) + (c.GENERATING || 0);
    stopBtn.hidden = active === 0;
    if (document.activeElement !== capInput) capInput.value = cap === null ? '' : String(cap).replace('.', ',');
    if (cap === null) {
      capLabel.textContent = `Wydano ${fmtUsd(spent)} · bez limitu`;
      capBar.hidden = true;
    } else {
      capLabel.textContent = `Wydano ${fmtUsd(spent)} z limitu ${fmtUsd(cap)}`;
      capBar.hidden = false;
      capBar.value = cap > 0 ? Math.min(100, Math.round((spent / cap) * 100)) : 100;
    }
    const capped = cap !== null && spent >= cap;
    capMsg.hidden = !capped;
    if (capped) {
      replace(capMsg, h('strong', null, 'Limit kosztów został osiągnięty — generowanie zatrzymane. '),
        `Wydano ${fmtUsd(spent)} przy limicie ${fmtUsd(cap)}. Aby dokończyć karty, podnieś albo usuń limit i kliknij „Generuj”.`);
    }
    if (estimate) {
      const left = estimate.remaining_rows > 0;
      estimateText.textContent = left
        ? `Szacowany koszt: ok. ${fmtUsd(estimate.remaining_cost)} (${plural(estimate.remaining_rows, 'projekt', 'projekty', 'projektów')}, ${estimate.providers[0] ? estimate.providers[0].provider : ''})`
        : '';
      estimateText.title = `${numFmt.format(estimate.tokens_in)} tokenów wejścia i ${numFmt.format(estimate.tokens_out)} wyjścia na cały zestaw; ceny w USD za 1000 tokenów.`;
      const a = estimate.actual || {};
      actual.hidden = !a.calls;
      if (a.calls) {
        replace(actual, h('p', null,
          `Szacunek dla całego zestawu: ${fmtUsd(estimate.cost)} (${numFmt.format(estimate.tokens_in)} + ${numFmt.format(estimate.tokens_out)} tokenów). `,
          `Faktycznie: ${fmtUsd(a.cost)} (${numFmt.format(a.tokens_in)} + ${numFmt.format(a.tokens_out)} tokenów, ${plural(a.calls, 'wywołanie', 'wywołania', 'wywołań')} AI).`));
      }
    }
  }

  return {
    stopBtn, deleteBtn, estimateText, money,
    update(b, counts) {
      // batch.js keeps one batch object and patches it: compare values
      const active = (counts.QUEUED || 0) + (counts.GENERATING || 0);
      const key = `${b.status}|${b.cost}|${counts.PENDING || 0}|${counts.FAILED || 0}|${active}`;
      const changed = key !== lastKey;
      lastKey = key;
      batch = b;
      lastCounts = counts;
      render();
      // the estimate (and estimate vs actual) once nothing is in flight
      if (!estimate || (changed && !active)) loadEstimate();
    },
  };
}
