// The projects of one batch: their data, the incremental counts and the table
// rows, built to stay fluid with 1,000 projects and a stream of events.
//
//  - apply(patch) only records what changed: the counts are adjusted by the
//    old and the new contribution of that one project (never a walk over all
//    projects), the row is marked dirty, and one paint is scheduled for the
//    next animation frame. A hundred events within one frame cost one paint.
//  - paint touches only the cells whose value differs from what the row
//    shows (every row remembers what it painted); the nodes of a row are made
//    once and reused.
//  - rows are created in time slices of a few milliseconds per frame, in
//    sheet order: appending is O(1), a row that belongs earlier is placed by
//    binary search.
//  - the highlight of a changed row is a Web Animations API animation: no
//    class toggling and no forced layout to restart it.
import { h } from './dom.js';
import { projectStatus } from './labels.js';

export const STATUSES = ['PENDING', 'QUEUED', 'GENERATING', 'COMPLETED', 'FAILED'];
const DONE = new Set(['COMPLETED', 'FAILED']);
const FIELDS = ['row', 'name', 'status', 'progress', 'quality_score', 'error', 'provider'];
const SLICE_MS = 8;        // row building per frame
const FLASH = [{ backgroundColor: '#fff1c7' }, { backgroundColor: 'rgba(255, 241, 199, 0)' }];

export function pct(p) {
  return DONE.has(p.status) ? 100 : Math.max(0, Math.min(100, Number(p.progress) || 0));
}

