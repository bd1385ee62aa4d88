/*
 * Section regeneration (issue 8): tasks of kg:queue:regenerate, pushed by
 * POST /api/projects/{id}/sections/{key}/regenerate (kg_project.h).
 *
 * A request is a regeneration_requests row (sql/004_regenerate.sql); the
 * task only carries it to a worker.  Per task:
 *
 *   take (our processing list) -> lease "regenerate_section:<project>"
 *   (one regeneration of a project at a time, across workers; a task of a
 *   project leased elsewhere, or running here, is deferred, never
 *   dropped) -> load the request row (gone: a duplicate, ack) and the
 *   card -> not COMPLETED, or the version moved on: give up at once, no
 *   AI call -> stage "regenerate" on the provider chain ([ai] providers,
 *   max_attempts, back-off, breaker, as the generation; every call an
 *   ai_calls row with stage 'regenerate') -> validate (kg_stage:
 *   {"sections": {key: text}}, Polish, word range) -> store with
 *   kg_project_store_regeneration: in one transaction the request row is
 *   deleted, the version checked and bumped, the section stored as AI
 *   text (not reviewed, revision note = the instruction, or "regenerated"
 *   without one), the quality recomputed, the event seq taken -> publish
 *   project.status_changed "regenerated" -> ack.
 *
 * Giving up (the user edited the card since asking: "edited meanwhile";
 * the project is no longer COMPLETED; every provider failed; the batch's
 * cost cap) deletes the request row and takes an event seq in one
 * transaction, then publishes project.status_changed with the project's
 * current status and score and the message "regeneration of <key> not
 * applied: <why>", and acks.  Nothing of the card changes.
 *
 * At least once, applied once: the row is deleted in the transaction
 * that stores the text, so a task delivered again (kill -9 after the
 * COMMIT, the reaper or reconciler pushing it a second time) finds no row
 * and is acknowledged without work.  Database unavailable while storing
 * or giving up: tried again every second under the lease.
 *
 * Its description (wk_regen_queue): one task per project at a time (a
 * task of a project regenerated here or leased elsewhere is deferred,
 * never dropped), the AI call on the core of wk_ai.c, and the
 * reconciler's look at regeneration_requests: requests older than
 * reconcile_grace whose task is neither queued nor leased, on two
 * passes in a row, are pushed again (FLUSHALL).
 */
#include "wk.h"

#include "kg_buf.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_log.h"
#include "kg_project.h"
#include "kg_ai.h"
#include "kg_queue.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_RETRY_MS 1000

/* A regeneration job: struct wk_job and the request. */
struct regen_job {
	struct wk_job j;
	char request_id[24];		/* "" = a task without a row */
	char key[48];
	char *instruction;
	int version;
	const struct kg_section_def *def;	/* into w->data */
	cJSON *input;
	char *input_json, *card, *current, *spec, *context;
	char *system, *prompt;
	char *text;			/* validated section text */
};

static struct regen_job *
regen(struct wk_job *j)
{
	return (struct regen_job *)j;
}

static void
regen_free(struct wk_job *j)
{
	struct regen_job *r = regen(j);

	free(r->instruction);
	cJSON_Delete(r->input);
	free(r->input_json);
	free(r->card);
	free(r->current);
	free(r->spec);
	free(r->context);
	free(r->system);
	free(r->prompt);
	free(r->text);
}

/* ------------------------------------------------------------------ */
/* Giving up                                                          */

struct giveup {
	struct regen_job *r;
	long long seq;
	char status[16];
	int score;
};

