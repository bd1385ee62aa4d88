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
//    binary search. style.css lets the browser skip the layout and paint of
//    rows far from the viewport (content-visibility), and the bars move by
//    transform only.
//  - the highlight of a changed row is a Web Animations API animation: no
//    class toggling and no forced layout to restart it.
import { h } from './dom.js';
import { projectStatus } from './labels.js';

export const STATUSES = ['PENDING', 'QUEUED', 'GENERATING', 'COMPLETED', 'FAILED'];
const DONE = new Set(['COMPLETED', 'FAILED']);
const FIELDS = ['row', 'name', 'status', 'progress', 'quality_score', 'error', 'provider'];
const SLICE_MS = 10;       // row building and painting per frame...
const MIN_SLICE = 40;      // ...but at least this many rows (the first
                           // slice, about a screenful, is laid out in full)
const FLASH_MAX = 40;
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
  let flashing = 0;
  let renderedOnce = false;
  const motion = window.matchMedia ? !window.matchMedia('(prefers-reduced-motion: reduce)').matches : true;

  function account(p, sign) {
    tally.count[p.status] = (tally.count[p.status] || 0) + sign;
    tally.sum += sign * pct(p);
    if (p.provider === 'offline') tally.offline += sign;
  }

  // patch: {id, ...some of FIELDS}; live: the change came from an event (a
  // highlight for the row, onChange) rather than a load or a snapshot
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

  // one frame's work, within a budget: a burst (a snapshot after a
  // reconnect, a backlog of events) is painted over several frames
  function flush() {
    frame = 0;
    const t0 = performance.now();
    if (pending.length) build(t0);
    let n = 0;
    for (const r of dirty) {
      if (n >= MIN_SLICE && performance.now() - t0 > SLICE_MS) break;
      dirty.delete(r);
      paint(r, projects.get(r.id));
      n++;
    }
    if (dirty.size) schedule();
    if (opts.onFrame) opts.onFrame();
  }

  // Rows live in groups of GROUP, each its own <tbody> with
  // content-visibility: auto (style.css): the browser keeps one box per
  // group, not per row, off screen — 20 observed boxes for 1,000 rows
  // instead of 1,000 (the per-row observer cost most of a frame).
  const GROUP = 50;
  let last = tbody;   // the group rows are appended to
  let lastRows = 0;   // rows appended to it

  function build(t0) {
    let frag = document.createDocumentFragment();
    let i = 0;
    while (i < pending.length && (i < MIN_SLICE || performance.now() - t0 < SLICE_MS)) {
      const p = pending[i++];
      const r = makeRow(p);
      rows.set(p.id, r);
      paint(r, p);
      if (place(r, p.row, frag) && ++lastRows >= GROUP) {
        last.appendChild(frag);
        frag = document.createDocumentFragment();
        const next = document.createElement('tbody');
        next.setAttribute('role', 'rowgroup');
        last.after(next);
        last = next;
        lastRows = 0;
      }
    }
    last.appendChild(frag);
    pending.splice(0, i);
    if (pending.length) schedule();
    else if (!renderedOnce) {
      renderedOnce = true;
      // rendered = the frame with the last row painted: a task queued by
      // the frame's callbacks runs after its layout and paint
      if (opts.onRendered) requestAnimationFrame(() => setTimeout(opts.onRendered, 0));
    }
  }

  // in sheet order: after the last row (the usual case) into frag, which
  // build() appends to the last group (returns true); else before its
  // successor, found by bisection, in that row's group
  function place(r, rowNo, frag) {
    r.rowNo = rowNo ?? Infinity;
    const tail = order[order.length - 1];
    if (!tail || tail.rowNo <= r.rowNo) {
      order.push(r);
      frag.appendChild(r.tr);
      return true;
    }
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid].rowNo <= r.rowNo) lo = mid + 1; else hi = mid;
    }
    // a successor may still sit in frag: then insert there
    const next = order[lo].tr;
    (next.parentNode || last).insertBefore(r.tr, next);
    order.splice(lo, 0, r);
    return false;
  }

  // Every row is a clone of one template (a native deep copy: the first
  // render of 1,000 rows took 200-215 instead of 300 ms of CPU); the link
  // that replaces the name once the project is finished is made with it.
  let tpl = null;
  function link(id) {
    const a = document.createElement('a');
    a.href = `#/projects/${encodeURIComponent(id)}`;
    return a;
  }
  function makeRow(p) {
    if (!tpl) {
      // the bar is decoration: the percentage beside it is the value read out
      tpl = h('tr', { role: 'row' },
        h('td', { role: 'cell', class: 'num' }),
        h('th', { role: 'rowheader', scope: 'row' }, h('span')),
        h('td', { role: 'cell' }, h('span', { class: 'badge' })),
        h('td', { role: 'cell', class: 'progress-cell' }, h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill' })), h('span', { class: 'prog-text' })),
        h('td', { role: 'cell', class: 'num quality' }),
        h('td', { role: 'cell', class: 'notes' }));
    }
    const tr = tpl.cloneNode(true);
    tr.dataset.projectId = p.id;
    const [num, nameCell, statusCell, progressCell, quality, notes] = tr.children;
    return {
      id: p.id,
      tr,
      num,
      nameCell,
      link: link(p.id),
      plain: nameCell.firstChild,
      badge: statusCell.firstChild,
      fill: progressCell.firstChild.firstChild,
      progText: progressCell.lastChild,
      quality,
      notes,
      shown: { linked: false }, // what the row currently shows
      anim: null,
      flash: false,
    };
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
      r.fill.style.transform = `scaleX(${progress / 100})`;
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

  // a cue, not information: at most FLASH_MAX at a time (each running
  // animation costs a style update per frame)
  function highlight(r) {
    if (!motion || !r.tr.animate) return;
    if (r.anim) r.anim.cancel();
    else if (flashing >= FLASH_MAX) return;
    else flashing++;
    const a = r.tr.animate(FLASH, { duration: 1200, easing: 'ease-out' });
    r.anim = a;
    a.onfinish = a.oncancel = () => {
      if (r.anim !== a) return;
      r.anim = null;
      flashing--;
    };
  }

  // a card deleted from the batch (project.deleted): its row, its counts
  function remove(id) {
    const p = projects.get(id);
    if (!p) return;
    account(p, -1);
    tally.n--;
    projects.delete(id);
    const k = pending.indexOf(p);
    if (k >= 0) pending.splice(k, 1);
    const r = rows.get(id);
    if (r) {
      rows.delete(id);
      dirty.delete(r);
      const i = order.indexOf(r);
      if (i >= 0) order.splice(i, 1);
      r.tr.remove();
    }
    schedule();
  }

  return {
    apply,
    remove,
    tally,
    get: (id) => projects.get(id),
    ids: (status) => [...projects.values()].filter((p) => p.status === status).map((p) => p.id),
    size: () => projects.size,
    stop() { if (frame) cancelAnimationFrame(frame); frame = 0; },
  };
}
