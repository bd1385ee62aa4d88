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
#include "kg_config.h"
#include "kg_db.h"
#include "kg_events.h"
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

/* A generation job: struct wk_job and the stages' state. */
struct gen_job {
	struct wk_job j;
	char attempts[16];		/* fencing token, see above */
	cJSON *input;
	char *input_json;
	int stage, progress;
	char *outputs[KG_NSTAGES];
	char *system, *prompt;
	int64_t last_progress;		/* last progress write */
	int64_t last_event;		/* last event the browser got */
	int held;			/* a progress write not yet published */
};

static struct gen_job *
gen(struct wk_job *j)
{
	return (struct gen_job *)j;
}

struct ev_list {
	struct kg_event ev[2];
	long long seq[2];
	int n;
	char status[16];
	char batch_status[16];
};

static void publish(struct ev_list *l);

static void
gen_free(struct wk_job *j)
{
	struct gen_job *g = gen(j);

	cJSON_Delete(g->input);
	free(g->input_json);
	for (int i = 0; i < KG_NSTAGES; i++)
		free(g->outputs[i]);
	free(g->system);
	free(g->prompt);
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
	struct gen_job *g;
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
	struct gen_job *g = s->g;
	char progress[8], score[8];
	PGresult *res;

	snprintf(progress, sizeof(progress), "%d", s->progress);
	snprintf(score, sizeof(score), "%d", s->quality_score);
	if (!strcmp(s->status, "GENERATING"))
		res = KG_DB_QUERY(err,
			"UPDATE projects SET progress = $3::smallint "
			"WHERE id = $1 AND status = 'GENERATING' "
			"AND attempts = $2::int RETURNING 1",
			g->j.t.project_id, g->attempts, progress);
	else if (!strcmp(s->status, "COMPLETED"))
		res = KG_DB_QUERY(err,
			"UPDATE projects SET status = 'COMPLETED', progress = 100, "
			"finished_at = now(), error = NULL, quality = $3::jsonb, "
			"quality_score = $4::smallint, provider = $5, "
			"version = version + 1 "
			"WHERE id = $1 AND status = 'GENERATING' "
			"AND attempts = $2::int RETURNING 1",
			g->j.t.project_id, g->attempts, s->quality, score,
			s->provider);
	else if (!strcmp(s->status, "FAILED"))
		res = KG_DB_QUERY(err,
			"UPDATE projects SET status = 'FAILED', finished_at = now(), "
			"error = $3 WHERE id = $1 AND status = 'GENERATING' "
			"AND attempts = $2::int RETURNING 1",
			g->j.t.project_id, g->attempts, s->error);
	else	/* QUEUED: handed back on shutdown */
		res = KG_DB_QUERY(err,
			"UPDATE projects SET status = 'QUEUED', progress = 0, "
			"queued_at = now() WHERE id = $1 "
			"AND status = 'GENERATING' AND attempts = $2::int "
			"RETURNING 1", g->j.t.project_id, g->attempts);
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
		s->g->j.t.project_id, k ? k : "[]", b ? b : "[]", s->provider);
	free(k);
	free(b);
	return rc;
}

/* After a project ended: the batch ends with its last project. */
static int
finish_batch(struct step *s, struct kg_err *err)
{
	const char *batch = s->g->j.t.batch_id;
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
			"batch.completed", s->g->j.t.batch_id, NULL,
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
	struct gen_job *g = s->g;
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
	l->seq[0] = kg_event_next_seq(g->j.t.batch_id, err);
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
	l->ev[0] = (struct kg_event){type, g->j.t.batch_id, g->j.t.project_id,
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
				"dropped", s->g->j.t.project_id);
			return 1;
		}
		KG_ERROR("project %s: writing %s failed: %s",
			 s->g->j.t.project_id, s->status, err.message);
		return -1;
	}
	publish(&s->events);
	return 0;
}

/* ------------------------------------------------------------------ */

static void start_stage(struct gen_job *g);

