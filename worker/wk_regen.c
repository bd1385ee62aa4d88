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
 * Housekeeping of this queue (its own clocks, from wk_regen_poll): lease
 * renewal every lease_ms/3 (the heartbeat is wk_house's), the reaper
 * every lease_ms/2 (kg_queue_reap covers every queue of a dead worker)
 * plus our own stray tasks, and a reconciler every reconcile_interval:
 * requests older than reconcile_grace whose task is neither queued nor
 * leased, on two passes in a row, are pushed again (FLUSHALL).
 */
#include "wk.h"

#include "kg_breaker.h"
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_events.h"
#include "kg_failover.h"
#include "kg_log.h"
#include "kg_project.h"
#include "kg_provider.h"
#include "kg_queue.h"
#include "kg_redis.h"
#include "kg_stage.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAKES_PER_TURN 8
#define RETRY_PAUSE_MS 100
#define DB_RETRY_MS 1000

struct rjob {
	struct rjob *next;
	struct wk *w;
	char *task;
	struct kg_task t;
	char request_id[24];		/* "" = a task without a row */
	char key[48];
	char *instruction;
	int version;
	const struct kg_section_def *def;	/* into w->data */
	cJSON *input;
	char *input_json, *card, *current, *spec, *context;
	char *system, *prompt;
	int max_tokens;
	struct kg_ai_request req;
	struct kg_ai_call *call;
	uint64_t timer;
	struct kg_failover_cursor fo;	/* the walk along the providers */
	char provider[KG_FAILOVER_NAME];
	char *text;			/* validated section text */
	char why[400];			/* give-up reason */
};

static struct rjob *jobs;
static int64_t next_renew, next_reap, next_reconcile, take_after;
static struct wk_skip skip;		/* batches with a deferred task */
static char **suspects;			/* reconciler: request ids */
static size_t nsuspects;

/* ------------------------------------------------------------------ */

static void
job_free(struct rjob *j)
{
	kg_ai_cancel(j->call);
	if (j->timer)
		kg_loop_timer_cancel(j->w->loop, j->timer);
	free(j->task);
	free(j->instruction);
	cJSON_Delete(j->input);
	free(j->input_json);
	free(j->card);
	free(j->current);
	free(j->spec);
	free(j->context);
	free(j->system);
	free(j->prompt);
	free(j->text);
	free(j);
}

static void
job_end(struct rjob *j, int ack)
{
	struct kg_err err = {0};
	struct rjob **p = &jobs;

	while (*p && *p != j)
		p = &(*p)->next;
	if (*p) {
		*p = j->next;
		j->w->njobs--;
	}
	wk_skip_del(&skip, j->t.batch_id);
	if (ack && kg_queue_ack(KG_QUEUE_REGENERATE, j->w->id, j->task,
				&err) < 0)
		KG_WARN("ack of %s failed (the reaper will sort it out): %s",
			j->t.ident, err.message);
	job_free(j);
}

static struct rjob *
find_job(const struct kg_task *t)
{
	for (struct rjob *j = jobs; j; j = j->next)
		if (!strcmp(j->t.ident, t->ident))
			return j;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Giving up                                                          */

struct giveup {
	struct rjob *j;
	long long seq;
	char status[16];
	int score;
};

static int
giveup_tx(void *arg, struct kg_err *err)
{
	struct giveup *g = arg;
	PGresult *res;

	g->seq = kg_event_next_seq(g->j->t.batch_id, err);
	if (g->seq < 0)
		return -1;
	if (g->j->request_id[0] &&
	    kg_db_exec(err, "DELETE FROM regeneration_requests "
			    "WHERE id = $1::bigint", 1,
		       (const char *const[]){g->j->request_id}) < 0)
		return -1;
	res = KG_DB_QUERY(err,
		"SELECT status, coalesce(quality_score, -1) FROM projects "
		"WHERE id = $1", g->j->t.project_id);
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

static void give_up(struct rjob *j);

static void
give_up_again(void *arg)
{
	struct rjob *j = arg;

	j->timer = 0;
	give_up(j);
}

/* The request cannot be applied (j->why): forget it, say so, ack. */
static void
give_up(struct rjob *j)
{
	struct giveup g = {j, -1, "", -1};
	struct kg_err err = {0};
	char msg[600];
	struct kg_event ev = {"project.status_changed", j->t.batch_id,
			      j->t.project_id, g.status, 100, -1, msg};

	if (kg_db_tx(&err, giveup_tx, &g) < 0) {
		if (err.status == 404 || !strcmp(err.code, "not_found")) {
			job_end(j, 1);
			return;
		}
		KG_WARN("regeneration %s: giving up not recorded (retrying): %s",
			j->t.ident, err.message);
		j->timer = kg_loop_timer(j->w->loop, DB_RETRY_MS, give_up_again,
					 j);
		return;
	}
	snprintf(msg, sizeof(msg), "regeneration of %s not applied: %s",
		 j->key, j->why);
	KG_INFO("project %s: %s", j->t.project_id, msg);
	if (g.status[0]) {
		ev.quality_score = g.score;
		ev.progress = strcmp(g.status, "COMPLETED") ? 0 : 100;
		if (kg_event_publish(&ev, g.seq, &err) < 0)
			KG_WARN("event not published: %s", err.message);
	}
	job_end(j, 1);
}

/* ------------------------------------------------------------------ */
/* Storing                                                            */

static void store(struct rjob *j);

static void
store_again(void *arg)
{
	struct rjob *j = arg;

	j->timer = 0;
	store(j);
}

static void
store(struct rjob *j)
{
	struct kg_project_saved saved = {0};
	struct kg_err err = {0};
	const char *note = j->instruction[0] ? j->instruction : "regenerated";
	int rc;

	if (j->request_id[0])
		rc = kg_project_store_regeneration(j->request_id,
						   j->t.project_id, j->key,
						   j->text, j->provider, note,
						   &saved, &err);
	else
		rc = kg_project_store_ai_section(j->t.project_id, j->key,
						 j->text, j->provider, note,
						 j->version, &saved, &err);
	if (rc == 0) {
		KG_INFO("project %s: section %s regenerated (version %d, "
			"quality %d)", j->t.project_id, j->key, saved.version,
			saved.quality_score);
		if (kg_project_publish(j->t.project_id, &saved, "regenerated",
				       &err) < 0)
			KG_WARN("event not published: %s", err.message);
		job_end(j, 1);
		return;
	}
	if (!strcmp(err.code, "already_done") || err.status == 404) {
		KG_INFO("regeneration %s: %s; nothing to do", j->t.ident,
			err.message);
		job_end(j, 1);
	} else if (!strcmp(err.code, "version_conflict")) {
		snprintf(j->why, sizeof(j->why), "edited meanwhile");
		give_up(j);
	} else if (err.status == 409) {
		snprintf(j->why, sizeof(j->why), "%s", err.message);
		give_up(j);
	} else {
		KG_WARN("regeneration %s: storing failed (retrying): %s",
			j->t.ident, err.message);
		j->timer = kg_loop_timer(j->w->loop, DB_RETRY_MS, store_again,
					 j);
	}
}

/* ------------------------------------------------------------------ */
/* The AI call: the provider chain, retries, breaker (kg_failover.h)   */

static void dispatch(struct rjob *j);

static void
log_call(struct rjob *j, const struct kg_ai_result *r, const char *outcome,
	 const char *error)
{
	struct kg_ai_log at = {j->t.batch_id, j->t.project_id, "regenerate",
			       j->fo.attempt, j->fo.prov > 0};

	kg_ai_log_call(&at, r, outcome, error);
}

static void
retry_timer(void *arg)
{
	struct rjob *j = arg;

	j->timer = 0;
	dispatch(j);
}

static void
attempt_failed(struct rjob *j, long retry_after_ms, int retryable)
{
	long delay;

	KG_WARN("regeneration %s/%s attempt %d (%s): %s", j->t.project_id,
		j->key, j->fo.attempt, kg_failover_current(&j->fo), j->fo.last);
	if (kg_failover_after(&j->fo, retry_after_ms, retryable, &delay))
		j->timer = kg_loop_timer(j->w->loop, delay, retry_timer, j);
	else
		dispatch(j);
}

static void
on_result(void *arg, const struct kg_ai_result *r)
{
	struct rjob *j = arg;
	cJSON *out = NULL;
	const char *body;
	char why[256];

	j->call = NULL;
	if (strcmp(kg_failover_current(&j->fo), "offline"))
		kg_breaker_report(kg_failover_current(&j->fo), j->w->id, r->ok);
	if (!r->ok) {
		snprintf(j->fo.last, sizeof(j->fo.last), "%s",
			 r->error ? r->error : "failed");
		log_call(j, r, r->outcome ? r->outcome : "error", j->fo.last);
		attempt_failed(j, r->retry_after_ms, r->retryable);
		return;
	}
	if (kg_stage_validate("regenerate", r->text, j->def, 1, &out, why,
			      sizeof(why)) < 0) {
		snprintf(j->fo.last, sizeof(j->fo.last), "invalid output: %s", why);
		log_call(j, r, "invalid_output", why);
		attempt_failed(j, -1, 1);
		return;
	}
	log_call(j, r, "ok", NULL);
	body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(out, "sections"), j->key));
	free(j->text);
	j->text = strdup(body ? body : "");
	cJSON_Delete(out);
	snprintf(j->provider, sizeof(j->provider), "%s",
		 r->provider ? r->provider : kg_failover_current(&j->fo));
	store(j);
}

/* The batch's cost cap holds for regenerations too. */
static int
cost_cap_reached(struct rjob *j)
{
	return kg_ai_cost_cap_reached(j->t.batch_id, j->why, sizeof(j->why));
}

static void
dispatch(struct rjob *j)
{
	char what[160];

	if (cost_cap_reached(j)) {
		give_up(j);
		return;
	}
	snprintf(what, sizeof(what), "regeneration %s/%s", j->t.project_id,
		 j->key);
	j->call = kg_failover_call(&j->fo, j->w->loop, j->w->id, what, &j->req,
				   on_result, j);
	if (j->call)
		return;
	snprintf(j->why, sizeof(j->why), "all AI providers failed: %.350s",
		 j->fo.tried);
	give_up(j);
}

/* ------------------------------------------------------------------ */
/* Starting a task                                                    */

static const struct kg_section_def *
find_def(const struct wk_data *d, const char *key)
{
	for (size_t i = 0; i < d->ndefs; i++)
		if (!strcmp(d->defs[i].key, key))
			return &d->defs[i];
	return NULL;
}

/* The request row (the truth), or the task's own fields without one.
 * 1 found, 0 gone, -1 database error. */
static int
load_request(struct rjob *j, const cJSON *task)
{
	struct kg_err err = {0};
	PGresult *res;
	const char *s;
	int found;

	s = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(task, "request_id"));
	if (!s || !*s) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(task,
								  "version");

		s = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(task, "instruction"));
		j->instruction = strdup(s ? s : "");
		j->version = cJSON_IsNumber(v) ? v->valueint : 0;
		s = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(task, "section"));
		snprintf(j->key, sizeof(j->key), "%s", s ? s : "");
		return 1;
	}
	snprintf(j->request_id, sizeof(j->request_id), "%s", s);
	res = KG_DB_QUERY(&err,
		"SELECT key, instruction, requested_version "
		"FROM regeneration_requests WHERE id = $1::bigint "
		"AND project_id = $2::uuid", j->request_id, j->t.project_id);
	if (!res) {
		KG_WARN("regeneration %s: %s", j->t.ident, err.message);
		return -1;
	}
	found = PQntuples(res) == 1;
	if (found) {
		snprintf(j->key, sizeof(j->key), "%s", PQgetvalue(res, 0, 0));
		j->instruction = strdup(PQgetvalue(res, 0, 1));
		j->version = atoi(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return found;
}

/*
 * The card: status and version (checked at once: no AI call for a
 * request that cannot be applied), the input row, the section's text and
 * the other sections as context.  0 ok, 1 give up (j->why), -1 error.
 */
static int
load_card(struct rjob *j)
{
	struct kg_err err = {0};
	struct kg_buf card = {0};
	PGresult *res = KG_DB_QUERY(&err,
		"SELECT p.status, p.version, p.input::text, d.key, d.title, "
		"d.guidance, s.body FROM projects p CROSS JOIN section_defs d "
		"LEFT JOIN sections s ON s.project_id = p.id AND s.key = d.key "
		"WHERE p.id = $1::uuid ORDER BY d.position", j->t.project_id);
	int rc = 0;

	if (!res) {
		KG_WARN("regeneration %s: %s", j->t.ident, err.message);
		return -1;
	}
	if (!PQntuples(res)) {
		snprintf(j->why, sizeof(j->why), "the project is gone");
		rc = 1;
	} else if (strcmp(PQgetvalue(res, 0, 0), "COMPLETED")) {
		snprintf(j->why, sizeof(j->why), "the project is %s",
			 PQgetvalue(res, 0, 0));
		rc = 1;
	} else if (j->version > 0 &&
		   atoi(PQgetvalue(res, 0, 1)) != j->version) {
		snprintf(j->why, sizeof(j->why), "edited meanwhile");
		rc = 1;
	}
	for (int i = 0; !rc && i < PQntuples(res); i++) {
		const char *body = PQgetisnull(res, i, 6) ? ""
							  : PQgetvalue(res, i, 6);
		struct kg_buf spec = {0};

		if (strcmp(PQgetvalue(res, i, 3), j->key)) {
			kg_buf_printf(&card, "## %s\n%s\n\n",
				      PQgetvalue(res, i, 4),
				      *body ? body : "(pusta)");
			continue;
		}
		j->current = strdup(body);
		kg_buf_printf(&spec, "%s, %d–%d słów: %s",
			      PQgetvalue(res, i, 4), j->def->min_words,
			      j->def->max_words, PQgetvalue(res, i, 5));
		j->spec = kg_buf_take(&spec);
	}
	if (!rc) {
		j->input_json = strdup(PQgetvalue(res, 0, 2));
		j->input = cJSON_Parse(j->input_json);
		j->card = kg_buf_take(&card);
		if (!j->card)
			j->card = strdup("");
	}
	kg_buf_free(&card);
	PQclear(res);
	return rc;
}

/* Render the prompts of stage "regenerate" and set up the request. */
static int
prepare(struct rjob *j)
{
	const struct wk_data *d = &j->w->data;
	struct kg_err err = {0};
	const char *ins;
	cJSON *ctx;
	PGresult *res = kg_db_query(&err,
		"SELECT system, body, max_tokens FROM prompt_templates "
		"WHERE stage = 'regenerate'", 0, NULL);
	const char *names[] = {"input_json", "section_key", "section_title",
			       "section_spec", "card", "current",
			       "instruction"};

	if (!res) {
		KG_WARN("regeneration %s: %s", j->t.ident, err.message);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		snprintf(j->why, sizeof(j->why),
			 "no prompt for stage regenerate");
		return 1;
	}
	ins = j->instruction[0] ? j->instruction
				: "brak; napisz sekcję na nowo, lepiej";
	{
		const char *values[] = {j->input_json, j->key, j->def->title,
					j->spec ? j->spec : j->def->title,
					j->card ? j->card : "",
					j->current ? j->current : "", ins};

		j->system = kg_prompt_render(PQgetvalue(res, 0, 0), names,
					     values, 7);
		j->prompt = kg_prompt_render(PQgetvalue(res, 0, 1), names,
					     values, 7);
	}
	j->max_tokens = atoi(PQgetvalue(res, 0, 2));
	PQclear(res);
	ctx = cJSON_CreateObject();
	cJSON_AddStringToObject(ctx, "current", j->current ? j->current : "");
	cJSON_AddStringToObject(ctx, "instruction", j->instruction);
	j->context = cJSON_PrintUnformatted(ctx);
	cJSON_Delete(ctx);
	if (!j->system || !j->prompt || !j->context)
		return -1;
	j->req = (struct kg_ai_request){
		.stage = "regenerate",
		.system = j->system,
		.prompt = j->prompt,
		.max_tokens = j->max_tokens,
		.input = j->input,
		.defs = j->def,
		.ndefs = 1,
		.tpls = d->tpls,
		.ntpls = d->ntpls,
		.previous = j->context,
	};
	return 0;
}

enum start { STARTED, DEFER, DROP, RETRY };

static enum start
start(struct wk *w, const char *task)
{
	struct kg_err err = {0};
	struct kg_task t;
	struct rjob *j;
	cJSON *o;
	char bad[KG_FAILOVER_NAME + 64];
	int rc;

	if (kg_task_parse(task, &t) < 0 || strcmp(t.kind, KG_TASK_REGENERATE) ||
	    !t.project_id[0] || !t.batch_id[0]) {
		KG_WARN("dropping a malformed regenerate task: %.200s", task);
		kg_queue_ack(KG_QUEUE_REGENERATE, w->id, task, &err);
		return DROP;
	}
	/* One regeneration of a project at a time: the others wait. */
	if (find_job(&t)) {
		kg_queue_defer(KG_QUEUE_REGENERATE, w->id, task, &err);
		return DEFER;
	}
	rc = kg_queue_lease(KG_QUEUE_REGENERATE, w->id, task,
			    kg_conf_int("worker", "lease_ms"), &err);
	if (rc <= 0) {
		if (rc == 0)
			kg_queue_defer(KG_QUEUE_REGENERATE, w->id, task, &err);
		else
			kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task,
					 &err);
		return rc == 0 ? DEFER : RETRY;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task, &err);
		return RETRY;
	}
	j->w = w;
	j->t = t;
	j->task = strdup(task);
	j->fo.attempt = 1;
	j->next = jobs;
	jobs = j;
	w->njobs++;
	o = cJSON_Parse(task);
	rc = load_request(j, o);
	cJSON_Delete(o);
	if (rc <= 0) {
		if (rc == 0) {
			KG_INFO("regeneration request %s of %s is gone "
				"(done already); dropped", j->request_id,
				t.project_id);
			job_end(j, 1);
			return DROP;
		}
		kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task, &err);
		job_end(j, 0);
		return RETRY;
	}
	j->def = find_def(&w->data, j->key);
	if (!j->def) {
		snprintf(j->why, sizeof(j->why), "unknown section");
		give_up(j);
		return DROP;
	}
	rc = load_card(j);
	if (rc == 0)
		rc = prepare(j);
	if (rc != 0) {
		if (rc > 0) {
			give_up(j);
			return DROP;
		}
		kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, task, &err);
		job_end(j, 0);
		return RETRY;
	}
	if (kg_failover_begin(&j->fo, bad, sizeof(bad)) < 0) {
		snprintf(j->why, sizeof(j->why),
			 "[ai] providers: bad entry \"%s\"", bad);
		give_up(j);
		return DROP;
	}
	KG_INFO("project %s: regenerating section %s (request %s, "
		"instruction \"%.80s\")", t.project_id, j->key,
		j->request_id[0] ? j->request_id : "-", j->instruction);
	dispatch(j);
	return STARTED;
}

