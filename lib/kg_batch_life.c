/*
 * The life of a batch after its upload (issue 17): stop, rename, cap,
 * delete - a batch or one of its cards.  The contracts are in kg_batch.h;
 * what happens when two of these meet is in README "How concurrent
 * changes of a batch behave".
 *
 * Lock order: every writer of a batch's projects locks the batch row
 * first (kg_event_next_seq or SELECT ... FOR UPDATE), then the projects,
 * like the worker's steps (worker/wk_gen.c), so a stop and a project
 * finishing at the same moment are serialised and never deadlock.
 */
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_export.h"
#include "kg_log.h"
#include "kg_redis.h"
#include "kg_utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STOP_HINT_FMT "kg:stop:%s"
#define STOP_HINT_TTL_MS "3600000"
#define NAME_MAX_CHARS 300
#define CAP_MAX 999999.0	/* numeric(12,6) */

/* What a stop moved back to PENDING, for the events after COMMIT. */
struct stop {
	const char *batch_id;
	PGresult *ids;		/* projects moved to PENDING */
	long long last_seq;	/* their events, then the batch's */
	const char *reason;	/* message of the batch.stopped event */
};

static void
stop_free(struct stop *s)
{
	PQclear(s->ids);
	s->ids = NULL;
}

/*
 * Inside a transaction that holds the batch row: QUEUED and GENERATING
 * projects go back to PENDING, the batch to VALIDATED ("Gotowy do
 * generowania").  The worker holding a GENERATING one learns it before
 * its next AI call (worker/wk_gen.c): its fenced writes ("WHERE status =
 * 'GENERATING' AND attempts = <its own>") match nothing any more, and
 * a later claim of the same project increments attempts again.
 */
