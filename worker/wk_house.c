/*
 * Housekeeping of the queues, run from the worker's loop, written once
 * over the queue descriptions (struct wk_queue):
 *
 *   every lease_ms/3   heartbeat (kg:worker:<id>) and renewal of every
 *                      running job's lease; a lease another worker took
 *                      over means we lost the task: the job is dropped
 *                      (its writes would be fenced off anyway)
 *   every lease_ms/2   the reaper, per queue: tasks of workers without
 *                      heartbeat go back to the queue; and tasks in our
 *                      own processing list that no job of ours runs (a
 *                      failure between two Redis calls) go back too
 *   every reconcile_interval s  the reconciler of each queue that has
 *                      one (one worker at a time, a Redis lock per
 *                      queue): every row its lost_sql finds (generation:
 *                      projects QUEUED or GENERATING, queued more than
 *                      reconcile_grace s ago; regeneration: requests
 *                      older than that) whose task has no lease and is
 *                      not waiting in the queue is pushed again.  It
 *                      must look lost on two passes in a row: right after
 *                      a FLUSHALL the working worker re-creates its
 *                      lease within lease_ms/3, and should keep its task.
 */
#include "wk.h"

#include "kg_config.h"
#include "kg_db.h"
#include "kg_export.h"
#include "kg_log.h"
#include "kg_queue.h"
#include "kg_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
runs_here(struct wk *w, const struct wk_queue *q, const char *task)
{
	for (struct wk_job *j = w->jobs; j; j = j->next)
		if (j->q == q && !strcmp(j->task, task))
			return 1;
	return 0;
}

/* Tasks in our own processing list that no job of ours runs (a failure
 * between two Redis calls) go back to the queue. */
static void
self_reap(struct wk *w, const struct wk_queue *q)
{
	struct kg_err err = {0};
	size_t n = 0;
	char **tasks = kg_queue_processing(q->queue, w->id, &n, &err);

	for (size_t i = 0; i < n; i++) {
		if (!runs_here(w, q, tasks[i]) &&
		    kg_queue_requeue(q->queue, w->id, tasks[i], &err) == 0)
			KG_INFO("requeued a stray %s task of ours: %.120s",
				q->queue, tasks[i]);
		free(tasks[i]);
	}
	free(tasks);
}

static void
reap(struct wk *w, const struct wk_queue *q)
{
	struct kg_err err = {0};
	long long n = kg_queue_reap(q->queue, &err);

	if (n > 0)
		KG_INFO("reaper: %lld task(s) of dead workers requeued", n);
	if (q->counts)	/* its tasks become jobs */
		self_reap(w, q);
}

static int
was_suspect(const struct wk_qstate *s, const char *id)
{
	for (size_t i = 0; i < s->nsuspects; i++)
		if (!strcmp(s->suspects[i], id))
			return 1;
	return 0;
}

static void
free_suspects(struct wk_qstate *s)
{
	for (size_t i = 0; i < s->nsuspects; i++)
		free(s->suspects[i]);
	free(s->suspects);
	s->suspects = NULL;
	s->nsuspects = 0;
}

static int
reconcile_lock(struct wk *w, const struct wk_queue *q)
{
	struct kg_err err = {0};
	long long ms =
		kg_config_int("worker", "reconcile_interval") * 1000 - 100;
	char px[24];
	redisReply *r;
	int got;

	snprintf(px, sizeof(px), "%lld", ms > 100 ? ms : 100);
	r = kg_redis_cmd(&err, "SET %s %s NX PX %s", q->lock, w->id, px);
	got = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	return got;
}

/* Row i of the reconciler's query: 1 pushed again, 0 not (a suspect
 * now when it looks lost for the first time). */
static int
reconcile_row(const struct wk_queue *q, struct wk_qstate *s, PGresult *res,
	      int i, char **now, size_t *nnow)
{
	const char *id = PQgetvalue(res, i, 0);
	struct kg_err err = {0};
	char *task = q->task_of(res, i);
	int lost = task ? kg_queue_push_lost(q->queue, task, 1, &err) : -1,
	    pushed = 0;

	if (lost == 1 && was_suspect(s, id))
		pushed = kg_queue_push_lost(q->queue, task, 0, &err) == 1;
	else if (lost == 1)
		now[(*nnow)++] = strdup(id);
	free(task);
	return pushed;
}