/* ------------------------------------------------------------------ */
/* Housekeeping                                                       */

static void
renew(struct wk *w)
{
	long long lease = kg_conf_int("worker", "lease_ms");
	struct rjob *j = jobs, *next;

	(void)w;
	for (; j; j = next) {
		struct kg_err err = {0};

		next = j->next;
		if (kg_queue_renew(j->w->id, j->task, lease, &err) == 0) {
			KG_WARN("lost the lease of %s; abandoning it",
				j->t.ident);
			job_end(j, 1);
		}
	}
}

static int
runs_here(const char *task)
{
	for (struct rjob *j = jobs; j; j = j->next)
		if (!strcmp(j->task, task))
			return 1;
	return 0;
}

static void
reap(struct wk *w)
{
	struct kg_err err = {0};
	long long n = kg_queue_reap(KG_QUEUE_REGENERATE, &err);
	size_t ntasks = 0;
	char **tasks;

	if (n > 0)
		KG_INFO("reaper: %lld task(s) of dead workers requeued", n);
	tasks = kg_queue_processing(KG_QUEUE_REGENERATE, w->id, &ntasks, &err);
	for (size_t i = 0; i < ntasks; i++) {
		if (!runs_here(tasks[i]) &&
		    kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, tasks[i],
				     &err) == 0)
			KG_INFO("requeued a stray regenerate task of ours: "
				"%.120s", tasks[i]);
		free(tasks[i]);
	}
	free(tasks);
}

