/*
 * One job per project being generated.
 *
 * Fencing: claiming a project increments projects.attempts and the job
 * remembers the new value.  Every later write of the job (progress,
 * sections, COMPLETED, FAILED, back to QUEUED) is an UPDATE ... WHERE
 * status = 'GENERATING' AND attempts = <ours>; if another worker has
 * re-claimed the project meanwhile (our lease expired: we hung, or Redis
 * lost the lease and the reconciler handed the project out again) the
 * write matches no row, the transaction rolls back and the job is
 * dropped.  So a project processed twice still ends with one result, and
 * sections are written with INSERT ... ON CONFLICT DO UPDATE (exactly
 * one set of sections whatever happens).
 *
 * Per-batch concurrency: the claim locks the batch row and counts the
 * batch's GENERATING projects (other than this one).  The count lives
 * in PostgreSQL, so a worker killed with -9 cannot leak a slot: its
 * projects stay GENERATING only until the reaper or reconciler hands
 * them out again, and re-claiming such a project does not need a new
 * slot (it already holds one).  A task whose batch is full is deferred.
 *
 * Per-user concurrency ([worker] user_concurrency, 0 = none) works the
 * same way one level up: the claim also locks the owner's users row (FOR
 * NO KEY UPDATE, so it does not block inserts that reference the user)
 * and counts the GENERATING projects of all the owner's batches.
 */
#include "wk.h"

#include "kg_batch.h"
#include "kg_breaker.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_events.h"
#include "kg_failover.h"
#include "kg_log.h"
#include "kg_ai.h"
#include "kg_queue.h"
#include "kg_stage.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_EXEC(err, sql, ...)                                      \
	kg_db_exec((err), (sql), KG_NPARAMS(__VA_ARGS__),           \
		   (const char *const[]){__VA_ARGS__})

/* Progress reached when each stage has finished (plan, draft, polish). */
static const int stage_progress[KG_NSTAGES + 1] = {5, 30, 70, 95};

struct wk_job {
	struct wk_job *next;
	struct wk *w;
	char *task;
	struct kg_task t;
	char attempts[16];		/* fencing token, see above */
	cJSON *input;
	char *input_json;
	int stage, progress;
	char *outputs[KG_NSTAGES];
	char *system, *prompt;
	struct kg_ai_request req;
	struct kg_ai_call *call;
	uint64_t timer;
	int64_t last_progress;		/* last progress write */
	int64_t last_event;		/* last event the browser got */
	int held;			/* a progress write not yet published */
	char error[900];
	/* Failover (issue 6): the stage's walk along the provider chain. */
	struct kg_failover_cursor fo;
	char provider[KG_FAILOVER_NAME];	/* wrote the last stage */
	/* Stopped (POST /api/batches/{id}/cancel, a cost cap lowered under
	 * the spend) or re-claimed while a call was in flight: the call
	 * finishes and is logged, nothing more is written or called. */
	int stopped;
};

struct ev_list {
	struct kg_event ev[2];
	long long seq[2];
	int n;
	char status[16];
	char batch_status[16];
};

static void publish(struct ev_list *l);

/* ------------------------------------------------------------------ */

static void
job_free(struct wk_job *j)
{
	if (!j)
		return;
	kg_ai_cancel(j->call);
	if (j->timer)
		kg_loop_timer_cancel(j->w->loop, j->timer);
	free(j->task);
	cJSON_Delete(j->input);
	free(j->input_json);
	for (int i = 0; i < KG_NSTAGES; i++)
		free(j->outputs[i]);
	free(j->system);
	free(j->prompt);
	free(j);
}

static void
job_unlink(struct wk_job *j)
{
	struct wk_job **p = &j->w->jobs;

	while (*p && *p != j)
		p = &(*p)->next;
	if (*p) {
		*p = j->next;
		j->w->njobs--;
	}
}

