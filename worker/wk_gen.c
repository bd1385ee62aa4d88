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
 * Each step - the claim (wk_claim.c), a stage's end with the call's
 * ai_calls row, the project's end with its sections and perhaps the
 * batch's - is one call of an SQL function (sql/007_worker_steps.sql):
 * one round trip of the loop instead of the five to eight statements it
 * runs, in the same order and under the same locks.
 */
#include "wk.h"

#include "kg_batch.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_log.h"
#include "kg_ai.h"
#include "kg_queue.h"
#include "kg_stage.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Progress reached when each stage has finished (plan, draft, polish). */
static const int stage_progress[KG_NSTAGES + 1] = {5, 30, 70, 95};

struct ev_list {
	struct kg_event ev[2];
	long long seq[2];
	int n;
	char status[16];
	char batch_status[16];
};

/* A step of a job: one kg_gen_step() call (see below). */
struct gen_step {
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
	int before_call;		/* answer go_on and the cost cap */
	/* after the write (and its events): rc 0 done, 1 lost, -1 failed */
	void (*then)(struct gen_step *s, int rc);
	struct gen_step *next;		/* struct wk .steps */
	/* kg_gen_step's parameters */
	const char *params[14];
	char progress_s[8], score_s[8], *keys, *bodies;
	/* results */
	struct ev_list events;
	int lost;
};

/* A generation job: struct wk_job and the stages' state. */
struct gen_job {
	struct wk_job j;
	char attempts[16];		/* fencing token, see above */
	cJSON *input;
	char *input_json;
	int stage, progress;
	char *outputs[KG_NSTAGES];
	cJSON *polished;		/* the polish output, parsed */
	char *system, *prompt;
	int64_t last_progress;		/* last progress write */
	int64_t last_event;		/* last event the browser got */
	int held;			/* a progress write not yet published */
	struct gen_step step;		/* the step being written */
};

static struct gen_job *
gen(struct wk_job *j)
{
	return (struct gen_job *)j;
}

static void
gen_free(struct wk_job *j)
{
	struct gen_job *g = gen(j);

	cJSON_Delete(g->input);
	cJSON_Delete(g->polished);
	free(g->input_json);
	for (int i = 0; i < KG_NSTAGES; i++)
		free(g->outputs[i]);
	free(g->system);
	free(g->prompt);
}

/* ------------------------------------------------------------------ */
/* Database steps: kg_gen_step(); "lost" means the fence did not match:
 * another worker owns the project now, or it was stopped. */

/* The sections as two JSON arrays (keys, bodies) for kg_gen_step. */
static void
section_arrays(const cJSON *sections, char **keys, char **bodies)
{
	cJSON *it, *k = cJSON_CreateArray(), *b = cJSON_CreateArray();

	cJSON_ArrayForEach(it, sections) {
		cJSON_AddItemToArray(k, cJSON_CreateString(it->string));
		cJSON_AddItemToArray(b, cJSON_CreateString(it->valuestring));
	}
	*keys = cJSON_PrintUnformatted(k);
	*bodies = cJSON_PrintUnformatted(b);
	cJSON_Delete(k);
	cJSON_Delete(b);
}

static const char step_sql[] =
	"SELECT o_lost, o_seq, o_batch_status, o_batch_seq, o_cap "
	"FROM kg_gen_step($1::uuid, $2::uuid, $3::int, $4, $5::smallint, "
	"$6::boolean, $7, $8::jsonb, $9::smallint, $10, $11::jsonb, "
	"$12::jsonb, $13::jsonb, $14::boolean)";

void
wk_gen_warm(void)
{
	struct kg_err err = {0};

	/* A quiet progress write of no project: lost at its UPDATE. */
	PQclear(KG_DB_CALL(&err, step_sql, WK_NO_ID, WK_NO_ID, "1",
			   "GENERATING", "0", "true", NULL, NULL, NULL, NULL,
			   NULL, NULL, NULL, "false"));
}

/* kg_gen_step's parameters of s (s->params). */
static void
step_params(struct gen_step *s)
{
	struct gen_job *g = s->g;

	snprintf(s->progress_s, sizeof(s->progress_s), "%d", s->progress);
	snprintf(s->score_s, sizeof(s->score_s), "%d", s->quality_score);
	s->keys = s->bodies = NULL;
	if (s->sections)
		section_arrays(s->sections, &s->keys, &s->bodies);
	memcpy(s->params, (const char *[14]){
		g->j.t.project_id, g->j.t.batch_id, g->attempts, s->status,
		s->progress_s, s->quiet ? "true" : "false", s->error,
		s->quality, s->quality_score >= 0 ? s->score_s : NULL,
		s->provider,
		s->sections ? (s->keys ? s->keys : "[]") : NULL,
		s->sections ? (s->bodies ? s->bodies : "[]") : NULL,
		g->j.call_log, s->before_call ? "true" : "false"},
	       sizeof(s->params));
}

