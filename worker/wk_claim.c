/*
 * The claim of a generation task: a project becomes GENERATING under
 * this worker, with a new fencing token (projects.attempts + 1, see
 * wk_gen.c), if its batch and its owner have a free slot.
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
 *
 * The whole claim is the SQL function kg_gen_claim()
 * (sql/007_worker_steps.sql), which also answers the cost cap for the
 * project's first call.  The claims of one turn's takes go together:
 * one round trip for all of them (wk_claims_flush, wk.h).
 */
#include "wk.h"

#include "kg_config.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_queue.h"
#include "kg_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum outcome { FAILED = -1, CLAIMED, DEFERRED, SKIPPED };

static const char claim_sql[] =
	"SELECT o_outcome, o_attempts, o_input, o_seq, o_cap "
	"FROM kg_gen_claim($1::uuid, $2::uuid, $3::int, $4::int, "
	"$5::smallint)";

static enum outcome
claim_result(PGresult *res, struct wk_claim *c)
{
	enum outcome outcome;

	if (!res)
		return FAILED;
	outcome = !strcmp(PQgetvalue(res, 0, 0), "claimed") ? CLAIMED
		: !strcmp(PQgetvalue(res, 0, 0), "deferred") ? DEFERRED
		: SKIPPED;
	if (outcome == CLAIMED) {
		snprintf(c->attempts, sizeof(c->attempts), "%s",
			 PQgetvalue(res, 0, 1));
		c->input = strdup(PQgetvalue(res, 0, 2));
		c->seq = atoll(PQgetvalue(res, 0, 3));
		c->capped = !PQgetisnull(res, 0, 4);
		snprintf(c->why, sizeof(c->why), "%s", PQgetvalue(res, 0, 4));
	}
	PQclear(res);
	return outcome;
}

/* Our jobs of the batch, and the claims of it being made. */
static int
local_batch_jobs(struct wk *w, const char *batch_id)
{
	int n = 0;

	for (struct wk_job *j = w->jobs; j; j = j->next)
		n += j->q == &wk_gen_queue && !strcmp(j->t.batch_id, batch_id);
	for (int i = 0; i < w->nclaims; i++)
		n += !strcmp(w->claims[i].t.batch_id, batch_id);
	return n;
}

/* A job or a claim being made of the same project. */
static int
ours_already(struct wk *w, const struct kg_queue_task *t)
{
	for (int i = 0; i < w->nclaims; i++)
		if (!strcmp(w->claims[i].t.ident, t->ident))
			return 1;
	return wk_job_find(w, &wk_gen_queue, t->ident) != NULL;
}

/* Before the claim: 1 go on, else the task was dealt with (*rc). */
static int
may_claim(struct wk *w, const char *task, const struct kg_queue_task *t,
	  enum wk_take *rc)
{
	struct kg_err err = {0};
	int leased;

	*rc = WK_DROP;
	if (ours_already(w, t)) {
		/* a duplicate of our own job */
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return 0;
	}
	if (local_batch_jobs(w, t->batch_id) >=
	    kg_config_int("worker", "concurrency")) {
		/* Full by our own count: no need to ask the database; and
		 * no need to look at it again before one of ours ends. */
		kg_queue_defer(KG_QUEUE_GENERATE, w->id, task, &err);
		wk_skip_add(&wk_state(w, &wk_gen_queue)->skip, t->batch_id,
			    INT64_MAX);
		*rc = WK_DEFER;
		return 0;
	}
	leased = kg_queue_lease(KG_QUEUE_GENERATE, w->id, task,
				kg_config_int("worker", "lease_ms"), &err);
	if (leased == 0)	/* another live worker runs it */
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
	*rc = leased == 0 ? WK_DROP : WK_RETRY;
	return leased > 0;
}