/* The job is over (done, failed, lost or handed back): forget it. */
static void
job_end(struct wk_job *j, int ack)
{
	struct kg_err err = {0};

	job_unlink(j);
	j->w->take_after = 0;	/* a slot is free: look at the queue now */
	wk_skip_del(&j->w->skip, j->t.batch_id);
	if (ack && kg_queue_ack(KG_QUEUE_GENERATE, j->w->id, j->task, &err) < 0)
		KG_WARN("ack of %s failed (the reaper will sort it out): %s",
			j->t.ident, err.message);
	job_free(j);
}

/* ------------------------------------------------------------------ */
/* Database steps.  Each runs in kg_db_tx; "lost" means the fence did not
 * match: another worker owns the project now. */

struct claim {
	const char *project_id, *batch_id;
	char attempts[16];
	char *input;
	long long seq;
	int deferred, skipped;
};

/* The owner's slot: 1 free, 0 full (c->deferred), -1 error.  Runs
 * under the batch row lock, so the owner cannot change meanwhile. */
static int
claim_user_slot(struct claim *c, const char *owner, struct kg_err *err)
{
	long long limit = kg_conf_int("worker", "user_concurrency");
	PGresult *res;
	int busy;

	if (limit <= 0)
		return 1;
	res = KG_DB_QUERY(err, "SELECT 1 FROM users WHERE id = $1 "
			  "FOR NO KEY UPDATE", owner);
	if (!res)
		return -1;
	PQclear(res);
	res = KG_DB_QUERY(err,
		"SELECT count(*) FROM projects p JOIN batches b "
		"ON b.id = p.batch_id WHERE b.owner_id = $1 "
		"AND p.status = 'GENERATING' AND p.id <> $2", owner,
		c->project_id);
	if (!res)
		return -1;
	busy = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	c->deferred = busy >= limit;
	return !c->deferred;
}

/* The batch's slot and then the owner's: 1 free, 0 full, -1 error. */
static int
claim_slot(struct claim *c, struct kg_err *err)
{
	char owner[40];
	PGresult *res;
	int busy;

	/* Serialises the claims of one batch (see the top comment). */
	res = KG_DB_QUERY(err, "SELECT owner_id FROM batches WHERE id = $1 "
			  "FOR UPDATE", c->batch_id);
	if (!res)
		return -1;
	snprintf(owner, sizeof(owner), "%s",
		 PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	if (!owner[0]) {		/* the batch is gone */
		c->skipped = 1;
		return 0;
	}
	res = KG_DB_QUERY(err,
		"SELECT count(*) FROM projects WHERE batch_id = $1 "
		"AND status = 'GENERATING' AND id <> $2", c->batch_id,
		c->project_id);
	if (!res)
		return -1;
	busy = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (busy >= kg_conf_int("worker", "concurrency")) {
		c->deferred = 1;
		return 0;
	}
	return claim_user_slot(c, owner, err);
}

static int
claim_tx(void *arg, struct kg_err *err)
{
	struct claim *c = arg;
	PGresult *res;
	int rc;

	c->deferred = c->skipped = 0;
	rc = claim_slot(c, err);
	if (rc <= 0)
		return rc;
	res = KG_DB_QUERY(err,
		"UPDATE projects SET status = 'GENERATING', started_at = now(), "
		"attempts = attempts + 1, progress = $3::smallint, "
		"finished_at = NULL "
		"WHERE id = $1 AND batch_id = $2 "
		"AND status IN ('QUEUED', 'GENERATING') "
		"RETURNING attempts, input::text", c->project_id, c->batch_id,
		"5");
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		c->skipped = 1;
		return 0;
	}
	snprintf(c->attempts, sizeof(c->attempts), "%s", PQgetvalue(res, 0, 0));
	free(c->input);
	c->input = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	c->seq = kg_event_next_seq(c->batch_id, err);
	return c->seq < 0 ? -1 : 0;
}

struct step {
	struct wk_job *j;
	const char *status;		/* new project status */
	int progress;
	const char *error;		/* FAILED */
	/* COMPLETED */
	cJSON *sections;
	char *quality;
	int quality_score;
	const char *provider;
	int quiet;			/* progress: DB only, no event */
	/* results */
	struct ev_list events;
	int lost;
};