static int
stop_tx(struct stop *s, struct kg_err *err)
{
	char n[16];
	PGresult *res;

	stop_free(s);
	s->ids = KG_DB_QUERY(err,
		"UPDATE projects SET status = 'PENDING', progress = 0, "
		"queued_at = NULL "
		"WHERE batch_id = $1 AND status IN ('QUEUED', 'GENERATING') "
		"RETURNING id", s->batch_id);
	if (!s->ids)
		return -1;
	snprintf(n, sizeof(n), "%d", PQntuples(s->ids) + 1);
	res = KG_DB_QUERY(err,
		"UPDATE batches SET status = CASE WHEN status = 'GENERATING' "
		"THEN 'VALIDATED' ELSE status END, "
		"completed_at = CASE WHEN status = 'GENERATING' THEN NULL "
		"ELSE completed_at END, event_seq = event_seq + $2::int "
		"WHERE id = $1 RETURNING event_seq", s->batch_id, n);
	if (!res)
		return -1;
	s->last_seq = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* After COMMIT: the hint for the workers, then the events.  Failures
 * are logged only: PostgreSQL already holds the truth (the workers
 * check it before every AI call; the relay sends a snapshot). */
static void
stop_publish(struct stop *s)
{
	int n = PQntuples(s->ids);
	long long first = s->last_seq - n;
	struct kg_err err = {0};
	redisReply *r;
	char key[64];

	snprintf(key, sizeof(key), STOP_HINT_FMT, s->batch_id);
	r = kg_redis_cmd(&err, "SET %s %lld PX %s", key, (long long)time(NULL),
			 STOP_HINT_TTL_MS);
	if (r)
		freeReplyObject(r);
	else
		KG_WARN("stop hint of batch %s not set: %s", s->batch_id,
			err.message);
	for (int i = 0; i < n; i++) {
		struct kg_event ev = {"project.status_changed", s->batch_id,
				      PQgetvalue(s->ids, i, 0), "PENDING", 0,
				      -1, s->reason};

		if (kg_event_publish(&ev, first + i, &err) < 0)
			KG_WARN("event not published: %s", err.message);
	}
	{
		struct kg_event ev = {"batch.stopped", s->batch_id, NULL,
				      "VALIDATED", 0, -1, s->reason};

		if (kg_event_publish(&ev, s->last_seq, &err) < 0)
			KG_WARN("event not published: %s", err.message);
	}
}

int
kg_batch_stop_hinted(const char *batch_id)
{
	struct kg_err err = {0};
	redisReply *r;
	char key[64];
	int hinted;

	snprintf(key, sizeof(key), STOP_HINT_FMT, batch_id);
	r = kg_redis_cmd(&err, "EXISTS %s", key);
	if (!r)
		return 0;
	hinted = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
	freeReplyObject(r);
	return hinted;
}

/* Locks the user's batch row (kg_batch_visible): 1 found, 0 not (404
 * for the caller), -1 on a database error. */
static int
lock_batch(const char *id, const struct kg_user *u, struct kg_err *err)
{
	if (kg_batch_visible(id, u, 1, err) == 0)
		return 1;
	if (err->status != 404)
		return -1;
	*err = (struct kg_err){0};
	return 0;
}

/* ------------------------------------------------------------------ */
/* POST /api/batches/{id}/cancel */

struct cancel {
	struct stop stop;
	const struct kg_user *u;
	int found;
};

static int
cancel_tx(void *arg, struct kg_err *err)
{
	struct cancel *c = arg;

	c->found = lock_batch(c->stop.batch_id, c->u, err);
	if (c->found <= 0)
		return c->found;
	return stop_tx(&c->stop, err);
}

int
kg_batch_cancel(const char *id, const struct kg_user *u, int *stopped,
		struct kg_err *err)
{
	struct cancel c = {{id, NULL, 0, "zatrzymano na życzenie"}, u, 0};
	int rc = -1;

	if (kg_db_tx(err, cancel_tx, &c) < 0)
		goto out;
	if (!c.found) {
		kg_err_set(err, 404, "not_found", "no such batch");
		goto out;
	}
	*stopped = PQntuples(c.stop.ids);
	if (*stopped)
		stop_publish(&c.stop);
	KG_INFO("batch %s stopped: %d projects back to PENDING", id, *stopped);
	rc = 0;
out:
	stop_free(&c.stop);
	return rc;
}

/* ------------------------------------------------------------------ */
/* PATCH /api/batches/{id} */

/* The body: {"name"?: text, "cost_cap"?: number >= 0 | null}. */
static int
parse_update(const cJSON *body, const char **name, const char **cap,
	     char capbuf[32], struct kg_err *err)
{
	const cJSON *it;

	*name = *cap = NULL;
	for (it = body->child; it; it = it->next) {
		if (!strcmp(it->string, "name")) {
			if (!cJSON_IsString(it) ||
			    !kg_batch_name_valid(it->valuestring))
				return kg_err_set(err, 400, "bad_request",
					"name must be a non-empty text of at "
					"most %d characters", NAME_MAX_CHARS);
			*name = it->valuestring;
		} else if (!strcmp(it->string, "cost_cap")) {
			if (cJSON_IsNull(it))
				continue;
			if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
			    it->valuedouble < 0 || it->valuedouble > CAP_MAX)
				return kg_err_set(err, 400, "bad_request",
					"cost_cap must be a number from 0 to "
					"%.0f (USD), or null for no cap",
					CAP_MAX);
			snprintf(capbuf, 32, "%.6f", it->valuedouble);
			*cap = capbuf;
		} else {
			return kg_err_set(err, 400, "bad_request",
					  "unknown field \"%.40s\"", it->string);
		}
	}
	return 0;
}

int
kg_batch_name_valid(const char *s)
{
	size_t len = strlen(s);
	int blank = 1;

	if (kg_utf8_check(s, len) != len)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p != ' ')
			blank = 0;
	}
	return !blank && kg_utf8_chars(s) <= NAME_MAX_CHARS;
}

struct update {
	struct stop stop;
	const struct kg_user *u;
	const char *name, *cap;
	int set_cap, found, capped;
};

