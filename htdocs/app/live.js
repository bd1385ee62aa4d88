// Live batch status: EventSource on /api/events/{id}?ticket=..., where the
// ticket comes from POST /api/events/{id}/ticket (with the token in the
// Authorization header): single-use, valid 60 s, so no credential that is
// worth anything ever appears in a URL or a log.  Because a ticket works
// once, EventSource's own reconnect cannot be used: on any error we close
// it and reopen with a new ticket and ?lastEventId= (the relay replays what
// was missed).  Falls back to polling (GET /api/batches/{id} every 3 s,
// with a new attempt to stream every 30 s):
//  - at once when the relay refuses (429 too many streams for this user,
//    503 relay full: from the ticket request, or a stream that fails
//    before it opens while the session is still good),
//  - after repeated failures of a stream that did open,
//  - when nothing arrives within FIRST_DATA_MS of opening: a host that
//    buffers the stream (mod_fcgid's FcgidOutputBufferSize on shared
//    hosting) delivers it only when the relay ends it.
import { api, siteUrl } from './api.js';

export const EVENT_TYPES = ['project.status_changed', 'project.progress', 'project.completed', 'project.failed', 'batch.completed', 'batch.stopped', 'project.deleted'];
const POLL_MS = 3000;
const RETRY_STREAM_MS = 30000;
const MAX_FAILURES = 3;
const FIRST_DATA_MS = 10000; // the relay sends a snapshot at once

export class BatchLive {
  // handlers: onSnapshot(snap), onEvent(ev), onPoll(batch), onMode(mode), onEnd(reason)
  constructor(batchId, handlers) {
    this.batchId = batchId;
    this.h = handlers;
    this.lastSeq = -1;
    this.failures = 0;
    this.es = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.reopenTimer = null;
    this.firstTimer = null;
    this.mode = 'idle';
    this.stopped = false;
    this.gen = 0; // open() generation: a newer open() wins
  }

  setMode(m) {
    if (this.mode === m) return;
    this.mode = m;
    document.body.dataset.live = m;
    if (this.h.onMode) this.h.onMode(m);
  }

  start() {
    this.stopped = false;
    this.open();
  }

  // a new ticket, then the stream URL (with the last seq we saw)
  async streamUrl() {
    const t = await api('POST', `/api/events/${encodeURIComponent(this.batchId)}/ticket`);
    let u = siteUrl(t.url);
    if (this.lastSeq >= 0) u += `&lastEventId=${this.lastSeq}`;
    return u;
  }

  async open() {
    if (this.stopped) return;
    const gen = ++this.gen;
    this.closeStream();
    if (this.mode !== 'polling') this.setMode('connecting');
    let url;
    try {
      url = await this.streamUrl();
    } catch (e) {
      if (gen !== this.gen || this.stopped) return;
      if (e.status === 401) return; // handled globally: back to login
      if (e.status === 429 || e.status === 503) { this.fallBack(); return; }
      this.failed();
      return;
    }
    if (gen !== this.gen || this.stopped) return;
    let es;
    try {
      es = new EventSource(url);
    } catch (e) {
      this.failed();
      return;
    }
    this.es = es;
    let sawData = false;
    let opened = false;
    clearTimeout(this.firstTimer);
    this.firstTimer = setTimeout(() => {
      if (this.es !== es || sawData) return;
      this.failures = MAX_FAILURES - 1; // buffered: poll, try streaming again later
      this.failed();
    }, FIRST_DATA_MS);
    // "open" alone proves nothing on a buffering host: streaming starts
    // with the first snapshot or event
    es.onopen = () => { if (this.es === es) opened = true; };
    es.addEventListener('snapshot', (e) => {
      if (this.es !== es) return;
      sawData = true;
      this.streaming();
      let snap;
      try { snap = JSON.parse(e.data); } catch (err) { return; }
      const seq = Number(e.lastEventId || snap.seq);
      if (isFinite(seq)) this.lastSeq = seq;
      if (this.h.onSnapshot) this.h.onSnapshot(snap);
    });
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        if (this.es !== es) return;
        sawData = true;
        this.streaming();
        let ev;
        try { ev = JSON.parse(e.data); } catch (err) { return; }
        const seq = Number(e.lastEventId || ev.seq);
        if (isFinite(seq)) {
          if (seq <= this.lastSeq) return; // already seen (replay overlap)
          this.lastSeq = seq;
        }
        if (this.h.onEvent) this.h.onEvent(ev);
      });
    }
    es.addEventListener('end', (e) => {
      if (this.es !== es) return;
      let reason = '';
      try { reason = JSON.parse(e.data).reason || ''; } catch (err) { /* ignore */ }
      this.closeStream();
      if (reason === 'batch_completed') {
        this.stopPolling();
        this.setMode('ended');
        if (this.h.onEnd) this.h.onEnd(reason);
      } else {
        // token_expired, session_ended (logout, password change, role
        // change), server restart...: check the session (a 401 sends the
        // user to the login page), then reopen
        this.reopenSoon(500, true);
      }
    });
    es.onerror = () => {
      if (this.es !== es) return;
      // never let EventSource retry by itself: its ticket is used up
      this.closeStream();
      if (opened) this.failed();
      else this.refused();
    };
  }

  // The stream failed before it opened: the relay refused it (too many
  // streams, relay full, ticket or batch gone) or the network is down.
  // If the session is still good, poll now and try streaming later.
  async refused() {
    const gen = this.gen;
    try { await api('GET', '/api/auth/me'); } catch (e) { if (e.status === 401) return; }
    if (gen !== this.gen || this.stopped) return;
    this.fallBack();
  }

  streaming() {
    this.failures = 0;
    if (this.mode === 'polling') this.stopPolling();
    this.setMode('sse');
  }

  failed() {
    this.failures++;
    this.closeStream();
    if (this.failures >= MAX_FAILURES) this.fallBack();
    else this.reopenSoon(500 * 2 ** (this.failures - 1), this.failures > 1);
  }

  reopenSoon(ms, checkAuth) {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(async () => {
      if (this.stopped) return;
      if (checkAuth) {
        try { await api('GET', '/api/auth/me'); } catch (e) { if (e.status === 401) return; }
      }
      this.open();
    }, ms);
  }

  fallBack() {
    this.closeStream();
    this.startPolling();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.stopped || this.mode !== 'polling') return;
      this.failures = MAX_FAILURES - 1; // one failure more sends us back to polling
      this.open();
    }, RETRY_STREAM_MS);
  }

  startPolling() {
    this.setMode('polling');
    if (this.pollTimer) return;
    const tick = async () => {
      if (this.stopped) return;
      try {
        const b = await api('GET', `/api/batches/${encodeURIComponent(this.batchId)}`);
        if (this.h.onPoll) this.h.onPoll(b);
      } catch (e) { /* keep trying; 401 is handled globally */ }
    };
    tick();
    this.pollTimer = setInterval(tick, POLL_MS);
  }

  stopPolling() {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    clearTimeout(this.retryTimer);
  }

  closeStream() {
    if (this.es) {
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }

  // for the e2e test and for "Połącz ponownie": drop the stream as a network cut would
  reconnect() {
    this.failures = 0;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.gen++;
    this.closeStream();
    this.stopPolling();
    clearTimeout(this.reopenTimer);
    clearTimeout(this.firstTimer);
    delete document.body.dataset.live;
  }
}
