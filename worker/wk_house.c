/*
 * Housekeeping of the queue, run from the worker's loop:
 *
 *   every lease_ms/3   heartbeat (kg:worker:<id>) and renewal of every
 *                      running job's lease; a lease another worker took
 *                      over means we lost the project: the job is
 *                      dropped (its writes would be fenced off anyway)
 *   every lease_ms/2   the reaper: tasks of workers without heartbeat go
 *                      back to the queue; and tasks in our own processing
 *                      list that no job of ours runs (a failure between
 *                      two Redis calls) go back too
 *   every reconcile_interval s  the reconciler (one worker at a time, a
 *                      Redis lock): every project PostgreSQL says is
 *                      QUEUED or GENERATING, queued more than
 *                      reconcile_grace s ago, with no lease and not
 *                      waiting in the queue, is pushed again.  It must
 *                      look lost on two passes in a row: right after a
 *                      FLUSHALL the working worker re-creates its lease
 *                      within lease_ms/3, and should keep its project.
 */
#include "wk.h"

#include "kg_config.h"
#include "kg_db.h"
#include "kg_export.h"
#include "kg_log.h"
#include "kg_queue.h"
#include "kg_redis.h"

#include <stdlib.h>
#include <string.h>

static void
self_reap(struct wk *w)
{
	struct kg_err err = {0};
	size_t n = 0;
	char **tasks = kg_queue_processing(KG_QUEUE_GENERATE, w->id, &n, &err);

	for (size_t i = 0; i < n; i++) {
		if (!wk_gen_has(w, tasks[i]) &&
		    kg_queue_requeue(KG_QUEUE_GENERATE, w->id, tasks[i],
				     &err) == 0)
			KG_INFO("requeued a stray task of ours: %.120s",
				tasks[i]);
		free(tasks[i]);
	}
	free(tasks);
}

static void
reap(struct wk *w)
{
	struct kg_err err = {0};
	long long n = kg_queue_reap(KG_QUEUE_GENERATE, &err);

	if (n > 0)
		KG_INFO("reaper: %lld task(s) of dead workers requeued", n);
	self_reap(w);
}

static int
was_suspect(struct wk *w, const char *id)
{
	for (size_t i = 0; i < w->nsuspects; i++)
		if (!strcmp(w->suspects[i], id))
			return 1;
	return 0;
}

static void
free_suspects(char **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

static int
reconcile_lock(struct wk *w)
{
	struct kg_err err = {0};
	long long ms = kg_conf_int("worker", "reconcile_interval") * 1000 - 100;
	char px[24];
	redisReply *r;
	int got;

	snprintf(px, sizeof(px), "%lld", ms > 100 ? ms : 100);
	r = kg_redis_cmd(&err, "SET kg:lock:reconcile %s NX PX %s", w->id, px);
	got = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	return got;
}

static void
reconcile(struct wk *w)
{
	char grace[24];
	struct kg_err err = {0};
	PGresult *res;
	char **now = NULL;
	size_t nnow = 0;
	int pushed = 0, rows;

	if (!reconcile_lock(w))
		return;
	snprintf(grace, sizeof(grace), "%lld",
		 kg_conf_int("worker", "reconcile_grace"));
	res = KG_DB_QUERY(&err,
		"SELECT id, batch_id FROM projects "
		"WHERE status IN ('QUEUED', 'GENERATING') AND (queued_at IS NULL "
		"OR queued_at < now() - $1::int * interval '1 second') "
		"ORDER BY queued_at NULLS FIRST LIMIT 10000", grace);
	if (!res) {
		KG_WARN("reconciler: %s", err.message);
		return;
	}
	rows = PQntuples(res);
	now = calloc((size_t)rows + 1, sizeof(*now));
	for (int i = 0; now && i < rows; i++) {
		const char *id = PQgetvalue(res, i, 0);
		char *task = kg_task_json("generate", id, PQgetvalue(res, i, 1));
		int lost = task ? kg_queue_push_lost(KG_QUEUE_GENERATE, task, 1,
						     &err) : -1;

		if (lost == 1 && was_suspect(w, id)) {
			if (kg_queue_push_lost(KG_QUEUE_GENERATE, task, 0,
					       &err) == 1)
				pushed++;
		} else if (lost == 1) {
			now[nnow++] = strdup(id);
		}
		free(task);
	}
	PQclear(res);
	free_suspects(w->suspects, w->nsuspects);
	w->suspects = now;
	w->nsuspects = nnow;
	if (pushed)
		KG_INFO("reconciler: re-enqueued %d project(s) the queue had "
			"lost", pushed);
}

/*
 * Export retention: when [export] retention_days is set, one worker a
 * day (whichever takes the Redis lock first; it lasts a day) prunes old
 * stored exports (kg_export_prune).  Every worker asks once an hour, so
 * the day's run happens within an hour of the lock expiring.
 */
static int64_t next_prune;

static void
prune_exports(struct wk *w)
{
	long long days = kg_conf_int("export", "retention_days");
	struct kg_err err = {0};
	redisReply *r;
	long long n;
	int got;

	if (days <= 0)
		return;
	r = kg_redis_cmd(&err, "SET kg:lock:prune-exports %s NX EX 86400",
			 w->id);
	got = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!got)
		return;
	n = kg_export_prune(days * 86400, 1000, &err);
	if (n < 0)
		KG_WARN("export retention: %s (next try tomorrow)", err.message);
	else if (n)
		KG_INFO("export retention: %lld export(s) older than %lld "
			"day(s) pruned", n, days);
}

void
wk_house(struct wk *w)
{
	int64_t now = kg_loop_now_ms();
	long long lease = kg_conf_int("worker", "lease_ms");
	struct kg_err err = {0};

	if (now >= w->next_heartbeat) {
		if (kg_queue_heartbeat(w->id, lease, &err) == 0)
			wk_gen_renew(w);
		w->next_heartbeat = now + lease / 3;
	}
	if (now >= w->next_reap) {
		reap(w);
		w->next_reap = now + lease / 2;
	}
	if (now >= w->next_reconcile && !w->stopping) {
		reconcile(w);
		w->next_reconcile =
			now + kg_conf_int("worker", "reconcile_interval") * 1000;
	}
	if (now >= next_prune && !w->stopping) {
		prune_exports(w);
		next_prune = now + 3600 * 1000;
	}
}

void
wk_house_free(struct wk *w)
{
	free_suspects(w->suspects, w->nsuspects);
	w->suspects = NULL;
	w->nsuspects = 0;
}