static int
fenced_update(struct step *s, struct kg_err *err)
{
	struct wk_job *j = s->j;
	char progress[8], score[8];
	PGresult *res;

	snprintf(progress, sizeof(progress), "%d", s->progress);
	snprintf(score, sizeof(score), "%d", s->quality_score);
	if (!strcmp(s->status, "GENERATING"))
		res = KG_DB_QUERY(err,
			"UPDATE projects SET progress = $3::smallint "
			"WHERE id = $1 AND status = 'GENERATING' "
			"AND attempts = $2::int RETURNING 1",
			j->t.project_id, j->attempts, progress);
	else if (!strcmp(s->status, "COMPLETED"))
		res = KG_DB_QUERY(err,
			"UPDATE projects SET status = 'COMPLETED', progress = 100, "
			"finished_at = now(), error = NULL, quality = $3::jsonb, "
			"quality_score = $4::smallint, provider = $5, "
			"version = version + 1 "
			"WHERE id = $1 AND status = 'GENERATING' "
			"AND attempts = $2::int RETURNING 1",
			j->t.project_id, j->attempts, s->quality, score,
			s->provider);
	else if (!strcmp(s->status, "FAILED"))
		res = KG_DB_QUERY(err,
			"UPDATE projects SET status = 'FAILED', finished_at = now(), "
			"error = $3 WHERE id = $1 AND status = 'GENERATING' "
			"AND attempts = $2::int RETURNING 1",
			j->t.project_id, j->attempts, s->error);
	else	/* QUEUED: handed back on shutdown */
		res = KG_DB_QUERY(err,
			"UPDATE projects SET status = 'QUEUED', progress = 0, "
			"queued_at = now() WHERE id = $1 "
			"AND status = 'GENERATING' AND attempts = $2::int "
			"RETURNING 1", j->t.project_id, j->attempts);
	if (!res)
		return -1;
	s->lost = PQntuples(res) != 1;
	PQclear(res);
	if (s->lost)
		return kg_err_set(err, 409, "lost", "project re-claimed");
	return 0;
}

static int
store_sections(struct step *s, struct kg_err *err)
{
	cJSON *it, *arr_k = cJSON_CreateArray(), *arr_b = cJSON_CreateArray();
	char *k, *b;
	int rc;

	cJSON_ArrayForEach(it, s->sections) {
		cJSON_AddItemToArray(arr_k, cJSON_CreateString(it->string));
		cJSON_AddItemToArray(arr_b,
				     cJSON_CreateString(it->valuestring));
	}
	k = cJSON_PrintUnformatted(arr_k);
	b = cJSON_PrintUnformatted(arr_b);
	cJSON_Delete(arr_k);
	cJSON_Delete(arr_b);
	/* Idempotent: one row per (project, key) whatever runs twice. */
	rc = DB_EXEC(err,
		"INSERT INTO sections (project_id, key, body, origin, reviewed, "
		"provider, updated_by) "
		"SELECT $1, k, b, 'ai', false, $4, NULL FROM "
		"jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS x(k, i) "
		"JOIN jsonb_array_elements_text($3::jsonb) WITH ORDINALITY "
		"AS y(b, i) USING (i) "
		"ON CONFLICT (project_id, key) DO UPDATE SET body = EXCLUDED.body, "
		"origin = 'ai', reviewed = false, provider = EXCLUDED.provider, "
		"version = sections.version + 1, updated_by = NULL",
		s->j->t.project_id, k ? k : "[]", b ? b : "[]", s->provider);
	free(k);
	free(b);
	return rc;
}