static void
reconcile(struct wk *w, const struct wk_queue *q)
{
	struct wk_qstate *s = wk_state(w, q);
	char grace[24];
	struct kg_err err = {0};
	PGresult *res;
	char **now = NULL;
	size_t nnow = 0;
	int pushed = 0, rows;

	if (!reconcile_lock(w, q))
		return;
	snprintf(grace, sizeof(grace), "%lld",
		 kg_config_int("worker", "reconcile_grace"));
	res = KG_DB_QUERY(&err, q->lost_sql, grace);
	if (!res) {
		KG_WARN("reconciler (%s): %s", q->queue, err.message);
		return;
	}
	rows = PQntuples(res);
	now = calloc((size_t)rows + 1, sizeof(*now));
	for (int i = 0; now && i < rows; i++)
		pushed += reconcile_row(q, s, res, i, now, &nnow);
	PQclear(res);
	free_suspects(s);
	s->suspects = now;
	s->nsuspects = nnow;
	if (pushed)
		KG_INFO("reconciler: re-enqueued %d %s the queue had lost",
			pushed, q->lost_noun);
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
	long long days = kg_config_int("export", "retention_days");
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

/* Slot figures for /metrics (kg_metrics.c), kept as long as the
 * heartbeat; one script, so the hash never outlives its TTL. */
static void
publish_slots(struct wk *w, long long lease)
{
	char used[24], offered[24], running[16], limit[24], ms[24], key[128];
	struct kg_err err = {0};
	redisReply *r;

	snprintf(key, sizeof(key), "kg:workerstat:%s", w->id);
	snprintf(used, sizeof(used), "%lld", (long long)w->slot_ms_used);
	snprintf(offered, sizeof(offered), "%lld",
		 (long long)w->slot_ms_offered);
	snprintf(running, sizeof(running), "%d", w->njobs);
	snprintf(limit, sizeof(limit), "%lld",
		 kg_config_int("worker", "global_limit"));
	snprintf(ms, sizeof(ms), "%lld", lease);
	r = kg_redis_argv(&err, 9, (const char *[]){
		"EVAL",
		"redis.call('HSET', KEYS[1], 'used_ms', ARGV[1], 'offered_ms', "
		"ARGV[2], 'running', ARGV[3], 'limit', ARGV[4]) "
		"redis.call('PEXPIRE', KEYS[1], ARGV[5]) return 1",
		"1", key, used, offered, running, limit, ms}, NULL);
	freeReplyObject(r);
}

static void
unsubscribe(struct wk *w)
{
	if (!w->wake)
		return;
	kg_loop_unwatch(w->loop, w->wake->fd);
	redisFree(w->wake);
	w->wake = NULL;
}

/* The .woken queues are looked at in the next turn. */
static void
look_again(struct wk *w)
{
	for (int i = 0; i < WK_NQUEUES; i++)
		if (wk_queues[i]->woken)
			wk_state(w, wk_queues[i])->take_after = 0;
}

/* A push to a .woken queue: the loop's turn ends, the next take finds
 * it (export is taken from first). */
static void
woken(void *arg)
{
	struct wk *w = arg;

	if (kg_queue_woken(w->wake) < 0) {
		KG_INFO("queue wake-up connection lost; reconnecting");
		unsubscribe(w);
	}
	look_again(w);
}

/* The .woken queues' wake-up, (re)connected at most once a second;
 * what was pushed meanwhile is looked for at once. */
static void
subscribe(struct wk *w, int64_t now)
{
	const char *qs[WK_NQUEUES];
	struct kg_err err = {0};
	size_t n = 0;

	if (w->wake || now < w->next_wake_try || w->stopping)
		return;
	w->next_wake_try = now + 1000;
	for (int i = 0; i < WK_NQUEUES; i++)
		if (wk_queues[i]->woken)
			qs[n++] = wk_queues[i]->queue;
	w->wake = kg_queue_subscribe(qs, n, &err);
	if (w->wake &&
	    kg_loop_watch(w->loop, w->wake->fd, woken, w, &err) < 0) {
		redisFree(w->wake);
		w->wake = NULL;
	}
	/* (Re)connected: Redis may have restarted empty, so the
	 * heartbeat puts us back in the registry in the next turn. */
	if (w->wake)
		w->next_heartbeat = now;
	look_again(w);
}

void
wk_house(struct wk *w)
{
	int64_t now = kg_loop_now_ms();
	long long lease = kg_config_int("worker", "lease_ms");
	struct kg_err err = {0};

	if (now >= w->next_heartbeat) {
		int ok = kg_queue_heartbeat(w->id, lease, &err) == 0;

		if (ok) {
			wk_renew(w);
			publish_slots(w, lease);
		}
		/* a missed one is tried again within a second: the
		 * registry (the batch page's worker count, --cron's
		 * check) is right soon after Redis is back */
		w->next_heartbeat =
			now + (ok || lease / 3 < 1000 ? lease / 3 : 1000);
	}
	if (now >= w->next_reap) {
		for (int i = 0; i < WK_NQUEUES; i++)
			reap(w, wk_queues[i]);
		w->next_reap = now + lease / 2;
	}
	if (now >= w->next_reconcile && !w->stopping) {
		for (int i = 0; i < WK_NQUEUES; i++)
			if (wk_queues[i]->lost_sql)
				reconcile(w, wk_queues[i]);
		w->next_reconcile =
			now +
			kg_config_int("worker", "reconcile_interval") * 1000;
	}
	if (now >= next_prune && !w->stopping) {
		prune_exports(w);
		next_prune = now + 3600 * 1000;
	}
	subscribe(w, now);
}

void
wk_house_free(struct wk *w)
{
	unsubscribe(w);
	for (int i = 0; i < WK_NQUEUES; i++)
		free_suspects(&w->qs[i]);
}

void
wk_skip_add(struct wk_skip *s, const char *batch_id, int64_t until)
{
	size_t i;

	for (i = 0; i < s->n && strcmp(s->batch[i], batch_id); i++)
		;
	if (i == s->n) {
		if (s->n == KG_QUEUE_MAX_SKIP)
			return;	/* more full batches than a take can name */
		snprintf(s->batch[s->n++], sizeof(s->batch[0]), "%s", batch_id);
	}
	s->until[i] = until;
}

static void
skip_remove(struct wk_skip *s, size_t i)
{
	s->n--;
	if (i != s->n) {
		memcpy(s->batch[i], s->batch[s->n], sizeof(s->batch[0]));
		s->until[i] = s->until[s->n];
	}
}

void
wk_skip_del(struct wk_skip *s, const char *batch_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->batch[i], batch_id)) {
			skip_remove(s, i);
			return;
		}
}

size_t
wk_skip_list(struct wk_skip *s, int64_t now, const char **out)
{
	for (size_t i = 0; i < s->n;)
		if (s->until[i] <= now)
			skip_remove(s, i);
		else
			i++;
	for (size_t i = 0; i < s->n; i++)
		out[i] = s->batch[i];
	return s->n;
}
