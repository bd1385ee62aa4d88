/*
 * The one task core of the worker: every queue is a struct wk_queue
 * (how a task starts, what its job frees and writes back on shutdown,
 * what the reconciler looks for, the AI hooks); this file keeps the
 * job list and the take loop over the queues.
 *
 * Taking: each turn, from each queue in wk_queues order, up to its
 * takes_per_turn tasks while the worker is below [worker] global_limit
 * (the jobs of counting queues; exports run to the end inside the turn
 * and do not count).  A fair queue serves batches round robin
 * (kg_queue.h); a batch found full is skipped for a moment (struct
 * wk_skip) instead of pausing all taking, so the free slots go to the
 * other batches at once.  A start that failed on the database or Redis
 * pauses the queue for RETRY_PAUSE_MS; when Redis does not answer a
 * take or the idle wait, all taking pauses for UNAVAILABLE_PAUSE_MS (a
 * second).  A worker with no job that took
 * nothing waits on kg:wake, which every push to any queue signals.  A
 * .woken queue (export, regenerate) found empty is left alone until
 * its wake-up (wk_house.c) says a push came, or WK_WOKEN_POLL_MS.
 */
#include "wk.h"

#include "kg_ai.h"
#include "kg_config.h"
#include "kg_log.h"

#include <stdlib.h>
#include <string.h>

#define IDLE_BLOCK_MS 200
#define RETRY_PAUSE_MS 100
#define UNAVAILABLE_PAUSE_MS 1000

const struct wk_queue *const wk_queues[WK_NQUEUES] = {
	[WK_Q_EXPORT] = &wk_export_queue,
	[WK_Q_REGENERATE] = &wk_regen_queue,
	[WK_Q_GENERATE] = &wk_gen_queue,
};

struct wk_qstate *
wk_state(struct wk *w, const struct wk_queue *q)
{
	return &w->qs[q->id];
}

struct wk_job *
wk_job_new(struct wk *w, const struct wk_queue *q, const char *task,
	   const struct kg_queue_task *t, size_t size)
{
	struct wk_job *j = calloc(1, size);

	if (!j)
		return NULL;
	j->task = strdup(task);
	if (!j->task) {
		free(j);
		return NULL;
	}
	j->w = w;
	j->q = q;
	j->t = *t;
	j->fo.attempt = 1;
	j->next = w->jobs;
	w->jobs = j;
	w->njobs += q->counts;
	return j;
}

static void
job_free(struct wk_job *j)
{
	kg_ai_cancel(j->call);
	if (j->timer)
		kg_loop_timer_cancel(j->w->loop, j->timer);
	if (j->q->free_job)
		j->q->free_job(j);
	if (j->call_log)	/* no step of the job got through */
		kg_ai_log_write(j->t.batch_id, j->t.project_id, j->call_log);
	free(j->call_log);
	free(j->task);
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
		j->w->njobs -= j->q->counts;
	}
}

void
wk_job_end(struct wk_job *j, int ack)
{
	struct wk_qstate *s = wk_state(j->w, j->q);
	struct kg_err err = {0};

	job_unlink(j);
	s->take_after = 0;	/* a slot is free: look at the queue now */
	wk_skip_del(&s->skip, j->t.batch_id);
	if (ack && kg_queue_ack(j->q->queue, j->w->id, j->task, &err) < 0)
		KG_WARN("ack of %s failed (the reaper will sort it out): %s",
			j->t.ident, err.message);
	job_free(j);
}

static void
job_timer(void *arg)
{
	struct wk_job *j = arg;

	j->timer = 0;
	j->then(j);
}

void
wk_job_later(struct wk_job *j, long ms, void (*fn)(struct wk_job *j))
{
	j->then = fn;
	j->timer = kg_loop_timer(j->w->loop, ms, job_timer, j);
}