static int
update_tx(void *arg, struct kg_err *err)
{
	struct update *a = arg;
	PGresult *res;

	a->capped = 0;
	stop_free(&a->stop);	/* a retried transaction starts afresh */
	a->found = lock_batch(a->stop.batch_id, a->u, err);
	if (a->found <= 0)
		return a->found;
	/* coalesce: a field left out keeps its value; cost_cap: null is a
	 * value ("no cap"), so it has its own flag. */
	res = KG_DB_QUERY(err,
		"UPDATE batches SET name = coalesce($2, name), "
		"cost_cap = CASE WHEN $3::boolean THEN $4::numeric "
		"ELSE cost_cap END WHERE id = $1 "
		"RETURNING cost_cap IS NOT NULL AND cost_cap <= "
		"(SELECT coalesce(sum(cost), 0) FROM ai_calls "
		"WHERE batch_id = $1)",
		a->stop.batch_id, a->name, a->set_cap ? "t" : "f", a->cap);
	if (!res)
		return -1;
	a->capped = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	/* A cap at or below what is spent stops the batch at once. */
	return a->capped ? stop_tx(&a->stop, err) : 0;
}

cJSON *
kg_batch_update(const char *id, const struct kg_user *u, const cJSON *body,
		int *stopped, struct kg_err *err)
{
	struct update a = {{id, NULL, 0, "limit kosztów osiągnięty"}, u,
			   NULL, NULL, 0, 0, 0};
	char capbuf[32];
	cJSON *o = NULL;

	*stopped = 0;
	if (!cJSON_IsObject(body))
		return kg_err_set(err, 400, "bad_request",
				  "send a JSON object"), NULL;
	if (parse_update(body, &a.name, &a.cap, capbuf, err) < 0)
		return NULL;
	a.set_cap = cJSON_HasObjectItem(body, "cost_cap");
	if (kg_db_tx(err, update_tx, &a) < 0)
		goto out;
	if (!a.found) {
		kg_err_set(err, 404, "not_found", "no such batch");
		goto out;
	}
	if (a.stop.ids) {
		*stopped = PQntuples(a.stop.ids);
		if (*stopped)
			stop_publish(&a.stop);
	}
	o = kg_batch_get(id, u, 0, err);
out:
	stop_free(&a.stop);
	return o;
}

/* ------------------------------------------------------------------ */
/* DELETE /api/batches/{id}, DELETE /api/projects/{id} */

struct del {
	const char *batch_id;	/* known after find */
	const char *project_id;	/* NULL: the whole batch */
	const struct kg_user *u;
	char batch[37];
	int found, busy, batch_gone;
	long long seq;
};

/*
 * The target and whether it is busy (a project QUEUED or GENERATING):
 * scoped to the user, so another user's batch or card is 404.
 */