/* After a project ended: the batch ends with its last project. */
static int
finish_batch(struct step *s, struct kg_err *err)
{
	const char *batch = s->j->t.batch_id;
	struct ev_list *l = &s->events;
	PGresult *res;
	int inflight, all_done;

	res = KG_DB_QUERY(err,
		"SELECT count(*) FILTER (WHERE status IN ('QUEUED', 'GENERATING')), "
		"bool_and(status = 'COMPLETED') FROM projects WHERE batch_id = $1",
		batch);
	if (!res)
		return -1;
	inflight = atoi(PQgetvalue(res, 0, 0));
	all_done = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (inflight)
		return 0;
	res = KG_DB_QUERY(err,
		"UPDATE batches SET status = $2, completed_at = now() "
		"WHERE id = $1 AND status = 'GENERATING' RETURNING 1", batch,
		all_done ? "COMPLETED" : "PARTIAL");
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(l->batch_status, sizeof(l->batch_status), "%s",
			 all_done ? "COMPLETED" : "PARTIAL");
		l->seq[l->n] = kg_event_next_seq(batch, err);
		if (l->seq[l->n] < 0) {
			PQclear(res);
			return -1;
		}
		l->ev[l->n] = (struct kg_event){
			"batch.completed", s->j->t.batch_id, NULL,
			l->batch_status, 100, -1, NULL};
		l->n++;
	}
	PQclear(res);
	return 0;
}

static int
step_tx(void *arg, struct kg_err *err)
{
	struct step *s = arg;
	struct wk_job *j = s->j;
	struct ev_list *l = &s->events;
	const char *type = "project.progress";

	l->n = 0;
	/* A held-back progress write takes no seq (a seq without its event
	 * would be a hole the relay waits for) and locks the project row
	 * only, so it cannot close a lock cycle with a batch-first writer. */
	if (s->quiet)
		return fenced_update(s, err);
	/* seq first: it locks the batch row, the lock order of every
	 * writer (batch, then project). */
	l->seq[0] = kg_event_next_seq(j->t.batch_id, err);
	if (l->seq[0] < 0 || fenced_update(s, err) < 0)
		return -1;
	if (!strcmp(s->status, "COMPLETED")) {
		type = "project.completed";
		if (store_sections(s, err) < 0)
			return -1;
	} else if (!strcmp(s->status, "FAILED")) {
		type = "project.failed";
	} else if (!strcmp(s->status, "QUEUED")) {
		type = "project.status_changed";
	}
	snprintf(l->status, sizeof(l->status), "%s", s->status);
	l->ev[0] = (struct kg_event){type, j->t.batch_id, j->t.project_id,
				     l->status, s->progress,
				     s->quality_score, s->error};
	l->n = 1;
	if (!strcmp(s->status, "COMPLETED") || !strcmp(s->status, "FAILED"))
		return finish_batch(s, err);
	return 0;
}

static void
publish(struct ev_list *l)
{
	struct kg_err err = {0};

	for (int i = 0; i < l->n; i++)
		if (kg_event_publish(&l->ev[i], l->seq[i], &err) < 0)
			KG_WARN("event %s not published (the relay will send "
				"a snapshot): %s", l->ev[i].type, err.message);
}

/* Runs one step; 0 done, 1 lost (job must go), -1 failed (retry). */
static int
run_step(struct step *s)
{
	struct kg_err err = {0};

	if (kg_db_tx(&err, step_tx, s) < 0) {
		if (s->lost) {
			KG_WARN("project %s is no longer ours (stopped, or "
				"re-claimed by another worker): partial work "
				"dropped", s->j->t.project_id);
			return 1;
		}
		KG_ERROR("project %s: writing %s failed: %s",
			 s->j->t.project_id, s->status, err.message);
		return -1;
	}
	publish(&s->events);
	return 0;
}

/* ------------------------------------------------------------------ */

static void start_stage(struct wk_job *j);
static void finish_job(struct wk_job *j);
static void fail_job(struct wk_job *j);

/* Timer trampolines: a database write that failed is tried again. */
static void
finish_again(void *arg)
{
	struct wk_job *j = arg;

	j->timer = 0;
	finish_job(j);
}

static void
fail_again(void *arg)
{
	struct wk_job *j = arg;

	j->timer = 0;
	fail_job(j);
}

static void
log_call(struct wk_job *j, const struct kg_ai_result *r, const char *outcome,
	 const char *error)
{
	struct kg_ai_log at = {j->t.batch_id, j->t.project_id,
			       kg_stage_names[j->stage], j->fo.attempt,
			       j->fo.prov > 0};

	kg_ai_log_call(&at, r, outcome, error);
}