// opts: onChange(project, old) after a live change, onFrame() after a paint,
//       onRendered() once every project known so far has its row,
//       retry(id) for a row's "Ponów" button
export function createProjectTable(tbody, opts = {}) {
  const projects = new Map();   // id -> project (only FIELDS + id)
  const rows = new Map();       // id -> row view
  const order = [];             // created rows, by sheet row
  const pending = [];           // projects waiting for their row
  const dirty = new Set();
  const tally = { count: Object.fromEntries(STATUSES.map((s) => [s, 0])), sum: 0, offline: 0, n: 0 };
  let frame = 0;
  let renderedOnce = false;
  const motion = window.matchMedia ? !window.matchMedia('(prefers-reduced-motion: reduce)').matches : true;

  function account(p, sign) {
    tally.count[p.status] = (tally.count[p.status] || 0) + sign;
    tally.sum += sign * pct(p);
    if (p.provider === 'offline') tally.offline += sign;
  }

  // patch: {id, ...some of FIELDS}; live: the change came from an event
  function apply(patch, live) {
    let p = projects.get(patch.id);
    if (!p) {
      p = { id: patch.id };
      for (const k of FIELDS) p[k] = patch[k] === undefined ? null : patch[k];
      projects.set(p.id, p);
      tally.n++;
      account(p, 1);
      pending.push(p);
      schedule();
      return;
    }
    let old = null;
    for (const k of FIELDS) {
      if (!(k in patch) || patch[k] === undefined || patch[k] === p[k]) continue;
      if (!old) { old = { ...p }; account(p, -1); }
      p[k] = patch[k];
    }
    if (!old) return;
    account(p, 1);
    const r = rows.get(p.id);
    if (r) {
      if (live && old.status !== p.status) r.flash = true;
      dirty.add(r);
    }
    if (live && opts.onChange) opts.onChange(p, old);
    schedule();
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    if (pending.length) build();
    for (const r of dirty) paint(r, projects.get(r.id));
    dirty.clear();
    if (opts.onFrame) opts.onFrame();
  }

  function build() {
    const t0 = performance.now();
    let i = 0;
    while (i < pending.length && (i < 20 || performance.now() - t0 < SLICE_MS)) {
      const p = pending[i++];
      const r = makeRow(p);
      rows.set(p.id, r);
      place(r, p.row);
      paint(r, p);
    }
    pending.splice(0, i);
    if (pending.length) schedule();
    else if (!renderedOnce) {
      renderedOnce = true;
      if (opts.onRendered) opts.onRendered();
    }
  }

  function place(r, rowNo) {
    r.rowNo = rowNo ?? Infinity;
    const last = order[order.length - 1];
    if (!last || last.rowNo <= r.rowNo) {
      order.push(r);
      tbody.appendChild(r.tr);
      return;
    }
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid].rowNo <= r.rowNo) lo = mid + 1; else hi = mid;
    }
    tbody.insertBefore(r.tr, order[lo].tr);
    order.splice(lo, 0, r);
  }

  function makeRow(p) {
    const r = {
      id: p.id,
      tr: h('tr', { dataset: { projectId: p.id } }),
      num: h('td', { class: 'num' }),
      nameCell: h('th', { scope: 'row' }),
      link: h('a', { href: `#/projects/${encodeURIComponent(p.id)}` }),
      plain: h('span'),
      badge: h('span', { class: 'badge' }),
      prog: h('progress', { max: '100', value: '0' }),
      progText: h('span', { class: 'prog-text' }),
      quality: h('td', { class: 'num quality' }),
      notes: h('td', { class: 'notes' }),
      shown: { linked: false }, // what the row currently shows
      anim: null,
      flash: false,
    };
    r.nameCell.appendChild(r.plain);
    r.tr.append(r.num, r.nameCell, h('td', null, r.badge), h('td', { class: 'progress-cell' }, r.prog, r.progText), r.quality, r.notes);
    return r;
  }

  // touch only what differs from what the row shows
  function paint(r, p) {
    const s = r.shown;
    const name = p.name || 'Projekt';
    const linked = p.status === 'COMPLETED';
    const quality = linked && p.quality_score !== null && p.quality_score !== undefined ? `${p.quality_score}/100` : '—';
    const progress = pct(p);
    if (s.row !== p.row) { r.num.textContent = p.row ?? ''; s.row = p.row; }
    if (s.name !== name) {
      r.link.textContent = name;
      r.plain.textContent = name;
      r.prog.setAttribute('aria-label', `Postęp: ${name}`);
      s.name = name;
    }
    if (s.linked !== linked) {
      r.nameCell.replaceChild(linked ? r.link : r.plain, linked ? r.plain : r.link);
      s.linked = linked;
    }
    if (s.status !== p.status) {
      r.tr.dataset.status = p.status || '';
      r.badge.className = `badge status-${String(p.status || '').toLowerCase()}`;
      r.badge.textContent = projectStatus(p.status);
      s.status = p.status;
    }
    if (s.progress !== progress) {
      r.prog.value = progress;
      r.progText.textContent = `${progress}%`;
      s.progress = progress;
    }
    if (s.quality !== quality) { r.quality.textContent = quality; s.quality = quality; }
    const notesKey = `${p.status}|${p.error || ''}|${p.provider || ''}`;
    if (s.notes !== notesKey) { paintNotes(r, p); s.notes = notesKey; }
    if (r.flash) { r.flash = false; highlight(r); }
  }

  function paintNotes(r, p) {
    const kids = [];
    if (p.status === 'FAILED') {
      kids.push(h('span', { class: 'error-text' }, p.error || 'Generowanie nie powiodło się.'));
      if (opts.retry) {
        kids.push(h('button', {
          type: 'button', class: 'btn btn-small retry', onclick: () => opts.retry(p.id),
          'aria-label': `Ponów generowanie: ${p.name || ''}`,
        }, 'Ponów'));
      }
    }
    if (p.provider === 'offline' && p.status === 'COMPLETED') kids.push(h('span', { class: 'tag' }, 'offline'));
    r.notes.replaceChildren(...kids);
  }

  function highlight(r) {
    if (!motion || !r.tr.animate) return;
    if (r.anim) r.anim.cancel();
    r.anim = r.tr.animate(FLASH, { duration: 1200, easing: 'ease-out' });
    r.anim.onfinish = () => { r.anim = null; };
  }

  return {
    apply,
    tally,
    get: (id) => projects.get(id),
    ids: (status) => [...projects.values()].filter((p) => p.status === status).map((p) => p.id),
    size: () => projects.size,
    stop() { if (frame) cancelAnimationFrame(frame); frame = 0; },
  };
}
