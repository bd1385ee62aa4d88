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
 * (sql/007_worker_steps.sql): one round trip, which also answers the
 * cost cap for the project's first call.
 */
#include "wk.h"

#include "kg_config.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum outcome { FAILED = -1, CLAIMED, DEFERRED, SKIPPED };

static const char claim_sql[] =
	"SELECT o_outcome, o_attempts, o_input, o_seq, o_cap "
	"FROM kg_gen_claim($1::uuid, $2::uuid, $3::int, $4::int, "
	"$5::smallint)";

/* The claim in PostgreSQL (FAILED: the database failed, err says
 * why). */
static enum outcome
claim_row(const struct kg_queue_task *t, int progress, struct wk_claim *c,
	  struct kg_err *err)
{
	char limit[24], user_limit[24], prog[8];
	enum outcome outcome;
	PGresult *res;

	snprintf(limit, sizeof(limit), "%lld",
		 kg_config_int("worker", "concurrency"));
	snprintf(user_limit, sizeof(user_limit), "%lld",
		 kg_config_int("worker", "user_concurrency"));
	snprintf(prog, sizeof(prog), "%d", progress);
	res = KG_DB_CALL(err, claim_sql, t->project_id, t->batch_id, limit,
			 user_limit, prog);
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
may_claim(struct wk *w, const char *task, const struct kg_queue_task *t,
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
wk_claim(struct wk *w, const char *task, const struct kg_queue_task *t,
	 int progress, struct wk_claim *c)
{
	struct kg_err err = {0};
	enum outcome outcome;
	enum wk_take rc;

	if (!may_claim(w, task, t, &rc))
		return rc;
	outcome = claim_row(t, progress, c, &err);
	if (outcome == FAILED) {
		KG_WARN("claiming project %s failed: %s", t->project_id,
			err.message);
		kg_queue_requeue(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_RETRY;
	}
	if (outcome == DEFERRED) {
		kg_queue_defer(KG_QUEUE_GENERATE, w->id, task, &err);
		wk_skip_add(&wk_state(w, &wk_gen_queue)->skip, t->batch_id,
			    kg_loop_now_ms() + WK_SKIP_MS);
		return WK_DEFER;
	}
	if (outcome == SKIPPED) {
		kg_queue_ack(KG_QUEUE_GENERATE, w->id, task, &err);
		return WK_DROP;
	}
	return WK_STARTED;
}

void
wk_claim_warm(void)
{
	struct kg_err err = {0};

	/* No such batch: 'skipped' at the first statement. */
	PQclear(KG_DB_CALL(&err, claim_sql, WK_NO_ID, WK_NO_ID, "1", "0",
			   "0"));
}