/*
 * Progress is written to the database at once, but published at most once
 * per [worker] progress_interval_ms for a project (the cadence the browser
 * already expects from the ticks below): with a fast provider the three
 * stage ends of one project fall within a second, and their events - 40%
 * of a batch's events - would each cost a seq lock on the batch row, a
 * Redis script, a relay write per watcher and a repaint, for a bar that
 * the browser shows for a few hundred milliseconds.  What is held back is
 * published by wk_gen_tick() once the interval has passed, unless the
 * project has finished by then (its status event carries progress 100).
 * Returns 1 when the project is no longer ours (stopped, or re-claimed
 * by another worker): the job is gone, or - with a call in flight - it
 * waits for that call only (j->stopped).
 */
static int
write_progress(struct wk_job *j, int progress)
{
	int64_t now = kg_loop_now_ms();
	struct step s = {.j = j, .status = "GENERATING", .progress = progress,
			 .quality_score = -1};

	s.quiet = now - j->last_event <
		  kg_conf_int("worker", "progress_interval_ms");
	j->progress = progress;
	j->last_progress = now;
	if (run_step(&s) == 1) {
		if (j->call)
			j->stopped = 1;
		else
			job_end(j, 1);
		return 1;
	}
	j->held = s.quiet;
	if (!s.quiet)
		j->last_event = now;
	return 0;
}

/*
 * Is the project still GENERATING under our claim?  Asked of PostgreSQL
 * before every AI call, so a stop reaches the job even when the Redis
 * hint is lost or the worker restarted.  A database failure answers yes:
 * the next fenced write decides.
 */
static int
still_ours(struct wk_job *j)
{
	struct kg_err err = {0};
	PGresult *res = KG_DB_QUERY(&err,
		"SELECT 1 FROM projects WHERE id = $1 AND status = 'GENERATING' "
		"AND attempts = $2::int", j->t.project_id, j->attempts);
	int ours;

	if (!res)
		return 1;
	ours = PQntuples(res) == 1;
	PQclear(res);
	return ours;
}

/* The project was stopped: drop its partial work, no further call. */
static void
drop_stopped(struct wk_job *j)
{
	KG_INFO("project %s was stopped at stage %s: partial work dropped",
		j->t.project_id, kg_stage_names[j->stage]);
	job_end(j, 1);
}

static void dispatch(struct wk_job *j);

static void
retry_timer(void *arg)
{
	struct wk_job *j = arg;

	j->timer = 0;
	dispatch(j);
}

static void
fail_job(struct wk_job *j)
{
	struct step s = {.j = j, .status = "FAILED", .error = j->error,
			 .progress = j->progress, .quality_score = -1};
	int rc = run_step(&s);

	if (rc < 0) {
		/* Database unavailable: keep the lease and try again. */
		j->timer = kg_loop_timer(j->w->loop, 1000, fail_again, j);
		return;
	}
	KG_INFO("project %s FAILED: %s", j->t.project_id, j->error);
	job_end(j, 1);
}

/* An attempt failed: back off (full jitter) or go to the next provider
 * (kg_failover.h).  The job may be gone on return. */
