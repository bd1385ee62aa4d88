/*
 * kg_relay - Redis pub/sub fanned out to Server-Sent Event streams
 * (the machinery of GET /api/events/{batchId}, DESIGN.md "Live status").
 *
 *   retry: 3000
 *
 *   id: 17
 *   event: snapshot
 *   data: {"type":"snapshot","seq":17,"status":"GENERATING","projects":[...]}
 *
 *   id: 18
 *   event: project.progress
 *   data: {"type":"project.progress","seq":18,...}       (kg_event JSON)
 *
 *   : ping                                                (heartbeat)
 *
 *   event: end
 *   data: {"reason":"batch_completed"}                    (then EOF)
 *
 * Shape of the process.  One open stream occupies one request thread
 * (kg_app threads = [events] max_streams), so one process serves many
 * watchers.  All streams of the process share ONE Redis connection in
 * SUBSCRIBE mode, owned by the dispatcher thread: it subscribes to
 * kg:batch:<id> while at least one stream watches that batch (reference
 * count), puts every message (parsed once, shared, refcounted) on the
 * queue of each stream of that batch and wakes the stream's thread
 * through its eventfd.  Auth, snapshots and history reads go through the
 * process's one kg_db and kg_redis connections under kg_app_lock(), so
 * PostgreSQL connections stay at one per process whatever the number of
 * streams.
 *
 * Nothing lost, nothing twice.  A stream subscribes FIRST and only then
 * reads the database or the history, and afterwards drops every live
 * event whose seq it has already sent.  Every event's state change was
 * committed before it was published, so anything published before the
 * subscription is already in what the read sees (snapshot) or in the
 * history (replay); anything after arrives live.  See catch_up() for the
 * replay rule and deliver() for ordering (two workers may publish seq
 * 6 before 5; the stream waits gap_wait_ms for the hole to fill, then
 * asks the history, then falls back to a snapshot).
 *
 * Redis restarts: the dispatcher reconnects and resubscribes; every
 * stream of a resubscribed batch then catches up from its last sent seq
 * (history, or a snapshot when Redis lost the history or events were
 * published while it was down).  Streams stay open meanwhile.  When a
 * catch-up itself fails the stream closes; the browser reconnects with
 * Last-Event-ID = the last seq it received, so nothing is lost either.
 */
#include "kg_relay.h"
#include "kg_app.h"
#include "kg_buf.h"
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_log.h"
#include "kg_redis.h"
#include "kg_req.h"
#include "kg_resp.h"
#include "kg_snapshot.h"
#include "kg_streams.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 3000
#define STREAM_QUEUE 256	/* live events waiting for one stream */
#define PENDING_MAX 1024	/* out-of-order events held back */
#define WRITE_TIMEOUT 30	/* s: a client that reads nothing is dropped */
#define HISTORY_READ (KG_EVENT_HISTORY * 2)
#define OUT_KEEP 65536		/* bytes of output buffer a stream keeps */

/* ---- shared state: channels, streams, the dispatcher ----------------- */

/* One published event, shared by every stream that receives it. */
struct relay_msg {
	atomic_int refs;
	long long seq;
	char type[48];
	size_t len;
	char data[];
};

struct channel;

struct stream {
	struct channel *chan;
	struct stream *next;		/* in chan->streams */
	int wake_fd;			/* eventfd: the dispatcher has news */
	/* guarded by relay.mu: */
	struct relay_msg *queue[STREAM_QUEUE];
	int qlen;
	int overflow;			/* queue was full: catch up */
	int resync;			/* Redis came back: catch up */
};

enum chan_state { CH_NEW, CH_SENT, CH_ACTIVE };

struct channel {
	char name[64];
	int refs;
	enum chan_state state;
	int resubscribe;		/* lost with Redis, streams must resync */
	struct stream *streams;
	struct channel *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t active;		/* some channel became CH_ACTIVE */
	struct channel *channels;
	int wake_fd;
	int stop;
	int started;
	pthread_t thread;
} relay = {.mu = PTHREAD_MUTEX_INITIALIZER,
	   .active = PTHREAD_COND_INITIALIZER,
	   .wake_fd = -1};