static int
giveup_tx(void *arg, struct kg_err *err)
{
	struct giveup *g = arg;
	PGresult *res;

	g->seq = kg_event_next_seq(g->r->j.t.batch_id, err);
	if (g->seq < 0)
		return -1;
	if (g->r->request_id[0] &&
	    kg_db_exec(err, "DELETE FROM regeneration_requests "
			    "WHERE id = $1::bigint", 1,
		       (const char *const[]){g->r->request_id}) < 0)
		return -1;
	res = KG_DB_QUERY(err,
		"SELECT status, coalesce(quality_score, -1) FROM projects "
		"WHERE id = $1", g->r->j.t.project_id);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(g->status, sizeof(g->status), "%s",
			 PQgetvalue(res, 0, 0));
		g->score = atoi(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

/* The request cannot be applied (j->error): forget it, say so, ack. */
static void
give_up(struct wk_job *j)
{
	struct regen_job *r = regen(j);
	struct giveup g = {r, -1, "", -1};
	struct kg_err err = {0};
	char msg[600];
	struct kg_event ev = {"project.status_changed", j->t.batch_id,
			      j->t.project_id, g.status, 100, -1, msg};

	if (kg_db_tx(&err, giveup_tx, &g) < 0) {
		if (err.status == 404 || !strcmp(err.code, "not_found")) {
			wk_job_end(j, 1);
			return;
		}
		KG_WARN("regeneration %s: giving up not recorded (retrying): %s",
			j->t.ident, err.message);
		wk_job_later(j, DB_RETRY_MS, give_up);
		return;
	}
	snprintf(msg, sizeof(msg), "regeneration of %s not applied: %.399s",
		 r->key, j->error);
	KG_INFO("project %s: %s", j->t.project_id, msg);
	if (g.status[0]) {
		ev.quality_score = g.score;
		ev.progress = strcmp(g.status, "COMPLETED") ? 0 : 100;
		if (kg_event_publish(&ev, g.seq, &err) < 0)
			KG_WARN("event not published: %s", err.message);
	}
	wk_job_end(j, 1);
}

/* ------------------------------------------------------------------ */
/* Storing                                                            */

static int
store_rc(struct regen_job *r, struct kg_project_saved *saved,
	 struct kg_err *err)
{
	const char *note = r->instruction[0] ? r->instruction : "regenerated";

	if (r->request_id[0])
		return kg_project_store_regeneration(
			r->request_id, r->j.t.project_id, r->key, r->text,
			r->j.provider, note, saved, err);
	return kg_project_store_ai_section(r->j.t.project_id, r->key, r->text,
					   r->j.provider, note, r->version,
					   saved, err);
}

static void
store(struct wk_job *j)
{
	struct regen_job *r = regen(j);
	struct kg_project_saved saved = {0};
	struct kg_err err = {0};

	if (store_rc(r, &saved, &err) == 0) {
		KG_INFO("project %s: section %s regenerated (version %d, "
			"quality %d)", j->t.project_id, r->key, saved.version,
			saved.quality_score);
		if (kg_project_publish(j->t.project_id, &saved, "regenerated",
				       &err) < 0)
			KG_WARN("event not published: %s", err.message);
		wk_job_end(j, 1);
	} else if (!strcmp(err.code, "already_done") || err.status == 404) {
		KG_INFO("regeneration %s: %s; nothing to do", j->t.ident,
			err.message);
		wk_job_end(j, 1);
	} else if (!strcmp(err.code, "version_conflict")) {
		snprintf(j->error, sizeof(j->error), "edited meanwhile");
		give_up(j);
	} else if (err.status == 409) {
		snprintf(j->error, sizeof(j->error), "%s", err.message);
		give_up(j);
	} else {
		KG_WARN("regeneration %s: storing failed (retrying): %s",
			j->t.ident, err.message);
		wk_job_later(j, DB_RETRY_MS, store);
	}
}

/* ------------------------------------------------------------------ */
/* The AI hooks (wk_ai.c)                                             */

static const char *
regen_stage(const struct wk_job *j)
{
	(void)j;
	return "regenerate";
}

/* The answer: {"sections": {key: text}} (kg_stage), the text kept. */
static int
regen_accept(struct wk_job *j, const char *text, char *why, size_t size)
{
	struct regen_job *r = regen(j);
	cJSON *out = NULL;
	const char *body;

	if (kg_stage_validate("regenerate", text, r->def, 1, &out, why,
			      size) < 0)
		return -1;
	body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(out, "sections"), r->key));
	free(r->text);
	r->text = strdup(body ? body : "");
	cJSON_Delete(out);
	return 0;
}

static const struct wk_ai_ops regen_ai = {
	.stage = regen_stage,
	.accept = regen_accept,
	.done = store,
	.fail = give_up,
	.dropped = give_up,
};

/* ------------------------------------------------------------------ */
/* Starting a task                                                    */

static void
request_of_task(struct regen_job *r, const cJSON *task)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(task, "version");
	const char *s = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(task, "instruction"));

	r->instruction = strdup(s ? s : "");
	r->version = cJSON_IsNumber(v) ? v->valueint : 0;
	s = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(task, "section"));
	snprintf(r->key, sizeof(r->key), "%s", s ? s : "");
}

/* The request row (the truth), or the task's own fields without one.
 * 1 found, 0 gone, -1 database error. */