static void
attempt_failed(struct wk_job *j, long retry_after_ms, int retryable)
{
	long delay;

	KG_WARN("project %s stage %s attempt %d (%s): %s", j->t.project_id,
		kg_stage_names[j->stage], j->fo.attempt,
		kg_failover_current(&j->fo), j->error);
	if (kg_failover_after(&j->fo, retry_after_ms, retryable, &delay))
		j->timer = kg_loop_timer(j->w->loop, delay, retry_timer, j);
	else
		dispatch(j);
}
static void
on_result(void *arg, const struct kg_ai_result *r)
{
	struct wk_job *j = arg;
	const struct wk_data *d = &j->w->data;
	char why[256];

	j->call = NULL;
	if (j->stopped) {	/* the call's cost is real: log it, then go */
		log_call(j, r, r->ok ? "ok" : r->outcome,
			 r->ok ? NULL : (r->error ? r->error : "failed"));
		drop_stopped(j);
		return;
	}
	/* The breaker judges the service: an answer that fails the stage's
	 * checks still proves the provider up (kg_failover.h). */
	if (strcmp(kg_failover_current(&j->fo), "offline"))
		kg_breaker_report(kg_failover_current(&j->fo), j->w->id, r->ok);
	if (!r->ok) {
		snprintf(j->fo.last, sizeof(j->fo.last), "%s",
			 r->error ? r->error : "failed");
		snprintf(j->error, sizeof(j->error), "%s: %s (%s)",
			 kg_stage_names[j->stage],
			 r->error ? r->error : "failed", r->provider);
		log_call(j, r, r->outcome, r->error ? r->error : "failed");
		attempt_failed(j, r->retry_after_ms, r->retryable);
		return;
	}
	if (kg_stage_validate(kg_stage_names[j->stage], r->text, d->defs,
			      d->ndefs, NULL, why, sizeof(why)) < 0) {
		snprintf(j->error, sizeof(j->error),
			 "invalid %s output: %s", kg_stage_names[j->stage], why);
		snprintf(j->fo.last, sizeof(j->fo.last), "invalid output: %s", why);
		log_call(j, r, "invalid_output", why);
		attempt_failed(j, -1, 1);
		return;
	}
	log_call(j, r, "ok", NULL);
	snprintf(j->provider, sizeof(j->provider), "%s", r->provider);
	free(j->outputs[j->stage]);
	j->outputs[j->stage] = strdup(r->text);
	j->stage++;
	j->fo.attempt = 1;
	if (j->stage == KG_NSTAGES)
		finish_job(j);
	else if (write_progress(j, stage_progress[j->stage]) == 0)
		start_stage(j);
}

static void
start_stage(struct wk_job *j)
{
	const struct wk_data *d = &j->w->data;
	const struct kg_prompt *p = &d->prompts[j->stage];
	const char *names[] = {"input_json", "sections_spec", "section_keys",
			       "plan", "draft"};
	char bad[KG_FAILOVER_NAME + 64];
	const char *values[] = {j->input_json, d->sections_spec,
				d->section_keys,
				j->outputs[0] ? j->outputs[0] : "",
				j->outputs[1] ? j->outputs[1] : ""};

	free(j->system);
	free(j->prompt);
	j->system = kg_stage_prompt_render(p->system, names, values, 5);
	j->prompt = kg_stage_prompt_render(p->body, names, values, 5);
	j->req = (struct kg_ai_request){
		.stage = kg_stage_names[j->stage],
		.system = j->system,
		.prompt = j->prompt,
		.max_tokens = p->max_tokens,
		.input = j->input,
		.defs = d->defs,
		.ndefs = d->ndefs,
		.tpls = d->tpls,
		.ntpls = d->ntpls,
		.previous = j->stage ? j->outputs[j->stage - 1] : NULL,
	};
	if (kg_failover_begin(&j->fo, bad, sizeof(bad)) < 0) {
		snprintf(j->error, sizeof(j->error),
			 "[ai] providers: bad entry \"%s\"", bad);
		fail_job(j);
		return;
	}
	dispatch(j);
}

static int
cost_cap_reached(struct wk_job *j)
{
	return kg_ai_cost_cap_reached(j->t.batch_id, j->error,
				      sizeof(j->error));
}

/*
 * Start the stage's call on the first provider of the chain (from the
 * current one) that its circuit breaker lets through; none left -> the
 * project FAILED with what each one said.  The job may be gone on
 * return.
 */
static void
dispatch(struct wk_job *j)
{
	char what[128];

	if (!still_ours(j)) {
		drop_stopped(j);
		return;
	}
	if (cost_cap_reached(j)) {
		KG_WARN("project %s: %s", j->t.project_id, j->error);
		fail_job(j);
		return;
	}
	snprintf(what, sizeof(what), "project %s stage %s", j->t.project_id,
		 kg_stage_names[j->stage]);
	j->call = kg_failover_call(&j->fo, j->w->loop, j->w->id, what, &j->req,
				   on_result, j);
	if (j->call)
		return;
	snprintf(j->error, sizeof(j->error), "%s: all AI providers failed: %s",
		 kg_stage_names[j->stage], j->fo.tried);
	fail_job(j);
}

