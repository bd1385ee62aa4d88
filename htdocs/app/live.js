// Live batch status: EventSource on /api/events/{id}?token=..., with
//  - EventSource's own reconnect (it sends Last-Event-ID),
//  - our reopen with ?lastEventId= when the browser gave up (readyState
//    CLOSED: an HTTP error or a stream the server ended without "end"),
//  - a polling fallback (GET /api/batches/{id} every 3 s) after repeated
//    failures, with a new attempt to stream every 30 s,
//  - the same fallback when nothing arrives within FIRST_DATA_MS of opening:
//    a host that buffers the stream (mod_fcgid's FcgidOutputBufferSize on
//    shared hosting) delivers it only when the relay ends it.
import { api, token } from './api.js';

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

  url() {
    let u = `/api/events/${encodeURIComponent(this.batchId)}?token=${encodeURIComponent(token() || '')}`;
    if (this.lastSeq >= 0) u += `&lastEventId=${this.lastSeq}`;
    return u;
  }

  open() {
    if (this.stopped) return;
    this.closeStream();
    if (this.mode !== 'polling') this.setMode('connecting');
    let es;
    try {
      es = new EventSource(this.url());
    } catch (e) {
      this.failed();
      return;
    }
    this.es = es;
    let sawData = false;
    clearTimeout(this.firstTimer);
    this.firstTimer = setTimeout(() => {
      if (this.es !== es || sawData) return;
      this.failures = MAX_FAILURES - 1; // buffered: poll, try streaming again later
      this.failed();
    }, FIRST_DATA_MS);
    es.onopen = () => { if (this.es === es && sawData) this.streaming(); };
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
        // token about to expire, server restart...: check the session, reopen
        this.reopenSoon(1000, true);
      }
    });
    es.onerror = () => {
      if (this.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // the browser will not retry by itself
        this.failed();
      } else {
        // EventSource reconnects by itself (with Last-Event-ID)
        this.failures++;
        if (this.mode !== 'polling') this.setMode('connecting');
        if (this.failures >= MAX_FAILURES) this.fallBack();
      }
    };
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
    else this.reopenSoon(1000 * 2 ** (this.failures - 1), true);
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
    this.closeStream();
    this.stopPolling();
    clearTimeout(this.reopenTimer);
    clearTimeout(this.firstTimer);
    delete document.body.dataset.live;
  }
}