struct wk_job *
wk_job_find(struct wk *w, const struct wk_queue *q, const char *ident)
{
	for (struct wk_job *j = w->jobs; j; j = j->next)
		if (j->q == q && !strcmp(j->t.ident, ident))
			return j;
	return NULL;
}

static int
may_take(struct wk *w, const struct wk_queue *q, long long limit)
{
	/* the claims being made (wk_claim.c) will be jobs */
	return !*w->stop && (!q->counts || w->njobs + w->nclaims < limit);
}

/* One queue's takes of this turn; their number.  *failed when Redis
 * did not answer. */
static int
take_queue(struct wk *w, const struct wk_queue *q, int *failed)
{
	struct wk_qstate *s = wk_state(w, q);
	long long limit = kg_config_int("worker", "global_limit");
	int n = 0;

	if (kg_loop_now_ms() < s->take_after)
		return 0;
	while (n < q->takes_per_turn && may_take(w, q, limit)) {
		struct kg_err err = {0};
		const char *skip[KG_QUEUE_MAX_SKIP];
		size_t nskip = wk_skip_list(&s->skip, kg_loop_now_ms(), skip);
		char *task = kg_queue_take(q->queue, w->id, skip, nskip, &err);

		if (!task) {
			*failed |= err.status != 0;
			if (q->woken && w->wake && !err.status)
				s->take_after = kg_loop_now_ms() +
						WK_WOKEN_POLL_MS;
			break;
		}
		n++;
		if (q->start(w, task) == WK_RETRY) {
			free(task);
			s->take_after = kg_loop_now_ms() + RETRY_PAUSE_MS;
			break;
		}
		free(task);
	}
	if (q->flush && q->flush(w) == WK_RETRY)
		s->take_after = kg_loop_now_ms() + RETRY_PAUSE_MS;
	return n;
}

int
wk_take(struct wk *w, int *more)
{
	int taken = 0, failed = 0;

	*more = 0;
	if (w->stopping || kg_loop_now_ms() < w->redis_retry_at)
		return 0;
	for (int i = 0; i < WK_NQUEUES && !failed; i++) {
		const struct wk_queue *q = wk_queues[i];
		int n;

		if (q->needs_data && !w->data_loaded)
			continue;
		n = take_queue(w, q, &failed);
		*more |= n == q->takes_per_turn;
		taken += n;
	}
	if (!taken && !w->jobs && !failed && w->data_loaded) {
		struct kg_err err = {0};

		failed = kg_queue_wait(IDLE_BLOCK_MS, &err) < 0;
	}
	if (failed)	/* Redis down: taking and waiting once a second */
		w->redis_retry_at = kg_loop_now_ms() + UNAVAILABLE_PAUSE_MS;
	return taken;
}

void
wk_renew(struct wk *w)
{
	long long lease = kg_config_int("worker", "lease_ms");
	struct wk_job *j = w->jobs, *next;

	for (; j; j = next) {
		struct kg_err err = {0};

		next = j->next;
		/* a queue without a reconciler (export) shares its lease */
		if (kg_queue_renew(w->id, j->task, lease, &err) == 0 &&
		    j->q->lost_sql) {
			KG_WARN("lost the lease of %s; abandoning it",
				j->t.ident);
			wk_job_end(j, 1);
		}
	}
}

void
wk_requeue_all(struct wk *w)
{
	while (w->jobs) {
		struct wk_job *j = w->jobs;
		struct kg_err err = {0};

		kg_ai_cancel(j->call);
		j->call = NULL;
		if (j->q->hand_back)
			j->q->hand_back(j);
		/* Whatever the database said, the task goes back: if the
		 * write failed the next worker re-claims it. */
		if (kg_queue_requeue(j->q->queue, w->id, j->task, &err) < 0)
			KG_WARN("requeue of %s failed (the reconciler will "
				"recover it): %s", j->t.ident, err.message);
		else
			KG_INFO("%s %s handed back to the queue", j->q->noun,
				j->t.ident);
		wk_job_end(j, 0);
	}
}