static int
was_suspect(const char *id)
{
	for (size_t i = 0; i < nsuspects; i++)
		if (!strcmp(suspects[i], id))
			return 1;
	return 0;
}

static void
free_suspects(void)
{
	for (size_t i = 0; i < nsuspects; i++)
		free(suspects[i]);
	free(suspects);
	suspects = NULL;
	nsuspects = 0;
}

/* The task the API would have pushed for request row i. */
static char *
task_json(PGresult *res, int i)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "kind", KG_TASK_REGENERATE);
	cJSON_AddStringToObject(o, "project_id", PQgetvalue(res, i, 1));
	cJSON_AddStringToObject(o, "batch_id", PQgetvalue(res, i, 2));
	cJSON_AddStringToObject(o, "section", PQgetvalue(res, i, 3));
	cJSON_AddStringToObject(o, "instruction", PQgetvalue(res, i, 4));
	cJSON_AddNumberToObject(o, "version", atoi(PQgetvalue(res, i, 5)));
	cJSON_AddStringToObject(o, "user_id", PQgetvalue(res, i, 6));
	cJSON_AddStringToObject(o, "request_id", PQgetvalue(res, i, 0));
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void
reconcile(struct wk *w)
{
	long long ms = kg_conf_int("worker", "reconcile_interval") * 1000 - 100;
	struct kg_err err = {0};
	char px[24], grace[24];
	redisReply *r;
	PGresult *res;
	char **now;
	size_t nnow = 0;
	int pushed = 0, rows, got;

	snprintf(px, sizeof(px), "%lld", ms > 100 ? ms : 100);
	r = kg_redis_cmd(&err, "SET kg:lock:reconcile:regenerate %s NX PX %s",
			 w->id, px);
	got = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!got)
		return;
	snprintf(grace, sizeof(grace), "%lld",
		 kg_conf_int("worker", "reconcile_grace"));
	res = KG_DB_QUERY(&err,
		"SELECT r.id, r.project_id, p.batch_id, r.key, r.instruction, "
		"r.requested_version, coalesce(r.requested_by::text, '') "
		"FROM regeneration_requests r JOIN projects p "
		"ON p.id = r.project_id "
		"WHERE r.created_at < now() - $1::int * interval '1 second' "
		"ORDER BY r.created_at LIMIT 1000", grace);
	if (!res) {
		KG_WARN("regeneration reconciler: %s", err.message);
		return;
	}
	rows = PQntuples(res);
	now = calloc((size_t)rows + 1, sizeof(*now));
	for (int i = 0; now && i < rows; i++) {
		const char *id = PQgetvalue(res, i, 0);
		char *task = task_json(res, i);
		int lost = task ? kg_queue_push_lost(KG_QUEUE_REGENERATE, task,
						     1, &err) : -1;

		if (lost == 1 && was_suspect(id)) {
			if (kg_queue_push_lost(KG_QUEUE_REGENERATE, task, 0,
					       &err) == 1)
				pushed++;
		} else if (lost == 1) {
			now[nnow++] = strdup(id);
		}
		free(task);
	}
	PQclear(res);
	free_suspects();
	suspects = now;
	nsuspects = nnow;
	if (pushed)
		KG_INFO("reconciler: re-enqueued %d regeneration request(s) "
			"the queue had lost", pushed);
}

