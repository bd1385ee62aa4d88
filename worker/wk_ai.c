/*
 * The one AI-job core: a job's call walks the provider chain
 * (kg_failover.h) the same way for every queue that has AI hooks
 * (struct wk_ai_ops: generation's stages, regeneration's one):
 *
 *   before every call   the queue's ours (generation: still ours in
 *                       PostgreSQL?), the batch's cost cap and the
 *                       breakers - one piece on a DB thread (wk_job_db)
 *   a call              on the first provider of the chain, from the
 *                       current one, that its breaker lets through;
 *                       none left -> fail with what each one said
 *   an answer           reported to the provider's breaker (an answer
 *                       that fails the checks still proves it up),
 *                       logged as an ai_calls row (both on a DB
 *                       thread), accepted or not by the queue's checks
 *   a failure           back off (full jitter) and retry, or move on to
 *                       the next provider
 */
#include "wk.h"

#include "kg_ai.h"
#include "kg_breaker.h"
#include "kg_log.h"

#include <stdio.h>
#include <string.h>

static void dispatch(struct wk_job *j);

/*
 * After a call: its ai_calls row and its breaker report, on a DB
 * thread; then, on the loop, what the answer decided (next).
 */
enum after { AFTER_DROPPED, AFTER_FAILED, AFTER_DONE };

struct call_log {
	struct wk_db d;
	struct kg_ai_log at;
	struct kg_ai_result r;
	char provider[KG_FAILOVER_NAME], model[128], outcome[24];
	char error[300];
	char breaker[KG_FAILOVER_NAME];	/* "" = no report */
	enum after next;
	long retry_after_ms;		/* AFTER_FAILED: the back-off's */
	int retryable;
};

static void
log_work(struct wk_db *d)
{
	struct call_log *l = (struct call_log *)d;

	if (l->breaker[0])
		kg_breaker_report(l->breaker, d->j->w->id, l->r.ok);
	kg_ai_log_call(&l->at, &l->r, l->outcome,
		       l->error[0] ? l->error : NULL);
}

/* An attempt failed (j->fo.last says why): back off or go to the next
 * provider.  The job may be gone on return. */
static void
attempt_failed(struct wk_job *j, long retry_after_ms, int retryable)
{
	long delay;

	KG_WARN("%s attempt %d (%s): %s", j->what, j->fo.attempt,
		kg_failover_current(&j->fo), j->fo.last);
	if (kg_failover_after(&j->fo, retry_after_ms, retryable, &delay))
		wk_job_later(j, delay, dispatch);
	else
		dispatch(j);
}

static void
log_done(struct wk_db *d)
{
	struct call_log *l = (struct call_log *)d;
	struct wk_job *j = d->j;

	/* stopped meanwhile: a progress write found the project gone */
	if (l->next == AFTER_DROPPED || j->stopped)
		j->q->ai->dropped(j);
	else if (l->next == AFTER_FAILED)
		attempt_failed(j, l->retry_after_ms, l->retryable);
	else
		j->q->ai->done(j);
}

/* The piece that logs result r of j's call as outcome (error). */
static struct call_log *
call_log_new(struct wk_job *j, const struct kg_ai_result *r,
	     const char *outcome, const char *error)
{
	struct call_log *l = wk_db_new(sizeof(*l), log_work, log_done);

	if (!l)
		return NULL;
	l->at = (struct kg_ai_log){j->t.batch_id, j->t.project_id,
				   j->q->ai->stage(j), j->fo.attempt,
				   j->fo.prov > 0};
	l->r = *r;
	snprintf(l->provider, sizeof(l->provider), "%s",
		 r->provider ? r->provider : "unknown");
	snprintf(l->model, sizeof(l->model), "%s",
		 r->model ? r->model : "unknown");
	snprintf(l->outcome, sizeof(l->outcome), "%s", outcome);
	snprintf(l->error, sizeof(l->error), "%s", error ? error : "");
	l->r.provider = l->provider;
	l->r.model = l->model;
	l->r.text = NULL;
	l->r.outcome = l->r.error = NULL;
	return l;
}

/* What the answer means for the job, decided on the loop (the queue's
 * checks keep the text); the row and the report go to a DB thread. */