static const char *
gen_stage(const struct wk_job *j)
{
	return kg_stage_names[((const struct gen_job *)j)->stage];
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
 * waits for that call only (j.stopped).
 */
static int
write_progress(struct gen_job *g, int progress)
{
	int64_t now = kg_loop_now_ms();
	struct step s = {.g = g, .status = "GENERATING", .progress = progress,
			 .quality_score = -1};

	s.quiet = now - g->last_event <
		  kg_conf_int("worker", "progress_interval_ms");
	g->progress = progress;
	g->last_progress = now;
	if (run_step(&s) == 1) {
		if (g->j.call)
			g->j.stopped = 1;
		else
			wk_job_end(&g->j, 1);
		return 1;
	}
	g->held = s.quiet;
	if (!s.quiet)
		g->last_event = now;
	return 0;
}

/*
 * Is the project still GENERATING under our claim?  Asked of PostgreSQL
 * before every AI call, so a stop reaches the job even when the Redis
 * hint is lost or the worker restarted.  A database failure answers yes:
 * the next fenced write decides.
 */
static int
still_ours(struct gen_job *g)
{
	struct kg_err err = {0};
	PGresult *res = KG_DB_QUERY(&err,
		"SELECT 1 FROM projects WHERE id = $1 AND status = 'GENERATING' "
		"AND attempts = $2::int", g->j.t.project_id, g->attempts);
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
		j->t.project_id, gen_stage(j));
	wk_job_end(j, 1);
}

/* Before every call: a stopped project gets none. */
static int
gen_go_on(struct wk_job *j)
{
	if (still_ours(gen(j)))
		return 1;
	drop_stopped(j);
	return 0;
}

static void
fail_job(struct wk_job *j)
{
	struct gen_job *g = gen(j);
	struct step s = {.g = g, .status = "FAILED", .error = j->error,
			 .progress = g->progress, .quality_score = -1};

	if (run_step(&s) < 0) {
		/* Database unavailable: keep the lease and try again. */
		wk_job_later(j, 1000, fail_job);
		return;
	}
	KG_INFO("project %s FAILED: %s", j->t.project_id, j->error);
	wk_job_end(j, 1);
}

/* A stage's answer: checked, then kept as the stage's output. */
static int
gen_accept(struct wk_job *j, const char *text, char *why, size_t size)
{
	const struct wk_data *d = &j->w->data;
	struct gen_job *g = gen(j);

	if (kg_stage_validate(gen_stage(j), text, d->defs, d->ndefs, NULL, why,
			      size) < 0)
		return -1;
	free(g->outputs[g->stage]);
	g->outputs[g->stage] = strdup(text);
	return 0;
}

static void finish_job(struct wk_job *j);

/* The stage is done: the next one, or the end. */
static void
gen_done(struct wk_job *j)
{
	struct gen_job *g = gen(j);

	g->stage++;
	if (g->stage == KG_NSTAGES)
		finish_job(j);
	else if (write_progress(g, stage_progress[g->stage]) == 0)
		start_stage(g);
}

static void
start_stage(struct gen_job *g)
{
	const struct wk_data *d = &g->j.w->data;
	const struct kg_prompt *p = &d->prompts[g->stage];
	const char *names[] = {"input_json", "sections_spec", "section_keys",
			       "plan", "draft"};
	const char *values[] = {g->input_json, d->sections_spec,
				d->section_keys,
				g->outputs[0] ? g->outputs[0] : "",
				g->outputs[1] ? g->outputs[1] : ""};

	free(g->system);
	free(g->prompt);
	g->system = kg_stage_prompt_render(p->system, names, values, 5);
	g->prompt = kg_stage_prompt_render(p->body, names, values, 5);
	g->j.req = (struct kg_ai_request){
		.stage = kg_stage_names[g->stage],
		.system = g->system,
		.prompt = g->prompt,
		.max_tokens = p->max_tokens,
		.input = g->input,
		.defs = d->defs,
		.ndefs = d->ndefs,
		.tpls = d->tpls,
		.ntpls = d->ntpls,
		.previous = g->stage ? g->outputs[g->stage - 1] : NULL,
	};
	snprintf(g->j.what, sizeof(g->j.what), "project %s stage %s",
		 g->j.t.project_id, kg_stage_names[g->stage]);
	wk_ai_start(&g->j);
}