static void
finish_job(struct wk_job *j)
{
	const struct wk_data *d = &j->w->data;
	cJSON *out = NULL, *sections, *q;
	struct kg_quality_section qs[64];
	struct step s = {.j = j, .status = "COMPLETED", .progress = 100,
			 .provider = j->provider[0] ? j->provider
						    : kg_conf_str("ai", "provider")};
	size_t n = 0;
	char why[256];
	int rc;

	kg_stage_validate("polish", j->outputs[KG_NSTAGES - 1], d->defs,
			  d->ndefs, &out, why, sizeof(why));
	sections = cJSON_GetObjectItemCaseSensitive(out, "sections");
	/* Only the defined keys are stored, in definition order. */
	s.sections = cJSON_CreateObject();
	for (size_t i = 0; i < d->ndefs && n < 64; i++) {
		const char *body = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(sections, d->defs[i].key));

		cJSON_AddStringToObject(s.sections, d->defs[i].key,
					body ? body : "");
		qs[n++] = (struct kg_quality_section){d->defs[i].key, body, 0};
	}
	q = kg_quality_score(j->input, d->defs, d->ndefs, qs, n);
	s.quality_score = (int)cJSON_GetNumberValue(
		cJSON_GetObjectItemCaseSensitive(q, "score"));
	s.quality = cJSON_PrintUnformatted(q);
	cJSON_Delete(q);
	cJSON_Delete(out);
	rc = run_step(&s);
	cJSON_Delete(s.sections);
	free(s.quality);
	if (rc < 0) {
		j->timer = kg_loop_timer(j->w->loop, 1000, finish_again, j);
		return;
	}
	if (rc == 0)
		KG_INFO("project %s COMPLETED (quality %d)", j->t.project_id,
			s.quality_score);
	job_end(j, 1);
}

/* ------------------------------------------------------------------ */