static enum after
judge(struct wk_job *j, const struct kg_ai_result *r, const char **outcome,
      const char **error, char *why, size_t size)
{
	*error = r->error ? r->error : "failed";
	if (j->stopped) {	/* the call's cost is real: log it, then go */
		*outcome = r->ok ? "ok" : r->outcome;
		*error = r->ok ? NULL : *error;
		return AFTER_DROPPED;
	}
	if (!r->ok) {
		snprintf(j->fo.last, sizeof(j->fo.last), "%s", *error);
		*outcome = r->outcome ? r->outcome : "error";
		return AFTER_FAILED;
	}
	if (j->q->ai->accept(j, r->text, why, size) < 0) {
		snprintf(j->fo.last, sizeof(j->fo.last), "invalid output: %s",
			 why);
		*outcome = "invalid_output";
		*error = why;
		return AFTER_FAILED;
	}
	*outcome = "ok";
	*error = NULL;
	snprintf(j->provider, sizeof(j->provider), "%s",
		 r->provider ? r->provider : kg_failover_current(&j->fo));
	return AFTER_DONE;
}

static void
on_result(void *arg, const struct kg_ai_result *r)
{
	struct wk_job *j = arg;
	const char *outcome, *error;
	const char *prov = kg_failover_current(&j->fo);
	int report = !j->stopped && strcmp(prov, "offline");
	char why[256];
	struct call_log *l;
	enum after next;

	j->call = NULL;
	next = judge(j, r, &outcome, &error, why, sizeof(why));
	l = call_log_new(j, r, outcome ? outcome : "error", error);
	if (!l) {
		KG_ERROR("%s: out of memory, the call is not logged", j->what);
		j->q->ai->fail(j);
		return;
	}
	l->next = next;
	/* an answer that fails the checks is worth another attempt */
	l->retry_after_ms = r->ok ? -1 : r->retry_after_ms;
	l->retryable = r->ok ? 1 : r->retryable;
	if (report)
		snprintf(l->breaker, sizeof(l->breaker), "%s", prov);
	wk_job_db(j, &l->d);
}

/*
 * Before every call, on a DB thread: still ours (the queue's check),
 * the batch's cost cap, and the breakers of the chain (kg_failover_pick
 * moves past the open ones).
 */
struct call_check {
	struct wk_db d;
	int ours, capped;
	char why[sizeof(((struct wk_job *)0)->error)];
};

static void
check_work(struct wk_db *d)
{
	struct call_check *c = (struct call_check *)d;
	struct wk_job *j = d->j;

	c->ours = !j->q->ai->ours || j->q->ai->ours(j);
	if (c->ours)
		c->capped = kg_ai_cost_cap_reached(j->t.batch_id, c->why,
						   sizeof(c->why));
	if (c->ours && !c->capped)
		kg_failover_pick(&j->fo, j->w->id, j->what);
}

/*
 * Start the call on the first provider of the chain (from the current
 * one) that its circuit breaker lets through; none left -> the queue's
 * fail with what each one said.  The job may be gone on return.
 */
static void
check_done(struct wk_db *d)
{
	struct call_check *c = (struct call_check *)d;
	struct wk_job *j = d->j;
	const struct wk_ai_ops *ai = j->q->ai;

	if (!c->ours || j->stopped) {
		ai->dropped(j);
		return;
	}
	if (c->capped) {
		snprintf(j->error, sizeof(j->error), "%s", c->why);
		KG_WARN("%s: %s", j->what, j->error);
		ai->fail(j);
		return;
	}
	j->call = kg_failover_call(&j->fo, j->w->loop, j->w->id, j->what,
				   &j->req, on_result, j);
	if (j->call)
		return;
	snprintf(j->error, sizeof(j->error), "%s%sall AI providers failed: %s",
		 ai->stage_in_error ? ai->stage(j) : "",
		 ai->stage_in_error ? ": " : "", j->fo.tried);
	ai->fail(j);
}

static void
dispatch(struct wk_job *j)
{
	struct call_check *c = wk_db_new(sizeof(*c), check_work, check_done);

	if (!c) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		j->q->ai->fail(j);
		return;
	}
	wk_job_db(j, &c->d);
}

void
wk_ai_start(struct wk_job *j)
{
	char bad[KG_FAILOVER_NAME + 64];

	if (kg_failover_begin(&j->fo, bad, sizeof(bad)) < 0) {
		snprintf(j->error, sizeof(j->error),
			 "[ai] providers: bad entry \"%s\"", bad);
		j->q->ai->fail(j);
		return;
	}
	dispatch(j);
}