/* The events of a step that got through (res: kg_gen_step's row). */
static void
step_events(struct gen_step *s, PGresult *res)
{
	struct gen_job *g = s->g;
	struct ev_list *l = &s->events;
	const char *type = !strcmp(s->status, "COMPLETED") ? "project.completed"
		: !strcmp(s->status, "FAILED") ? "project.failed"
		: !strcmp(s->status, "QUEUED") ? "project.status_changed"
		: "project.progress";

	l->n = 0;
	if (s->quiet)
		return;
	snprintf(l->status, sizeof(l->status), "%s", s->status);
	l->seq[0] = atoll(PQgetvalue(res, 0, 1));
	l->ev[0] = (struct kg_event){type, g->j.t.batch_id, g->j.t.project_id,
				     l->status, s->progress,
				     s->quality_score, s->error};
	l->n = 1;
	if (PQgetisnull(res, 0, 2))
		return;
	snprintf(l->batch_status, sizeof(l->batch_status), "%s",
		 PQgetvalue(res, 0, 2));
	l->seq[1] = atoll(PQgetvalue(res, 0, 3));
	l->ev[1] = (struct kg_event){"batch.completed", g->j.t.batch_id, NULL,
				     l->batch_status, 100, -1, NULL};
	l->n = 2;
}

/* A step's answer (res, or NULL with err); 0 done, 1 lost (the job
 * must go), -1 failed (retry).  Its events are in s->events. */
static int
step_result(struct gen_step *s, PGresult *res, const struct kg_err *err)
{
	struct gen_job *g = s->g;

	s->events.n = 0;
	free(s->keys);
	free(s->bodies);
	s->keys = s->bodies = NULL;
	if (!res) {
		KG_ERROR("project %s: writing %s failed: %s",
			 g->j.t.project_id, s->status, err->message);
		return -1;
	}
	free(g->j.call_log);	/* written, lost or not */
	g->j.call_log = NULL;
	s->lost = PQgetvalue(res, 0, 0)[0] == 't';
	if (s->lost) {
		PQclear(res);
		KG_WARN("project %s is no longer ours (stopped, or "
			"re-claimed by another worker): partial work "
			"dropped", g->j.t.project_id);
		return 1;
	}
	if (s->before_call) {
		g->j.checked = PQgetisnull(res, 0, 4) ? WK_CHECKED_GO
						      : WK_CHECKED_CAP;
		if (g->j.checked == WK_CHECKED_CAP)
			snprintf(g->j.error, sizeof(g->j.error), "%s",
				 PQgetvalue(res, 0, 4));
	}
	step_events(s, res);
	PQclear(res);
	return 0;
}

/* The events of n written steps: one Redis pipeline. */
static void
steps_publish(struct gen_step **v, int n)
{
	struct kg_redis_pipe p = {0};
	struct kg_err err = {0};
	size_t k = 0;

	for (int i = 0; i < n; i++)
		for (int e = 0; e < v[i]->events.n; e++)
			kg_event_publish_add(&p, &v[i]->events.ev[e],
					     v[i]->events.seq[e], &err);
	if (p.n && kg_redis_pipe_run(&p, &err) < 0)
		KG_WARN("events not published (the relay will send a "
			"snapshot): %s", err.message);
	for (int i = 0; i < n; i++)
		for (int e = 0; e < v[i]->events.n; e++, k++)
			if (k < p.n && p.replies[k] &&
			    kg_event_published(p.replies[k], &err) < 0)
				KG_WARN("event %s not published (the relay "
					"will send a snapshot): %s",
					v[i]->events.ev[e].type, err.message);
	kg_redis_pipe_free(&p);
}

/*
 * Write n steps (at most STEPS_MAX): their kg_gen_step() calls in one
 * PostgreSQL round trip (kg_db_pipe_each: still one transaction each,
 * what failed on a serialization failure or the connection is run again
 * alone).  PostgreSQL runs them one after the other, so each answer is
 * taken as it comes: a step before a call (progress) publishes its
 * events and starts the call at once - the step answered go_on and the
 * cost cap, so the dispatch asks nothing of the database - instead of
 * waiting for the others' (a project's next call waits for its own step,
 * as when each step was a round trip of its own, and calls that came
 * back together do not go out together again).  The others (completed,
 * failed, lost, to retry) publish their events in one Redis pipeline
 * and go on after the last answer.
 */
#define STEPS_MAX 64

struct steps_out {
	struct gen_step **v;
	struct kg_db_piped *c;
	int n;
	int rc[STEPS_MAX];
	char done[STEPS_MAX];		/* went on as soon as answered */
};

