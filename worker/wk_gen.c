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
	int before_call;		/* answer go_on and the cost cap */
	/* results */
	struct ev_list events;
	int lost;
};

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

static PGresult *
step_call(struct step *s, struct kg_err *err)
{
	struct gen_job *g = s->g;
	char progress[8], score[8], *keys = NULL, *bodies = NULL;
	PGresult *res;

	snprintf(progress, sizeof(progress), "%d", s->progress);
	snprintf(score, sizeof(score), "%d", s->quality_score);
	if (s->sections)
		section_arrays(s->sections, &keys, &bodies);
	res = KG_DB_CALL(err, step_sql, g->j.t.project_id, g->j.t.batch_id, g->attempts, s->status,
		progress, s->quiet ? "true" : "false", s->error, s->quality,
		s->quality_score >= 0 ? score : NULL, s->provider,
		s->sections ? (keys ? keys : "[]") : NULL,
		s->sections ? (bodies ? bodies : "[]") : NULL, g->j.call_log,
		s->before_call ? "true" : "false");
	free(keys);
	free(bodies);
	return res;
}

/* The events of a step that got through (res: kg_gen_step's row). */
static void
step_events(struct step *s, PGresult *res)
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
	struct gen_job *g = s->g;
	struct kg_err err = {0};
	PGresult *res = step_call(s, &err);

	if (!res) {
		KG_ERROR("project %s: writing %s failed: %s",
			 g->j.t.project_id, s->status, err.message);
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
 * waits for that call only (j.stopped).  before_call: the stage's call
 * follows, the write answers go_on and the cost cap for it.
 */
static int
write_progress(struct gen_job *g, int progress, int before_call)
{
	int64_t now = kg_loop_now_ms();
	struct step s = {.g = g, .status = "GENERATING", .progress = progress,
			 .quality_score = -1, .before_call = before_call};

	s.quiet = now - g->last_event <
		  kg_config_int("worker", "progress_interval_ms");
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
	else if (write_progress(g, stage_progress[g->stage], 1) == 0)
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
finish_job(struct wk_job *j)
{
	struct gen_job *g = gen(j);
	struct step s = {.g = g, .status = "COMPLETED", .progress = 100,
			 .provider = j->provider[0]
					     ? j->provider
					     : kg_config_str("ai", "provider")};
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
gen_start(struct wk *w, const char *task)
{
	struct kg_err err = {0};
	struct wk_claim c = {0};
	struct kg_queue_task t;
	struct gen_job *g;
	enum wk_take rc;

	if (kg_queue_task_parse(task, &t) < 0 || strcmp(t.kind, "generate") ||
	    !t.project_id[0] || !t.batch_id[0]) {
		KG_WARN("dropping a task this worker does not know: %.200s",
			task);
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	rc = wk_claim(w, task, &t, stage_progress[0], &c);
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
	g->j.checked = c.capped ? WK_CHECKED_CAP : WK_CHECKED_GO;
	if (c.capped)
		snprintf(g->j.error, sizeof(g->j.error), "%s", c.why);
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