static void
msg_unref(struct relay_msg *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		free(m);
}

static void
wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		KG_WARN("eventfd write: %s", strerror(errno));
}

static void
drain(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		KG_WARN("eventfd read: %s", strerror(errno));
}

static struct channel *
find_channel(const char *name)
{
	for (struct channel *c = relay.channels; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* A message as the relay keeps it: the JSON as published, its seq and
 * its type (restricted to [a-z._] so it cannot break the event: line). */
static struct relay_msg *
msg_new(const char *data, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(data, len);
	cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
	struct relay_msg *m = NULL;

	if (!cJSON_IsNumber(seq) || seq->valuedouble < 1 ||
	    !cJSON_IsString(type) || strlen(type->valuestring) >= 48 ||
	    strspn(type->valuestring, "abcdefghijklmnopqrstuvwxyz._") !=
		    strlen(type->valuestring))
		goto out;
	m = malloc(sizeof(*m) + len + 1);
	if (!m)
		goto out;
	atomic_init(&m->refs, 1);
	m->seq = (long long)seq->valuedouble;
	snprintf(m->type, sizeof(m->type), "%s", type->valuestring);
	m->len = len;
	memcpy(m->data, data, len);
	m->data[len] = '\0';
out:
	cJSON_Delete(o);
	return m;
}

static void
fan_out(const char *name, const char *data, size_t len)
{
	struct relay_msg *m = msg_new(data, len);
	struct channel *c;

	if (!m) {
		KG_WARN("ignoring malformed event on %s", name);
		return;
	}
	pthread_mutex_lock(&relay.mu);
	c = find_channel(name);
	for (struct stream *s = c ? c->streams : NULL; s; s = s->next) {
		if (s->qlen == STREAM_QUEUE) {
			s->overflow = 1;
		} else {
			atomic_fetch_add(&m->refs, 1);
			s->queue[s->qlen++] = m;
		}
		wake(s->wake_fd);
	}
	pthread_mutex_unlock(&relay.mu);
	msg_unref(m);
}

static void
channel_active(const char *name)
{
	struct channel *c;

	pthread_mutex_lock(&relay.mu);
	c = find_channel(name);
	if (c && c->state == CH_SENT) {
		c->state = CH_ACTIVE;
		for (struct stream *s = c->streams; c->resubscribe && s;
		     s = s->next) {
			s->resync = 1;
			wake(s->wake_fd);
		}
		c->resubscribe = 0;
		pthread_cond_broadcast(&relay.active);
	}
	pthread_mutex_unlock(&relay.mu);
}

static void
on_reply(redisReply *r)
{
	const char *kind;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return;
	kind = r->element[0]->str;
	if (!strcmp(kind, "message") &&
	    r->element[2]->type == REDIS_REPLY_STRING)
		fan_out(r->element[1]->str, r->element[2]->str,
			r->element[2]->len);
	else if (!strcmp(kind, "subscribe"))
		channel_active(r->element[1]->str);
}

/*
 * SUBSCRIBE what streams wait for, UNSUBSCRIBE what nobody watches any
 * more (and forget it).  A channel whose count went to 0 and back up
 * before we got here is simply still subscribed.
 */
static int
sync_subscriptions(redisContext *rc)
{
	struct channel **pp = &relay.channels;
	int done = 0;

	pthread_mutex_lock(&relay.mu);
	while (*pp) {
		struct channel *c = *pp;

		if (c->refs == 0) {
			if (c->state != CH_NEW)
				redisAppendCommand(rc, "UNSUBSCRIBE %s", c->name);
			*pp = c->next;
			free(c);
			continue;
		}
		if (c->state == CH_NEW) {
			redisAppendCommand(rc, "SUBSCRIBE %s", c->name);
			c->state = CH_SENT;
		}
		pp = &c->next;
	}
	pthread_mutex_unlock(&relay.mu);
	while (!done)
		if (redisBufferWrite(rc, &done) != REDIS_OK)
			return -1;
	return 0;
}

/* After a lost connection every channel is subscribed again, and its
 * streams catch up once that is confirmed. */
static void
connection_lost(void)
{
	pthread_mutex_lock(&relay.mu);
	for (struct channel *c = relay.channels; c; c = c->next) {
		if (c->state != CH_NEW)
			c->resubscribe = 1;
		c->state = CH_NEW;
	}
	pthread_mutex_unlock(&relay.mu);
}

static int
read_replies(redisContext *rc)
{
	void *r = NULL;

	if (redisBufferRead(rc) != REDIS_OK)
		return -1;
	for (;;) {
		if (redisGetReplyFromReader(rc, &r) != REDIS_OK)
			return -1;
		if (!r)
			return 0;
		on_reply(r);
		freeReplyObject(r);
	}
}

static int
dispatcher_stopping(void)
{
	int stop;

	pthread_mutex_lock(&relay.mu);
	stop = relay.stop;
	pthread_mutex_unlock(&relay.mu);
	return stop;
}

/* Named, so CLIENT LIST shows which connections are relay subscribers
 * (one per relay process). */
static redisContext *
subscriber_connect(struct kg_err *err)
{
	redisContext *rc = kg_redis_connect(err);
	redisReply *r = rc ? redisCommand(rc, "CLIENT SETNAME kg-events-relay")
			   : NULL;

	if (rc && !r) {
		redisFree(rc);
		rc = NULL;
	}
	freeReplyObject(r);
	return rc;
}

static void *
dispatcher_main(void *arg)
{
	redisContext *rc = NULL;
	struct kg_err err = {0};

	(void)arg;
	kg_log_set_request_id("dispatcher");
	while (!dispatcher_stopping()) {
		struct pollfd pf[2] = {{.fd = relay.wake_fd, .events = POLLIN},
				       {.fd = -1, .events = POLLIN}};

		if (!rc && (rc = subscriber_connect(&err)) != NULL)
			KG_INFO("subscriber connected to redis");
		if (rc && sync_subscriptions(rc) < 0)
			goto lost;
		pf[1].fd = rc ? rc->fd : -1;
		if (poll(pf, 2, rc ? -1 : 500) < 0 && errno != EINTR)
			KG_WARN("poll: %s", strerror(errno));
		if (pf[0].revents & POLLIN)
			drain(relay.wake_fd);
		if (!rc || !(pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (read_replies(rc) == 0)
			continue;
lost:
		KG_WARN("subscriber lost redis (%s), reconnecting",
			rc->errstr[0] ? rc->errstr : "closed");
		redisFree(rc);
		rc = NULL;
		connection_lost();
	}
	if (rc)
		redisFree(rc);
	return NULL;
}

/* The dispatcher starts with the first stream, so a process that never
 * serves one (or fails to start) has no thread to clean up. */
static int
dispatcher_start(struct kg_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&relay.mu);
	if (!relay.started) {
		relay.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (relay.wake_fd < 0 ||
		    pthread_create(&relay.thread, NULL, dispatcher_main,
				   NULL) != 0) {
			if (relay.wake_fd >= 0)
				close(relay.wake_fd);
			relay.wake_fd = -1;
			rc = kg_err_set(err, 503, "unavailable",
					"cannot start the event relay");
		} else {
			relay.started = 1;
		}
	}
	pthread_mutex_unlock(&relay.mu);
	return rc;
}

void
kg_relay_stop(void)
{
	struct channel *c;

	pthread_mutex_lock(&relay.mu);
	relay.stop = 1;
	pthread_mutex_unlock(&relay.mu);
	if (!relay.started)
		return;
	wake(relay.wake_fd);
	pthread_join(relay.thread, NULL);
	close(relay.wake_fd);
	while ((c = relay.channels) != NULL) {
		relay.channels = c->next;
		free(c);
	}
}

/*
 * Join the batch's channel and wait until Redis confirmed the
 * subscription: only then may the stream read the snapshot or history.
 */
static int
stream_register(struct stream *s, const char *batch_id,
		struct kg_err *err)
{
	char name[64];
	struct timespec until;
	long long ms = kg_config_int("redis", "timeout_ms");
	int rc = 0;

	if (dispatcher_start(err) < 0)
		return -1;
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0)
		return kg_err_set(err, 503, "unavailable", "too many streams");
	kg_event_channel(batch_id, name);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&relay.mu);
	s->chan = find_channel(name);
	if (!s->chan) {
		s->chan = calloc(1, sizeof(*s->chan));
		if (!s->chan) {
			pthread_mutex_unlock(&relay.mu);
			return kg_err_set(err, 503, "unavailable",
					  "out of memory");
		}
		snprintf(s->chan->name, sizeof(s->chan->name), "%s", name);
		s->chan->next = relay.channels;
		relay.channels = s->chan;
	}
	s->chan->refs++;
	s->next = s->chan->streams;
	s->chan->streams = s;
	wake(relay.wake_fd);
	while (s->chan->state != CH_ACTIVE && rc == 0 && !kg_app_stopping())
		rc = pthread_cond_timedwait(&relay.active, &relay.mu, &until);
	if (s->chan->state != CH_ACTIVE)
		rc = kg_err_set(err, 503, "unavailable",
				"live status is unavailable (redis)");
	pthread_mutex_unlock(&relay.mu);
	return rc;
}

static void
stream_unregister(struct stream *s)
{
	if (s->chan) {
		pthread_mutex_lock(&relay.mu);
		for (struct stream **pp = &s->chan->streams; *pp;
		     pp = &(*pp)->next) {
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		}
		while (s->qlen > 0)
			msg_unref(s->queue[--s->qlen]);
		if (--s->chan->refs == 0)
			wake(relay.wake_fd);
		pthread_mutex_unlock(&relay.mu);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
}

/* ---- one stream -------------------------------------------------------- */

struct sse {
	struct kg_req *req;
	const char *batch_id;
	struct stream st;
	struct kg_buf out;		/* written and flushed by sse_flush */
	long long last;			/* highest seq sent, -1 before any */
	struct relay_msg *pending[PENDING_MAX];	/* sorted by seq */
	int npending;
	long long end_at;		/* ms: close then (0 = not ending) */
	long long gap_since;		/* ms: waiting for a missing seq */
	long long stop_at;		/* ms: [events] max_stream_seconds */
	struct kg_stream_guard guard;	/* limits + session re-check */
	int64_t began_us;		/* kg_relay_stream was called */
};

/* One SSE event; data lines split at newlines so no input can end the
 * event early or inject fields. */
static void
sse_event(struct sse *x, long long id, const char *type, const char *data)
{
	if (id >= 0)
		kg_buf_printf(&x->out, "id: %lld\n", id);
	kg_buf_printf(&x->out, "event: %s\n", type);
	while (*data) {
		size_t n = strcspn(data, "\r\n");

		kg_buf_puts(&x->out, "data: ");
		kg_buf_append(&x->out, data, n);
		kg_buf_puts(&x->out, "\n");
		data += n;
		data += strspn(data, "\r\n");
	}
	kg_buf_puts(&x->out, "\n");
}

static int
is_final(const char *status)
{
	return !strcmp(status, "COMPLETED") || !strcmp(status, "PARTIAL");
}

/* The batch is finished: close after the grace period, unless more
 * events (a retry) come in the meantime. */
static void
note_state(struct sse *x, int final)
{
	if (final && !x->end_at)
		x->end_at = kg_clock_ms() +
			    kg_config_int("events", "end_grace") * 1000;
	else if (!final)
		x->end_at = 0;
}

static void
send_msg(struct sse *x, long long seq, const char *type, const char *data)
{
	sse_event(x, seq, type, data);
	x->last = seq;
	note_state(x, !strcmp(type, "batch.completed"));
}

/*
 * The batch as the database has it now (kg_snapshot: one statement, so
 * event_seq and the project rows agree).  404 when the batch is gone or
 * not the user's.
 */
static int
snapshot_read(struct sse *x, struct kg_snapshot *snap, struct kg_err *err)
{
	struct kg_user *u = &x->req->user;
	int rc;

	kg_app_lock();
	rc = kg_snapshot_read(x->batch_id, u, snap, err);
	kg_app_unlock();
	return rc;
}

/* The snapshot event, its id = the seq it was read at.  The JSON is
 * only written here (a catch-up that the history can replay never pays
 * for it), straight into the stream's buffer: kg_jsonw escapes every
 * control character, so it is one data: line as it is. */
static int
send_snapshot(struct sse *x, const struct kg_snapshot *snap, int64_t t0,
	      struct kg_err *err)
{
	double read_ms = kg_clock_ms_since(t0);
	size_t before = x->out.len;

	if (kg_buf_printf(&x->out, "id: %lld\nevent: snapshot\ndata: ",
			  snap->seq) < 0 ||
	    kg_snapshot_json(snap, &x->out) < 0 ||
	    kg_buf_puts(&x->out, "\n\n") < 0) {
		x->out.len = before;
		if (x->out.data)
			x->out.data[before] = '\0';
		return kg_err_set(err, 503, "unavailable", "out of memory");
	}
	x->last = snap->seq;
	note_state(x, is_final(snap->status));
	KG_INFO("snapshot of batch %s at seq %lld: %d projects, %zu bytes, "
		"%.2f ms (read %.2f ms), %.2f ms into the stream", x->batch_id,
		snap->seq, PQntuples(snap->res) - 1, x->out.len - before,
		kg_clock_ms_since(t0), read_ms, kg_clock_ms_since(x->began_us));
	return 0;
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct relay_msg *x = *(struct relay_msg *const *)a;
	const struct relay_msg *y = *(struct relay_msg *const *)b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The batch's history stream, as messages sorted by seq (publishers
 * may append slightly out of order).  -1 when Redis is unavailable. */
static int
read_history(struct sse *x, struct relay_msg ***out, size_t *n)
{
	char key[64];
	struct kg_err err = {0};
	redisReply *r;
	struct relay_msg **v = NULL;
	size_t cnt = 0;

	kg_event_stream_key(x->batch_id, key);
	kg_app_lock();
	r = kg_redis_cmd(&err, "XRANGE %s - + COUNT %d", key, HISTORY_READ);
	kg_app_unlock();
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return -1;
	}
	v = calloc(r->elements + 1, sizeof(*v));
	for (size_t i = 0; v && i < r->elements; i++) {
		redisReply *e = r->element[i], *f;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		f = e->element[1];
		for (size_t j = 0; j + 1 < f->elements; j += 2)
			if (f->element[j]->type == REDIS_REPLY_STRING &&
			    !strcmp(f->element[j]->str, "data") &&
			    (v[cnt] = msg_new(f->element[j + 1]->str,
					      f->element[j + 1]->len)))
				cnt++;
	}
	freeReplyObject(r);
	if (!v)
		return -1;
	qsort(v, cnt, sizeof(*v), cmp_seq);
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * Bring the client from seq `from` (-1: nothing yet) to now.
 *
 * E = batches.event_seq, read with the snapshot.  Every event up to E is
 * committed; if the history holds every seq from+1 .. E (and on, as far
 * as it runs without a hole) those are replayed.  Otherwise - the id is
 * older than the history, the history has a hole (published while Redis
 * was down, or lost with a Redis restart), or the id is from the future
 * - the client gets the snapshot, whose id is E.  Either way later
 * events come live (the stream subscribed before this ran).
 */
static int
catch_up(struct sse *x, long long from, struct kg_err *err)
{
	int64_t t0 = kg_clock_us();
	struct kg_snapshot snap;
	struct relay_msg **hist = NULL;
	size_t nhist = 0, i = 0;
	long long e, next = from + 1;
	int rc = 0;

	if (snapshot_read(x, &snap, err) < 0)
		return -1;
	e = snap.seq;
	if (from >= 0 && from <= e && (from == e ||
	    read_history(x, &hist, &nhist) == 0)) {
		if (x->last < from)
			x->last = from;
		while (i < nhist && hist[i]->seq < next)
			i++;
		for (size_t j = i; j < nhist && hist[j]->seq <= next; j++)
			if (hist[j]->seq == next)
				next++;
		if (next > e) {
			for (; i < nhist && hist[i]->seq < next; i++)
				if (hist[i]->seq > x->last)
					send_msg(x, hist[i]->seq,
						 hist[i]->type,
						 hist[i]->data);
			goto out;
		}
	}
	rc = send_snapshot(x, &snap, t0, err);
out:
	for (size_t j = 0; j < nhist; j++)
		msg_unref(hist[j]);
	free(hist);
	kg_snapshot_free(&snap);
	return rc;
}

/* Live events in seq order.  A hole is waited for gap_wait_ms (the
 * other publisher is probably a moment behind), then filled by
 * catch_up() from the history or replaced by a snapshot. */
static int
deliver(struct sse *x, struct kg_err *err)
{
	int n = 0;

	for (;;) {
		while (n < x->npending && x->pending[n]->seq <= x->last)
			msg_unref(x->pending[n++]);
		if (n < x->npending && x->pending[n]->seq == x->last + 1) {
			send_msg(x, x->pending[n]->seq, x->pending[n]->type,
				 x->pending[n]->data);
			msg_unref(x->pending[n++]);
			continue;
		}
		break;
	}
	memmove(x->pending, x->pending + n,
		(size_t)(x->npending - n) * sizeof(*x->pending));
	x->npending -= n;
	if (!x->npending) {
		x->gap_since = 0;
		return 0;
	}
	if (!x->gap_since)
		x->gap_since = kg_clock_ms();
	if (kg_clock_ms() - x->gap_since < kg_config_int("events", "gap_wait_ms"))
		return 0;
	x->gap_since = 0;
	KG_INFO("seq gap after %lld, catching up", x->last);
	if (catch_up(x, x->last, err) < 0)
		return -1;
	return deliver(x, err);
}

static void
add_pending(struct sse *x, struct relay_msg *m)
{
	int i = x->npending;

	if (i == PENDING_MAX) {
		msg_unref(m);
		return;
	}
	while (i > 0 && x->pending[i - 1]->seq > m->seq) {
		x->pending[i] = x->pending[i - 1];
		i--;
	}
	x->pending[i] = m;
	x->npending++;
}

/* Move what the dispatcher queued into the ordered pending list; 1 if
 * the stream must catch up (queue overflow, Redis resubscribed). */
static int
take_queue(struct sse *x)
{
	struct stream *s = &x->st;
	int resync;

	drain(s->wake_fd);
	pthread_mutex_lock(&relay.mu);
	for (int i = 0; i < s->qlen; i++)
		add_pending(x, s->queue[i]);
	s->qlen = 0;
	resync = s->overflow || s->resync ||
		 x->npending == PENDING_MAX;
	s->overflow = s->resync = 0;
	pthread_mutex_unlock(&relay.mu);
	return resync;
}

static int
sse_flush(struct sse *x)
{
	int rc = 0;

	if (x->out.len) {
		rc = kg_resp_write(x->req, x->out.data, x->out.len);
		kg_buf_reset(&x->out);
	}
	/* A snapshot's worth is not kept for the stream's life (a thousand
	 * streams of a big batch would hold a thousand of them). */
	if (x->out.cap > OUT_KEEP)
		kg_buf_free(&x->out);
	if (rc == 0)
		rc = kg_resp_flush(x->req);
	return rc;
}

/* The web server closed the FastCGI connection (client gone) or sent
 * FCGI_ABORT_REQUEST: either way the socket becomes readable. */
static int
client_gone(short revents)
{
	return revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL);
}

static long long
min_ll(long long a, long long b)
{
	return (b > 0 && b < a) ? b : a;
}

static const char *
stream_loop(struct sse *x, time_t expires)
{
	long long hb = kg_config_int("events", "heartbeat") * 1000;
	long long next_hb = kg_clock_ms() + hb, next_check = next_hb;
	struct kg_err err = {0};

	for (;;) {
		struct pollfd pf[2] = {{.fd = x->st.wake_fd, .events = POLLIN},
				       {.fd = -1}};
		long long now = kg_clock_ms(), until = next_hb;
		long long gap = x->gap_since ? x->gap_since +
			kg_config_int("events", "gap_wait_ms") : 0;

		pf[1].fd = kg_req_watch_fd(x->req, &pf[1].events);

		if (kg_app_stopping())
			return "shutdown";
		if (time(NULL) >= expires) {
			sse_event(x, -1, "end", "{\"reason\":\"token_expired\"}");
			sse_flush(x);
			return "token expired";
		}
		/* Plain EOF, no "end": EventSource reconnects with
		 * Last-Event-ID (CGI and mod_fcgid hosts limit a request's
		 * life). */
		if (x->stop_at && now >= x->stop_at)
			return "max_stream_seconds reached";
		if (x->end_at && now >= x->end_at) {
			sse_event(x, -1, "end",
				  "{\"reason\":\"batch_completed\"}");
			sse_flush(x);
			return "batch completed";
		}
		/* Every heartbeat: is the session (and the role) still good? */
		if (now >= next_check) {
			next_check = now + hb;
			if (kg_streams_alive(x->req, &x->guard,
					     x->batch_id) < 0) {
				sse_event(x, -1, "end",
					  "{\"reason\":\"session_ended\"}");
				sse_flush(x);
				return "session ended";
			}
		}
		until = min_ll(min_ll(min_ll(until, x->end_at), gap), x->stop_at);
		until = min_ll(until, next_check);
		until = min_ll(until, now + (expires - time(NULL)) * 1000);
		if (poll(pf, 2, (int)(until > now ? until - now : 0)) < 0 &&
		    errno != EINTR)
			return "poll failed";
		if (client_gone(pf[1].revents))
			return "client gone";
		if (take_queue(x)) {
			KG_INFO("resync after seq %lld (redis back or queue "
				"full)", x->last);
			if (catch_up(x, x->last, &err) < 0)
				return "catch-up failed";
		}
		if (deliver(x, &err) < 0)
			return "catch-up failed";
		if (!x->out.len && kg_clock_ms() >= next_hb)
			kg_buf_puts(&x->out, ": ping\n\n");
		if (x->out.len) {
			if (sse_flush(x) < 0)
				return "client gone (write failed)";
			next_hb = kg_clock_ms() + hb;
		}
	}
}

static void
sse_free(struct sse *x)
{
	kg_streams_leave(&x->guard);
	stream_unregister(&x->st);
	for (int i = 0; i < x->npending; i++)
		msg_unref(x->pending[i]);
	kg_buf_free(&x->out);
	free(x);
}

int
kg_relay_stream(struct kg_req *req, const char *batch_id, long long last_id)
{
	struct timeval wt = {.tv_sec = WRITE_TIMEOUT};
	struct sse *x = calloc(1, sizeof(*x));
	const char *why;

	if (!x)
		return kg_req_fail(req, 503, "unavailable", "out of memory");
	x->began_us = kg_clock_us();
	x->req = req;
	x->batch_id = batch_id;
	x->st.wake_fd = -1;
	x->last = -1;
	if (kg_config_int("events", "max_stream_seconds") > 0)
		x->stop_at = kg_clock_ms() +
			     kg_config_int("events", "max_stream_seconds") *
				     1000;
	kg_buf_printf(&x->out, "retry: %d\n\n", RETRY_MS);
	if (kg_streams_enter(req, &x->guard) < 0 ||
	    stream_register(&x->st, x->batch_id, &req->err) < 0 ||
	    catch_up(x, last_id, &req->err) < 0) {
		sse_free(x);
		return -1;
	}
	kg_resp_header(req, "Cache-Control", "no-cache");
	kg_resp_header(req, "X-Accel-Buffering", "no");
	kg_resp_start(req, 200, "text/event-stream; charset=utf-8");
	setsockopt(req->fcgi.ipcFd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof(wt));
	why = sse_flush(x) < 0 ? "client gone (write failed)"
			       : stream_loop(x, req->auth_expires);
	KG_INFO("stream of batch %s ended after seq %lld: %s", x->batch_id,
		x->last, why);
	sse_free(x);
	return 0;
}