static void
step_answered(void *arg, int i)
{
	struct steps_out *o = arg;
	struct gen_step *s = o->v[i];

	o->rc[i] = step_result(s, o->c[i].res, &o->c[i].err);
	if (o->rc[i] || !s->before_call)
		return;
	o->done[i] = 1;
	steps_publish(&s, 1);
	s->then(s, 0);		/* s may be reused from here on */
	if (i < o->n - 1)	/* the request out now, not after the rest */
		kg_loop_kick(o->v[i]->g->j.w->loop);
}

static void
steps_write(struct gen_step **v, int n)
{
	struct kg_db_piped c[STEPS_MAX];
	struct steps_out o = {.v = v, .c = c, .n = n};
	struct gen_step *rest[STEPS_MAX];
	int rc[STEPS_MAX], m = 0;

	for (int i = 0; i < n; i++) {
		step_params(v[i]);
		c[i] = (struct kg_db_piped){step_sql, 14, v[i]->params};
	}
	kg_db_pipe_each(c, n, step_answered, &o);
	for (int i = 0; i < n; i++)
		if (!o.done[i])
			rc[m] = o.rc[i], rest[m++] = v[i];
	steps_publish(rest, m);
	for (int i = 0; i < m; i++)
		rest[i]->then(rest[i], rc[i]);
}

/* Run a step: now, or with the others of this loop turn when the
 * worker collects them (wk_steps_begin). */
static void
run_step(struct gen_step *s)
{
	struct wk *w = s->g->j.w;

	if (!w->steps_collect) {
		steps_write(&s, 1);
		return;
	}
	s->next = NULL;
	*(w->steps ? w->steps_tail : &w->steps) = s;
	w->steps_tail = &s->next;
}

void
wk_steps_begin(struct wk *w)
{
	w->steps_collect = 1;
}

void
wk_steps_flush(struct wk *w)
{
	/* a step's then may run another step: collected again */
	while (w->steps) {
		struct gen_step *v[STEPS_MAX], *s = w->steps;

		w->steps = NULL;
		while (s) {
			int n = 0;

			for (; s && n < STEPS_MAX; s = s->next)
				v[n++] = s;
			steps_write(v, n);
		}
	}
	w->steps_collect = 0;
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
 * A project that is no longer ours (stopped, or re-claimed by another
 * worker) ends its job, or - with a call in flight - waits for that call
 * only (j.stopped).  before_call: the stage's call follows (started
 * after the write, unless the project was lost), and the write answers
 * go_on and the cost cap for it.
 */
static void
progress_written(struct gen_step *s, int rc)
{
	struct gen_job *g = s->g;

	if (rc == 1) {
		if (g->j.call)
			g->j.stopped = 1;
		else
			wk_job_end(&g->j, 1);
		return;
	}
	if (s->before_call)
		start_stage(g);
}

static void
write_progress(struct gen_job *g, int progress, int before_call)
{
	int64_t now = kg_loop_now_ms();
	struct gen_step *s = &g->step;

	*s = (struct gen_step){.g = g, .status = "GENERATING",
			   .progress = progress, .quality_score = -1,
			   .before_call = before_call,
			   .then = progress_written};
	s->quiet = now - g->last_event <
		   kg_config_int("worker", "progress_interval_ms");
	g->progress = progress;
	g->last_progress = now;
	g->held = s->quiet;
	if (!s->quiet)
		g->last_event = now;
	run_step(s);
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
		"SELECT 1 FROM projects WHERE id = $1 AND batch_id = $2 "
		"AND status = 'GENERATING' AND attempts = $3::int",
		g->j.t.project_id, g->j.t.batch_id, g->attempts);
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

static void fail_job(struct wk_job *j);

static void
failed_written(struct gen_step *s, int rc)
{
	struct wk_job *j = &s->g->j;

	if (rc < 0) {
		/* Database unavailable: keep the lease and try again. */
		wk_job_later(j, 1000, fail_job);
		return;
	}
	KG_INFO("project %s FAILED: %s", j->t.project_id, j->error);
	wk_job_end(j, 1);
}

static void
fail_job(struct wk_job *j)
{
	struct gen_job *g = gen(j);

	g->step = (struct gen_step){.g = g, .status = "FAILED",
				.error = j->error, .progress = g->progress,
				.quality_score = -1, .then = failed_written};
	run_step(&g->step);
}

