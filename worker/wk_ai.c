/*
 * The one AI-job core: a job's call walks the provider chain
 * (kg_failover.h) the same way for every queue that has AI hooks
 * (struct wk_ai_ops: generation's stages, regeneration's one):
 *
 *   before every call   the queue's go_on (generation: still ours in
 *                       PostgreSQL?) and the batch's cost cap, unless
 *                       the step before it answered both (j->checked)
 *   a call              on the first provider of the chain, from the
 *                       current one, that its breaker lets through;
 *                       none left -> fail with what each one said
 *   an answer           reported to the provider's breaker (an answer
 *                       that fails the checks still proves it up),
 *                       logged as an ai_calls row (an accepted one
 *                       with the queue's next step, .logs_answers),
 *                       then accepted or not by the queue's checks
 *   a failure           back off (full jitter) and retry, or move on to
 *                       the next provider
 */
#include "wk.h"

#include "kg_ai.h"
#include "kg_breaker.h"
#include "kg_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dispatch(struct wk_job *j);

static struct kg_ai_log
log_at(const struct wk_job *j)
{
	return (struct kg_ai_log){j->t.batch_id, j->t.project_id,
				  j->q->ai->stage(j), j->fo.attempt,
				  j->fo.prov > 0};
}

static void
log_call(struct wk_job *j, const struct kg_ai_result *r, const char *outcome,
	 const char *error)
{
	struct kg_ai_log at = log_at(j);

	kg_ai_log_call(&at, r, outcome, error);
}

/* An accepted answer: its row goes with the queue's next step when the
 * queue writes it (.logs_answers), else now. */
static void
log_answer(struct wk_job *j, const struct kg_ai_result *r)
{
	struct kg_ai_log at = log_at(j);

	if (j->call_log)	/* the last step did not get through */
		kg_ai_log_write(j->t.batch_id, j->t.project_id, j->call_log);
	free(j->call_log);
	j->call_log = NULL;
	if (j->q->ai->logs_answers)
		j->call_log = kg_ai_log_json(&at, r, "ok", NULL);
	if (!j->call_log)
		kg_ai_log_call(&at, r, "ok", NULL);
}

/* An attempt failed (j->fo.last says why): back off or go to the next
 * provider.  The job may be gone on return. */
static void
attempt_failed(struct wk_job *j, long retry_after_ms, int retryable)
{
	const char *provider = kg_failover_current(&j->fo);
	int attempt = j->fo.attempt;
	long delay;

	if (kg_failover_after(&j->fo, retry_after_ms, retryable, &delay)) {
		KG_WARN("%s attempt %d (%s): %s; again in %ld ms", j->what,
			attempt, provider, j->fo.last, delay);
		wk_job_later(j, delay, dispatch);
		return;
	}
	KG_WARN("%s attempt %d (%s): %s", j->what, attempt, provider,
		j->fo.last);
	dispatch(j);
}

static void
on_result(void *arg, const struct kg_ai_result *r)
{
	struct wk_job *j = arg;
	const struct wk_ai_ops *ai = j->q->ai;
	const char *error = r->error ? r->error : "failed";
	char why[256];

	j->call = NULL;
	if (j->stopped) {	/* the call's cost is real: log it, then go */
		log_call(j, r, r->ok ? "ok" : r->outcome, r->ok ? NULL : error);
		ai->dropped(j);
		return;
	}
	if (strcmp(kg_failover_current(&j->fo), "offline"))
		kg_breaker_report(kg_failover_current(&j->fo), j->w->id, r->ok);
	if (!r->ok) {
		snprintf(j->fo.last, sizeof(j->fo.last), "%s", error);
		log_call(j, r, r->outcome ? r->outcome : "error", error);
		attempt_failed(j, r->retry_after_ms, r->retryable);
		return;
	}
	if (ai->accept(j, r->text, why, sizeof(why)) < 0) {
		snprintf(j->fo.last, sizeof(j->fo.last), "invalid output: %s",
			 why);
		log_call(j, r, "invalid_output", why);
		attempt_failed(j, -1, 1);
		return;
	}
	log_answer(j, r);
	snprintf(j->provider, sizeof(j->provider), "%s",
		 r->provider ? r->provider : kg_failover_current(&j->fo));
	ai->done(j);
}

/*
 * Start the call on the first provider of the chain (from the current
 * one) that its circuit breaker lets through; none left -> the queue's
 * fail with what each one said.  The job may be gone on return.
 */
static void
dispatch(struct wk_job *j)
{
	const struct wk_ai_ops *ai = j->q->ai;
	int checked = j->checked;

	j->checked = WK_UNCHECKED;	/* a retry asks again */
	if (!checked && ai->go_on && !ai->go_on(j))
		return;
	if (checked == WK_CHECKED_CAP ||
	    (!checked && kg_ai_cost_cap_reached(j->t.batch_id, j->error,
						sizeof(j->error)))) {
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