static void
take(struct wk *w)
{
	long long limit = kg_conf_int("worker", "global_limit");

	if (kg_loop_now_ms() < take_after)
		return;
	for (int i = 0; i < TAKES_PER_TURN && w->njobs < limit; i++) {
		struct kg_err err = {0};
		const char *names[KG_QUEUE_MAX_SKIP];
		size_t n = wk_skip_list(&skip, kg_loop_now_ms(), names);
		char *task = kg_queue_take(KG_QUEUE_REGENERATE, w->id, names, n,
					   &err);
		struct kg_task t;
		enum start rc;

		if (!task)
			return;
		rc = start(w, task);
		/* A deferred task (its project is being regenerated) skips
		 * its batch for a moment; the other batches go on. */
		if (rc == DEFER && kg_task_parse(task, &t) == 0)
			wk_skip_add(&skip, t.batch_id,
				    kg_loop_now_ms() + WK_SKIP_MS);
		free(task);
		if (rc == RETRY) {
			take_after = kg_loop_now_ms() + RETRY_PAUSE_MS;
			return;
		}
	}
}

void
wk_regen_poll(struct wk *w)
{
	int64_t now = kg_loop_now_ms();
	long long lease = kg_conf_int("worker", "lease_ms");

	if (now >= next_renew) {
		renew(w);
		next_renew = now + lease / 3;
	}
	if (now >= next_reap) {
		reap(w);
		next_reap = now + lease / 2;
	}
	if (w->stopping)
		return;
	if (now >= next_reconcile) {
		reconcile(w);
		next_reconcile =
			now + kg_conf_int("worker", "reconcile_interval") * 1000;
	}
	if (w->data_loaded)
		take(w);
}

void
wk_regen_requeue_all(struct wk *w)
{
	struct kg_err err = {0};

	while (jobs) {
		struct rjob *j = jobs;

		kg_ai_cancel(j->call);
		j->call = NULL;
		if (kg_queue_requeue(KG_QUEUE_REGENERATE, w->id, j->task,
				     &err) < 0)
			KG_WARN("requeue of %s failed (the reconciler will "
				"recover it): %s", j->t.ident, err.message);
		else
			KG_INFO("regeneration %s handed back to the queue",
				j->t.ident);
		job_end(j, 0);
	}
	free_suspects();
}