enum wk_take
wk_claim_add(struct wk *w, const char *task, const struct kg_queue_task *t,
	     int progress)
{
	struct wk_claim *c;
	enum wk_take rc;

	if (w->nclaims == WK_CLAIMS_MAX)	/* more takes than claims */
		wk_claims_flush(w);
	if (!may_claim(w, task, t, &rc))
		return rc;
	c = &w->claims[w->nclaims];
	*c = (struct wk_claim){.task = strdup(task), .t = *t};
	if (!c->task) {
		struct kg_err err = {0};

		kg_queue_requeue(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_RETRY;
	}
	snprintf(c->progress, sizeof(c->progress), "%d", progress);
	w->nclaims++;
	return WK_STARTED;
}

/* What a claim that did not become a job does with its task. */
static enum wk_take
claim_not_made(struct wk *w, struct wk_claim *c, enum outcome outcome,
	       const struct kg_err *why)
{
	struct kg_err err = {0};

	if (outcome == FAILED) {
		KG_WARN("claiming project %s failed: %s", c->t.project_id,
			why->message);
		kg_queue_requeue(KG_QUEUE_GENERATE, w->id, c->task, &err);
		return WK_RETRY;
	}
	if (outcome == DEFERRED) {
		kg_queue_defer(KG_QUEUE_GENERATE, w->id, c->task, &err);
		wk_skip_add(&wk_state(w, &wk_gen_queue)->skip, c->t.batch_id,
			    kg_loop_now_ms() + WK_SKIP_MS);
		return WK_DEFER;
	}
	kg_queue_ack(KG_QUEUE_GENERATE, w->id, c->task, &err);
	return WK_DROP;
}

/* The claims being made by one kg_db_pipe_each. */
struct claims_out {
	struct wk *w;
	struct kg_db_piped *p;
	int n;
	enum outcome outcome[WK_CLAIMS_MAX];
	char job[WK_CLAIMS_MAX];	/* the claim became a job */
	struct kg_redis_pipe events;
};

/* A claim's answer, as soon as it is in: a claimed project becomes a
 * job and its first call starts at once, while PostgreSQL still runs
 * the claims after it (the claim answered the cost cap, so the dispatch
 * asks nothing of the database).  Its GENERATING event goes into the
 * events pipeline, published before the loop can handle any answer. */
static void
claim_answered(void *arg, int i)
{
	struct claims_out *o = arg;
	struct wk_claim *c = &o->w->claims[i];
	struct wk_job *j;

	o->outcome[i] = claim_result(o->p[i].res, c);
	if (o->outcome[i] != CLAIMED)
		return;
	j = wk_gen_claimed(o->w, c, &o->events);
	if (!j) {	/* out of memory: the reaper hands it out */
		free(c->input);
		return;
	}
	o->job[i] = 1;
	wk_gen_begin(j);
	if (i < o->n - 1)	/* the request out now, not after the rest */
		kg_loop_kick(o->w->loop);
}

/*
 * A take that found a batch full by our own count skips the batch until
 * one of our jobs of it ends (may_claim, wk_job_end).  That count
 * includes the claims being made, and a claim that does not become a
 * job - its project was stopped meanwhile ('skipped'), the batch is
 * full in the database ('deferred', which skips it again for a moment),
 * the database failed, memory ran out - has no job to end: its place is
 * free now, as when a job ends.  Without this a stopped batch whose
 * claims all came back 'skipped' stayed skipped for ever, its waiting
 * tasks never taken, and "Generuj" after "Zatrzymaj" never generated it
 * again (test_lifecycle_cancel_with_tasks_waiting_then_resume).  Before
 * claim_not_made, which may add the short skip of a deferred claim.
 */
static void
unskip_claims_not_made(struct wk *w, const struct claims_out *o)
{
	struct wk_qstate *s = wk_state(w, &wk_gen_queue);

	for (int i = 0; i < o->n; i++)
		if (!o->job[i])
			wk_skip_del(&s->skip, w->claims[i].t.batch_id);
}

enum wk_take
wk_claims_flush(struct wk *w)
{
	struct kg_db_piped p[WK_CLAIMS_MAX];
	const char *params[WK_CLAIMS_MAX][5];
	char limit[24], user_limit[24];
	struct claims_out o = {.w = w, .p = p, .n = w->nclaims};
	struct kg_err err = {0};
	enum wk_take rc = WK_STARTED;
	int n = w->nclaims;

	if (!n)
		return WK_STARTED;
	snprintf(limit, sizeof(limit), "%lld",
		 kg_config_int("worker", "concurrency"));
	snprintf(user_limit, sizeof(user_limit), "%lld",
		 kg_config_int("worker", "user_concurrency"));
	for (int i = 0; i < n; i++) {
		struct wk_claim *c = &w->claims[i];

		memcpy(params[i], (const char *[5]){c->t.project_id,
			c->t.batch_id, limit, user_limit, c->progress},
		       sizeof(params[i]));
		p[i] = (struct kg_db_piped){claim_sql, 5, params[i]};
	}
	/* a first call that fails at once writes FAILED after the events */
	wk_steps_begin(w);
	kg_db_pipe_each(p, n, claim_answered, &o);
	w->nclaims = 0;
	unskip_claims_not_made(w, &o);
	for (int i = 0; i < n; i++) {
		struct wk_claim *c = &w->claims[i];

		if (o.outcome[i] != CLAIMED &&
		    claim_not_made(w, c, o.outcome[i], &p[i].err) == WK_RETRY)
			rc = WK_RETRY;
		free(c->task);
	}
	if (o.events.n && kg_redis_pipe_run(&o.events, &err) < 0)
		KG_WARN("GENERATING events not published (the relay will "
			"send a snapshot): %s", err.message);
	kg_redis_pipe_free(&o.events);
	wk_steps_flush(w);
	return rc;
}

void
wk_claim_warm(void)
{
	struct kg_err err = {0};

	/* No such batch: 'skipped' at the first statement. */
	PQclear(KG_DB_CALL(&err, claim_sql, WK_NO_ID, WK_NO_ID, "1", "0",
			   "0"));
}