/* The sections of the polish output, in definition order, scored. */
static void
score(struct gen_job *g, struct step *s)
{
	const struct wk_data *d = &g->j.w->data;
	cJSON *out = NULL, *sections, *q;
	struct kg_quality_section qs[64];
	size_t n = 0;
	char why[256];

	kg_stage_validate("polish", g->outputs[KG_NSTAGES - 1], d->defs,
			  d->ndefs, &out, why, sizeof(why));
	sections = cJSON_GetObjectItemCaseSensitive(out, "sections");
	s->sections = cJSON_CreateObject();
	for (size_t i = 0; i < d->ndefs && n < 64; i++) {
		const char *body = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(sections, d->defs[i].key));

		cJSON_AddStringToObject(s->sections, d->defs[i].key,
					body ? body : "");
		qs[n++] = (struct kg_quality_section){d->defs[i].key, body, 0};
	}
	q = kg_quality_score(g->input, d->defs, d->ndefs, qs, n);
	s->quality_score = (int)cJSON_GetNumberValue(
		cJSON_GetObjectItemCaseSensitive(q, "score"));
	s->quality = cJSON_PrintUnformatted(q);
	cJSON_Delete(q);
	cJSON_Delete(out);
}

static void
finish_job(struct wk_job *j)
{
	struct gen_job *g = gen(j);
	struct step s = {.g = g, .status = "COMPLETED", .progress = 100,
			 .provider = j->provider[0] ? j->provider
						    : kg_conf_str("ai", "provider")};
	int rc;

	score(g, &s);
	rc = run_step(&s);
	cJSON_Delete(s.sections);
	free(s.quality);
	if (rc < 0) {
		wk_job_later(j, 1000, finish_job);
		return;
	}
	if (rc == 0)
		KG_INFO("project %s COMPLETED (quality %d)", j->t.project_id,
			s.quality_score);
	wk_job_end(j, 1);
}

/* Shutdown: the project back to QUEUED (fenced) before its task. */
static void
gen_hand_back(struct wk_job *j)
{
	struct step s = {.g = gen(j), .status = "QUEUED", .quality_score = -1};

	run_step(&s);
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
		wk_skip_add(&wk_state(w, &wk_gen_queue)->skip, t->batch_id,
			    kg_loop_now_ms() + WK_SKIP_MS);
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
		n += j->q == &wk_gen_queue && !strcmp(j->t.batch_id, batch_id);
	return n;
}

/* Before the claim: 1 go on, else the task was dealt with (*rc). */
static int
may_claim(struct wk *w, const char *task, const struct kg_task *t,
	  enum wk_take *rc)
{
	struct kg_err err = {0};
	int leased;

	*rc = WK_DROP;
	if (wk_job_find(w, &wk_gen_queue, t->ident)) {
		/* a duplicate of our own job */
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return 0;
	}
	if (local_batch_jobs(w, t->batch_id) >=
	    kg_conf_int("worker", "concurrency")) {
		/* Full by our own count: no need to ask the database; and
		 * no need to look at it again before one of ours ends. */
		kg_queue_defer(KG_QUEUE_GENERATE, w->id, task, &err);
		wk_skip_add(&wk_state(w, &wk_gen_queue)->skip, t->batch_id,
			    INT64_MAX);
		*rc = WK_DEFER;
		return 0;
	}
	leased = kg_queue_lease(KG_QUEUE_GENERATE, w->id, task,
				kg_conf_int("worker", "lease_ms"), &err);
	if (leased == 0)	/* another live worker runs it */
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
	*rc = leased == 0 ? WK_DROP : WK_RETRY;
	return leased > 0;
}