static enum wk_take
claim(struct wk *w, const char *task, struct kg_task *t, struct claim *c)
{
	struct kg_err err = {0};

	c->project_id = t->project_id;
	c->batch_id = t->batch_id;
	if (kg_db_tx(&err, claim_tx, c) < 0) {
		KG_WARN("claiming project %s failed: %s", t->project_id,
			err.message);
		kg_queue_requeue(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_RETRY;
	}
	if (c->deferred) {
		kg_queue_defer(KG_QUEUE_GENERATE, w->id, task, &err);
		wk_skip_add(&w->skip, t->batch_id, kg_loop_now_ms() + WK_SKIP_MS);
		return WK_DEFER;
	}
	if (c->skipped) {
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	return WK_STARTED;
}

static int
local_batch_jobs(struct wk *w, const char *batch_id)
{
	int n = 0;

	for (struct wk_job *j = w->jobs; j; j = j->next)
		n += !strcmp(j->t.batch_id, batch_id);
	return n;
}

enum wk_take
wk_gen_start(struct wk *w, const char *task)
{
	struct kg_err err = {0};
	struct claim c = {0};
	struct kg_task t;
	struct wk_job *j;
	enum wk_take rc;
	int leased;

	if (kg_task_parse(task, &t) < 0 || strcmp(t.kind, "generate") ||
	    !t.project_id[0] || !t.batch_id[0]) {
		KG_WARN("dropping a task this worker does not know: %.200s",
			task);
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	if (wk_gen_has(w, task)) {	/* a duplicate of our own job */
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	if (local_batch_jobs(w, t.batch_id) >=
	    kg_conf_int("worker", "concurrency")) {
		/* Full by our own count: no need to ask the database; and
		 * no need to look at it again before one of ours ends. */
		kg_queue_defer(KG_QUEUE_GENERATE, w->id, task, &err);
		wk_skip_add(&w->skip, t.batch_id, INT64_MAX);
		return WK_DEFER;
	}
	leased = kg_queue_lease(KG_QUEUE_GENERATE, w->id, task,
				kg_conf_int("worker", "lease_ms"), &err);
	if (leased <= 0) {
		if (leased == 0)	/* another live worker runs it */
			kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return leased == 0 ? WK_DROP : WK_RETRY;
	}
	rc = claim(w, task, &t, &c);
	if (rc != WK_STARTED) {
		free(c.input);
		return rc;
	}
	j = calloc(1, sizeof(*j));
	j->w = w;
	j->task = strdup(task);
	j->t = t;
	snprintf(j->attempts, sizeof(j->attempts), "%s", c.attempts);
	j->input_json = c.input;
	j->input = cJSON_Parse(c.input);
	j->fo.attempt = 1;
	j->progress = stage_progress[0];
	j->last_progress = kg_loop_now_ms();
	j->last_event = j->last_progress;
	j->next = w->jobs;
	w->jobs = j;
	w->njobs++;
	{
		struct ev_list l = {.n = 1};

		l.seq[0] = c.seq;
		l.ev[0] = (struct kg_event){"project.status_changed",
					    t.batch_id, t.project_id,
					    "GENERATING", j->progress, -1,
					    NULL};
		publish(&l);
	}
	KG_INFO("project %s GENERATING (batch %s, attempt %s)", t.project_id,
		t.batch_id, j->attempts);
	start_stage(j);
	return WK_STARTED;
}

int
wk_gen_has(struct wk *w, const char *task)
{
	struct kg_task t;

	if (kg_task_parse(task, &t) < 0)
		return 0;
	for (struct wk_job *j = w->jobs; j; j = j->next)
		if (!strcmp(j->t.ident, t.ident))
			return 1;
	return 0;
}

/*
 * A provider call can take tens of seconds; the browser still gets a
 * progress event every [worker] progress_interval_ms, creeping towards
 * the end of the current stage's band.  A progress write that
 * write_progress() held back is published here once its interval is over.
 */
void
wk_gen_tick(struct wk *w)
{
	int64_t now = kg_loop_now_ms();
	long long every = kg_conf_int("worker", "progress_interval_ms");
	struct wk_job *j = w->jobs, *next;

	for (; j; j = next) {
		next = j->next;
		if (j->stopped || j->stage >= KG_NSTAGES)
			continue;
		/* The stop hint (at the progress cadence, not every turn): no
		 * more progress for a stopped project. */
		if (now - j->last_progress >= every &&
		    kg_batch_stop_hinted(j->t.batch_id) && !still_ours(j)) {
			j->stopped = j->call != NULL;
			if (!j->stopped)
				drop_stopped(j);
			continue;
		}
		if (j->held && now - j->last_event >= every)
			write_progress(j, j->progress);
		else if (now - j->last_progress < every)
			continue;
		else if (j->progress + 1 < stage_progress[j->stage + 1])
			write_progress(j, j->progress + 1);
		else
			write_progress(j, j->progress);
	}
}

void
wk_gen_renew(struct wk *w)
{
	long long lease = kg_conf_int("worker", "lease_ms");
	struct wk_job *j = w->jobs, *next;

	for (; j; j = next) {
		struct kg_err err = {0};

		next = j->next;
		if (kg_queue_renew(w->id, j->task, lease, &err) == 0) {
			KG_WARN("lost the lease of project %s; abandoning it",
				j->t.project_id);
			job_end(j, 1);
		}
	}
}

void
wk_gen_requeue_all(struct wk *w)
{
	while (w->jobs) {
		struct wk_job *j = w->jobs;
		struct step s = {.j = j, .status = "QUEUED",
				 .quality_score = -1};
		struct kg_err err = {0};

		kg_ai_cancel(j->call);
		j->call = NULL;
		if (run_step(&s) == 0)
			KG_INFO("project %s handed back to the queue",
				j->t.project_id);
		/* Whatever the database said, the task goes back: if the
		 * write failed the project is still GENERATING and the next
		 * worker re-claims it. */
		if (kg_queue_requeue(KG_QUEUE_GENERATE, w->id, j->task, &err) < 0)
			KG_WARN("requeue of %s failed (the reconciler will "
				"recover it): %s", j->t.ident, err.message);
		job_end(j, 0);
	}
}