static int
load_request(struct regen_job *r, const cJSON *task)
{
	struct kg_err err = {0};
	PGresult *res;
	const char *s;
	int found;

	s = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(task, "request_id"));
	if (!s || !*s) {
		request_of_task(r, task);
		return 1;
	}
	snprintf(r->request_id, sizeof(r->request_id), "%s", s);
	res = KG_DB_QUERY(&err,
		"SELECT key, instruction, requested_version "
		"FROM regeneration_requests WHERE id = $1::bigint "
		"AND project_id = $2::uuid", r->request_id, r->j.t.project_id);
	if (!res) {
		KG_WARN("regeneration %s: %s", r->j.t.ident, err.message);
		return -1;
	}
	found = PQntuples(res) == 1;
	if (found) {
		snprintf(r->key, sizeof(r->key), "%s", PQgetvalue(res, 0, 0));
		r->instruction = strdup(PQgetvalue(res, 0, 1));
		r->version = atoi(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return found;
}

/* Why the card cannot be regenerated (j->error), or 0. */
static int
card_refused(struct regen_job *r, PGresult *res)
{
	char *why = r->j.error;
	size_t n = sizeof(r->j.error);

	if (!PQntuples(res))
		snprintf(why, n, "the project is gone");
	else if (strcmp(PQgetvalue(res, 0, 0), "COMPLETED"))
		snprintf(why, n, "the project is %s", PQgetvalue(res, 0, 0));
	else if (r->version > 0 && atoi(PQgetvalue(res, 0, 1)) != r->version)
		snprintf(why, n, "edited meanwhile");
	else
		return 0;
	return 1;
}

/* The section's text and spec, the other sections as the card. */
static void
card_text(struct regen_job *r, PGresult *res)
{
	struct kg_buf card = {0};

	for (int i = 0; i < PQntuples(res); i++) {
		const char *body = PQgetisnull(res, i, 6) ? ""
							  : PQgetvalue(res, i, 6);
		struct kg_buf spec = {0};

		if (strcmp(PQgetvalue(res, i, 3), r->key)) {
			kg_buf_printf(&card, "## %s\n%s\n\n",
				      PQgetvalue(res, i, 4),
				      *body ? body : "(pusta)");
			continue;
		}
		r->current = strdup(body);
		kg_buf_printf(&spec, "%s, %d–%d słów: %s",
			      PQgetvalue(res, i, 4), r->def->min_words,
			      r->def->max_words, PQgetvalue(res, i, 5));
		r->spec = kg_buf_take(&spec);
	}
	r->card = kg_buf_take(&card);
	if (!r->card)
		r->card = strdup("");
	kg_buf_free(&card);
}

/*
 * The card: status and version (checked at once: no AI call for a
 * request that cannot be applied), the input row, the section's text and
 * the other sections as context.  0 ok, 1 give up (j->error), -1 error.
 */
static int
load_card(struct regen_job *r)
{
	struct kg_err err = {0};
	PGresult *res = KG_DB_QUERY(&err,
		"SELECT p.status, p.version, p.input::text, d.key, d.title, "
		"d.guidance, s.body FROM projects p CROSS JOIN section_defs d "
		"LEFT JOIN sections s ON s.project_id = p.id AND s.key = d.key "
		"WHERE p.id = $1::uuid ORDER BY d.position", r->j.t.project_id);
	int rc = 0;

	if (!res) {
		KG_WARN("regeneration %s: %s", r->j.t.ident, err.message);
		return -1;
	}
	rc = card_refused(r, res);
	if (!rc) {
		card_text(r, res);
		r->input_json = strdup(PQgetvalue(res, 0, 2));
		r->input = cJSON_Parse(r->input_json);
	}
	PQclear(res);
	return rc;
}

/* Render the prompts of stage "regenerate" (wk_data) and set up the
 * request.  0 ok, 1 give up (j->error), -1 out of memory. */
static int
prepare(struct regen_job *r)
{
	const struct wk_data *d = &r->j.w->data;
	const struct kg_prompt *p = &d->regenerate;
	const char *names[] = {"input_json", "section_key", "section_title",
			       "section_spec", "card", "current",
			       "instruction"};
	const char *values[] = {
		r->input_json, r->key, r->def->title,
		r->spec ? r->spec : r->def->title, r->card ? r->card : "",
		r->current ? r->current : "",
		r->instruction[0] ? r->instruction
				  : "brak; napisz sekcję na nowo, lepiej"};
	cJSON *ctx;

	if (!p->body) {
		snprintf(r->j.error, sizeof(r->j.error),
			 "no prompt for stage regenerate");
		return 1;
	}
	r->system = kg_stage_prompt_render(p->system, names, values, 7);
	r->prompt = kg_stage_prompt_render(p->body, names, values, 7);
	ctx = cJSON_CreateObject();
	cJSON_AddStringToObject(ctx, "current", r->current ? r->current : "");
	cJSON_AddStringToObject(ctx, "instruction", r->instruction);
	r->context = cJSON_PrintUnformatted(ctx);
	cJSON_Delete(ctx);
	if (!r->system || !r->prompt || !r->context)
		return -1;
	r->j.req = (struct kg_ai_request){
		.stage = "regenerate",
		.system = r->system,
		.prompt = r->prompt,
		.max_tokens = p->max_tokens,
		.input = r->input,
		.defs = r->def,
		.ndefs = 1,
		.tpls = d->tpls,
		.ntpls = d->ntpls,
		.previous = r->context,
	};
	return 0;
}

/* The lease of the project's regenerations: 1 ours, else the task was
 * deferred (0: leased elsewhere) or requeued (-1). */
static int
lease(struct wk *w, const char *task, const struct kg_queue_task *t)
{
	struct kg_err err = {0};
	int rc;

	/* One regeneration of a project at a time: the others wait. */
	rc = wk_job_find(w, &wk_regen_queue, t->ident)
		     ? 0
		     : kg_queue_lease(KG_QUEUE_REGENERATE, w->id, task,
				      kg_config_int("worker", "lease_ms"),
				      &err);
	if (rc == 0) {
		kg_queue_defer(KG_QUEUE_REGENERATE, w->id, task, &err);
		/* Its batch is skipped for a moment; the others go on. */
		wk_skip_add(&wk_state(w, &wk_regen_queue)->skip, t->batch_id,
			    kg_loop_now_ms() + WK_SKIP_MS);
	} else if (rc < 0) {
		kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task, &err);
	}
	return rc;
}