static enum wk_take
gen_start(struct wk *w, const char *task)
{
	struct kg_err err = {0};
	struct claim c = {0};
	struct kg_task t;
	struct gen_job *g;
	enum wk_take rc;

	if (kg_task_parse(task, &t) < 0 || strcmp(t.kind, "generate") ||
	    !t.project_id[0] || !t.batch_id[0]) {
		KG_WARN("dropping a task this worker does not know: %.200s",
			task);
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	if (!may_claim(w, task, &t, &rc))
		return rc;
	rc = claim(w, task, &t, &c);
	g = rc == WK_STARTED ? (struct gen_job *)wk_job_new(
		w, &wk_gen_queue, task, &t, sizeof(*g)) : NULL;
	if (!g) {
		free(c.input);
		return rc;
	}
	snprintf(g->attempts, sizeof(g->attempts), "%s", c.attempts);
	g->input_json = c.input;
	g->input = cJSON_Parse(c.input);
	g->progress = stage_progress[0];
	g->last_progress = kg_loop_now_ms();
	g->last_event = g->last_progress;
	publish(&(struct ev_list){
		.n = 1, .seq = {c.seq},
		.ev = {{"project.status_changed", t.batch_id, t.project_id,
			"GENERATING", g->progress, -1, NULL}}});
	KG_INFO("project %s GENERATING (batch %s, attempt %s)", t.project_id,
		t.batch_id, g->attempts);
	start_stage(g);
	return WK_STARTED;
}

/* The stop hint (at the progress cadence, not every turn): no more
 * progress for a stopped project.  1 when the job stopped. */
static int
stop_hinted(struct gen_job *g)
{
	if (!kg_batch_stop_hinted(g->j.t.batch_id) || still_ours(g))
		return 0;
	g->j.stopped = g->j.call != NULL;
	if (!g->j.stopped)
		drop_stopped(&g->j);
	return 1;
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
		struct gen_job *g = gen(j);

		next = j->next;
		if (j->q != &wk_gen_queue || j->stopped ||
		    g->stage >= KG_NSTAGES)
			continue;
		if (now - g->last_progress >= every && stop_hinted(g))
			continue;
		if (g->held && now - g->last_event >= every)
			write_progress(g, g->progress);
		else if (now - g->last_progress < every)
			continue;
		else if (g->progress + 1 < stage_progress[g->stage + 1])
			write_progress(g, g->progress + 1);
		else
			write_progress(g, g->progress);
	}
}

/* The reconciler's task for a row of lost_sql (id, batch_id). */
static char *
gen_task_of(PGresult *res, int row)
{
	return kg_task_json("generate", PQgetvalue(res, row, 0),
			    PQgetvalue(res, row, 1));
}

static const struct wk_ai_ops gen_ai = {
	.stage = gen_stage,
	.go_on = gen_go_on,
	.accept = gen_accept,
	.done = gen_done,
	.fail = fail_job,
	.dropped = drop_stopped,
	.stage_in_error = 1,
};

/*
 * The reconciler looks for every project PostgreSQL says is QUEUED or
 * GENERATING, queued more than reconcile_grace s ago (wk_house.c).
 */
const struct wk_queue wk_gen_queue = {
	.id = WK_Q_GENERATE,
	.queue = KG_QUEUE_GENERATE,
	.noun = "project",
	.takes_per_turn = 16,
	.counts = 1,
	.needs_data = 1,
	.start = gen_start,
	.free_job = gen_free,
	.hand_back = gen_hand_back,
	.lock = "kg:lock:reconcile",
	.lost_sql =
		"SELECT id, batch_id FROM projects "
		"WHERE status IN ('QUEUED', 'GENERATING') AND (queued_at IS NULL "
		"OR queued_at < now() - $1::int * interval '1 second') "
		"ORDER BY queued_at NULLS FIRST LIMIT 10000",
	.lost_noun = "project(s)",
	.task_of = gen_task_of,
	.ai = &gen_ai,
};