static int
find_target(struct del *d, struct kg_err *err)
{
	PGresult *res;

	if (d->project_id)
		res = KG_DB_QUERY(err,
			"SELECT b.id, p.status IN ('QUEUED', 'GENERATING') "
			"FROM projects p JOIN batches b ON b.id = p.batch_id "
			"WHERE p.id = $1 AND " KG_BATCH_VISIBLE,
			d->project_id, d->u->id, kg_auth_admin_param(d->u));
	else
		res = KG_DB_QUERY(err,
			"SELECT b.id, EXISTS (SELECT 1 FROM projects p "
			"WHERE p.batch_id = b.id "
			"AND p.status IN ('QUEUED', 'GENERATING')) "
			"FROM batches b WHERE b.id = $1 AND " KG_BATCH_VISIBLE,
			d->batch_id, d->u->id, kg_auth_admin_param(d->u));
	if (!res)
		return -1;
	d->found = PQntuples(res) == 1;
	if (d->found) {
		snprintf(d->batch, sizeof(d->batch), "%s",
			 PQgetvalue(res, 0, 0));
		d->busy = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return 0;
}

static int
delete_project_rows(struct del *d, struct kg_err *err)
{
	PGresult *res;

	if (kg_db_exec(err, "DELETE FROM projects WHERE id = $1", 1,
		       (const char *const[]){d->project_id}) < 0)
		return -1;
	/* row_count stays the number of cards; the last one takes the
	 * batch with it (a batch has at least one row). */
	res = KG_DB_QUERY(err,
		"UPDATE batches SET row_count = row_count - 1, "
		"event_seq = event_seq + 1 WHERE id = $1 AND row_count > 1 "
		"RETURNING event_seq", d->batch);
	if (!res)
		return -1;
	d->batch_gone = PQntuples(res) == 0;
	if (!d->batch_gone)
		d->seq = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (d->batch_gone)
		return kg_db_exec(err, "DELETE FROM batches WHERE id = $1", 1,
				  (const char *const[]){d->batch});
	return 0;
}

static int
delete_tx(void *arg, struct kg_err *err)
{
	struct del *d = arg;

	/* Found, then locked (the batch row: no generate, no worker claim
	 * slips in), then read again under the lock. */
	if (find_target(d, err) < 0)
		return -1;
	if (!d->found)
		return 0;
	if (lock_batch(d->batch, d->u, err) < 0 || find_target(d, err) < 0)
		return -1;
	if (!d->found || d->busy)
		return 0;
	if (d->project_id)
		return delete_project_rows(d, err);
	d->batch_gone = 1;
	/* Cascades to projects, sections, revisions, regeneration
	 * requests and export_history; ai_calls stay with their batch
	 * and project set to NULL (sql/005_batch_lifecycle.sql). */
	return kg_db_exec(err, "DELETE FROM batches WHERE id = $1", 1,
			  (const char *const[]){d->batch});
}

static int
busy_or_missing(struct del *d, struct kg_err *err)
{
	const char *what = d->project_id ? "project" : "batch";

	if (!d->found)
		return kg_err_set(err, 404, "not_found", "no such %s", what);
	if (d->busy)
		return kg_err_set(err, 409, "batch_busy",
				  "the %s is being generated: stop it first "
				  "(POST /api/batches/%s/cancel)", what,
				  d->batch);
	return 0;
}

static void
after_delete(struct del *d)
{
	struct kg_err err = {0};
	redisReply *r;
	char key[64];

	if (!d->batch_gone) {
		struct kg_event ev = {"project.deleted", d->batch,
				      d->project_id, "DELETED", 0, -1, NULL};

		if (kg_event_publish(&ev, d->seq, &err) < 0)
			KG_WARN("event not published: %s", err.message);
		return;
	}
	/* The batch's event history and stop hint would only expire. */
	kg_event_stream_key(d->batch, key);
	r = kg_redis_cmd(&err, "DEL %s kg:stop:%s", key, d->batch);
	if (r)
		freeReplyObject(r);
}

int
kg_batch_delete(const char *batch_id, const char *project_id,
		const struct kg_user *u, int *batch_gone, struct kg_err *err)
{
	struct del d = {batch_id, project_id, u, "", 0, 0, 0, 0};
	int files;

	/* Files first, rows after: a storage failure (503) leaves every
	 * row in place and the DELETE can simply be repeated. */
	if (find_target(&d, err) < 0 || busy_or_missing(&d, err) < 0)
		return -1;
	files = kg_export_purge_target(d.batch, project_id, err);
	if (files < 0)
		return -1;
	if (kg_db_tx(err, delete_tx, &d) < 0 || busy_or_missing(&d, err) < 0)
		return -1;
	after_delete(&d);
	KG_INFO("%s %s deleted (%d stored files)", project_id ? "project"
							      : "batch",
		project_id ? project_id : d.batch, files);
	if (batch_gone)
		*batch_gone = d.batch_gone;
	return 0;
}

cJSON *
kg_batch_deleted_json(const char *what, const char *id, int batch_gone)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "deleted", what);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddBoolToObject(o, "batch_deleted", batch_gone);
	return o;
}