/* A stage's answer: checked, then kept as the stage's output. */
static int
gen_accept(struct wk_job *j, const char *text, char *why, size_t size)
{
	const struct wk_data *d = &j->w->data;
	struct gen_job *g = gen(j);
	cJSON *out = NULL;

	/* The polish output is kept parsed for score(): validated once. */
	if (kg_stage_validate(gen_stage(j), text, d->defs, d->ndefs,
			      g->stage == KG_NSTAGES - 1 ? &out : NULL, why,
			      size) < 0)
		return -1;
	if (out) {
		cJSON_Delete(g->polished);
		g->polished = out;
	}
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
	else
		write_progress(g, stage_progress[g->stage], 1);
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
score(struct gen_job *g, struct gen_step *s)
{
	const struct wk_data *d = &g->j.w->data;
	cJSON *sections, *q;
	struct kg_quality_section qs[64];
	size_t n = 0;

	sections = cJSON_GetObjectItemCaseSensitive(g->polished, "sections");
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
}

static void
completed_written(struct gen_step *s, int rc)
{
	struct wk_job *j = &s->g->j;

	cJSON_Delete(s->sections);
	free(s->quality);
	s->sections = NULL;
	s->quality = NULL;
	if (rc < 0) {
		wk_job_later(j, 1000, finish_job);
		return;
	}
	if (rc == 0)
		KG_INFO("project %s COMPLETED (quality %d)", j->t.project_id,
			s->quality_score);
	wk_job_end(j, 1);
}

static void
finish_job(struct wk_job *j)
{
	struct gen_job *g = gen(j);
	struct gen_step *s = &g->step;

	*s = (struct gen_step){.g = g, .status = "COMPLETED", .progress = 100,
			   .provider = j->provider[0]
					      ? j->provider
					      : kg_config_str("ai", "provider"),
			   .then = completed_written};
	score(g, s);
	run_step(s);
}

static void
handed_back(struct gen_step *s, int rc)
{
	(void)s;
	(void)rc;
}

/* Shutdown: the project back to QUEUED (fenced) before its task. */
static void
gen_hand_back(struct wk_job *j)
{
	struct gen_job *g = gen(j);

	g->step = (struct gen_step){.g = g, .status = "QUEUED",
				.quality_score = -1, .then = handed_back};
	run_step(&g->step);
}

/* ------------------------------------------------------------------ */

static enum wk_take
gen_start(struct wk *w, const char *task)
{
	struct kg_err err = {0};
	struct kg_queue_task t;

	if (kg_queue_task_parse(task, &t) < 0 || strcmp(t.kind, "generate") ||
	    !t.project_id[0] || !t.batch_id[0]) {
		KG_WARN("dropping a task this worker does not know: %.200s",
			task);
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	/* the job comes with the claims' flush (wk_gen_claimed) */
	return wk_claim_add(w, task, &t, stage_progress[0]);
}

struct wk_job *
wk_gen_claimed(struct wk *w, struct wk_claim *c, struct kg_redis_pipe *events)
{
	struct gen_job *g = (struct gen_job *)wk_job_new(
		w, &wk_gen_queue, c->task, &c->t, sizeof(*g));
	struct kg_err err = {0};

	if (!g)
		return NULL;
	snprintf(g->attempts, sizeof(g->attempts), "%s", c->attempts);
	g->input_json = c->input;
	g->input = cJSON_Parse(c->input);
	g->progress = stage_progress[0];
	g->last_progress = kg_loop_now_ms();
	g->last_event = g->last_progress;
	g->j.checked = c->capped ? WK_CHECKED_CAP : WK_CHECKED_GO;
	if (c->capped)
		snprintf(g->j.error, sizeof(g->j.error), "%s", c->why);
	if (kg_event_publish_add(events, &(struct kg_event){
			"project.status_changed", c->t.batch_id,
			c->t.project_id, "GENERATING", g->progress, -1, NULL},
			c->seq, &err) < 0)
		KG_WARN("event project.status_changed not published (the "
			"relay will send a snapshot): %s", err.message);
	return &g->j;
}

void
wk_gen_begin(struct wk_job *j)
{
	struct gen_job *g = gen(j);

	KG_INFO("project %s GENERATING (batch %s, attempt %s)",
		j->t.project_id, j->t.batch_id, g->attempts);
	start_stage(g);
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
	long long every = kg_config_int("worker", "progress_interval_ms");
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
			write_progress(g, g->progress, 0);
		else if (now - g->last_progress < every)
			continue;
		else if (g->progress + 1 < stage_progress[g->stage + 1])
			write_progress(g, g->progress + 1, 0);
		else
			write_progress(g, g->progress, 0);
	}
}

/* The reconciler's task for a row of lost_sql (id, batch_id). */
static char *
gen_task_of(PGresult *res, int row)
{
	return kg_queue_task_json("generate", PQgetvalue(res, row, 0),
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
	.logs_answers = 1,
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
	.flush = wk_claims_flush,
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