/* The request, the card, the prompt: 0 ready, 1 give up, 2 gone, -1
 * database error. */
static int
load(struct regen_job *r, const char *task)
{
	cJSON *o = cJSON_Parse(task);
	int rc = load_request(r, o);

	cJSON_Delete(o);
	if (rc <= 0)
		return rc == 0 ? 2 : -1;
	r->def = wk_data_def(&r->j.w->data, r->key);
	if (!r->def) {
		snprintf(r->j.error, sizeof(r->j.error), "unknown section");
		return 1;
	}
	rc = load_card(r);
	return rc == 0 ? prepare(r) : rc;
}

static enum wk_take
regen_start(struct wk *w, const char *task)
{
	struct kg_err err = {0};
	struct kg_queue_task t;
	struct regen_job *r;
	int rc;

	if (kg_queue_task_parse(task, &t) < 0 || strcmp(t.kind, KG_TASK_REGENERATE) ||
	    !t.project_id[0] || !t.batch_id[0]) {
		KG_WARN("dropping a malformed regenerate task: %.200s", task);
		kg_queue_ack(KG_QUEUE_REGENERATE, w->id, task, &err);
		return WK_DROP;
	}
	rc = lease(w, task, &t);
	if (rc <= 0)
		return rc == 0 ? WK_DEFER : WK_RETRY;
	r = (struct regen_job *)wk_job_new(w, &wk_regen_queue, task, &t,
					   sizeof(*r));
	if (!r) {
		kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task, &err);
		return WK_RETRY;
	}
	rc = load(r, task);
	if (rc == 2) {
		KG_INFO("regeneration request %s of %s is gone (done "
			"already); dropped", r->request_id, t.project_id);
		wk_job_end(&r->j, 1);
		return WK_DROP;
	}
	if (rc < 0) {
		kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task, &err);
		wk_job_end(&r->j, 0);
		return WK_RETRY;
	}
	if (rc > 0) {
		give_up(&r->j);
		return WK_DROP;
	}
	KG_INFO("project %s: regenerating section %s (request %s, "
		"instruction \"%.80s\")", t.project_id, r->key,
		r->request_id[0] ? r->request_id : "-", r->instruction);
	snprintf(r->j.what, sizeof(r->j.what), "regeneration %s/%s",
		 t.project_id, r->key);
	wk_ai_start(&r->j);
	return WK_STARTED;
}

/* The task the API would have pushed for a row of lost_sql. */
static char *
regen_task_of(PGresult *res, int i)
{
	return kg_project_regen_task(&(struct kg_regen_task){
		.request_id = PQgetvalue(res, i, 0),
		.project_id = PQgetvalue(res, i, 1),
		.batch_id = PQgetvalue(res, i, 2),
		.section = PQgetvalue(res, i, 3),
		.instruction = PQgetvalue(res, i, 4),
		.version = atoi(PQgetvalue(res, i, 5)),
		.user_id = PQgetvalue(res, i, 6),
	});
}

const struct wk_queue wk_regen_queue = {
	.id = WK_Q_REGENERATE,
	.queue = KG_QUEUE_REGENERATE,
	.woken = 1,
	.noun = "regeneration",
	.takes_per_turn = 8,
	.counts = 1,
	.needs_data = 1,
	.start = regen_start,
	.free_job = regen_free,
	.lock = "kg:lock:reconcile:regenerate",
	.lost_sql =
		"SELECT r.id, r.project_id, p.batch_id, r.key, r.instruction, "
		"r.requested_version, coalesce(r.requested_by::text, '') "
		"FROM regeneration_requests r JOIN projects p "
		"ON p.id = r.project_id "
		"WHERE r.created_at < now() - $1::int * interval '1 second' "
		"ORDER BY r.created_at LIMIT 1000",
	.lost_noun = "regeneration request(s)",
	.task_of = regen_task_of,
	.ai = &regen_ai,
};
