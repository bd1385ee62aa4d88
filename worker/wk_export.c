/*
 * Exports in the worker (issue 9): take export tasks from
 * kg:queue:export, build the .docx or .zip from the database, store it,
 * record it in export_history and answer the waiting endpoint
 * (kg_export.h describes the exchange).
 *
 * An export is a job on the loop like a generation (issue 18): taken
 * before the other queues (a busy worker is woken by the push through
 * kg:wake:export, an idle one through kg:wake), built at once (a card is
 * a few milliseconds of CPU, a batch of 100 cards well under a second),
 * then its PUT is one more easy handle on the loop's curl multi
 * (kg_storage_put_start), so the AI calls in flight are answered while
 * it uploads.  When it is stored: the export_history row, the answer,
 * the acknowledgement.  With local storage the file is written at once
 * and the job ends inside the take (a local write is not a network
 * wait).  Export jobs do not count in [worker] global_limit.
 *
 * A PUT that got no answer, timed out ([storage] s3_timeout_ms) or got
 * HTTP 5xx/429 is tried again after a back-off (PUT_ATTEMPTS in all,
 * never past the task's deadline: nobody would be waiting); a refusal
 * (403 SignatureDoesNotMatch, a missing bucket) is answered at once.
 * Either way a failure answers 503 storage_unavailable with S3's reason
 * and records nothing.
 *
 * Delivery: taken into our processing list, acknowledged when
 * answered.  If this worker dies in between, the reaper (any worker,
 * wk_house.c) hands the task to another worker; on SIGTERM a PUT still
 * in flight after [worker] shutdown_grace is cancelled and its task
 * handed back to the front of the queue (wk_requeue_all), where another
 * worker builds it again; a task whose endpoint stopped waiting (its
 * deadline passed) is dropped unanswered.
 */
#include "wk.h"

#include "kg_config.h"
#include "kg_export.h"
#include "kg_log.h"
#include "kg_loop.h"
#include "kg_queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUT_ATTEMPTS 3
#define PUT_RETRY_MS 250	/* first back-off, doubled per attempt */

struct export_job {
	struct wk_job j;		/* first: a struct wk_job */
	struct kg_export_task t;
	struct kg_buf data;
	struct kg_export_file f;
	int version;
	int attempt;
	struct kg_storage_put *put;	/* the PUT in flight, or NULL */
	int64_t t0;
};

static const char *
target_id(const struct kg_export_task *t)
{
	return t->q.project_id[0] ? t->q.project_id : t->q.batch_id;
}

/* A card's export names its project, a batch's its batch. */
static const char *
project_of(const struct kg_export_task *t)
{
	return t->q.project_id[0] ? t->q.project_id : NULL;
}

static const char *
batch_of(const struct kg_export_task *t)
{
	return t->q.project_id[0] ? NULL : t->q.batch_id;
}

static int
build(const struct kg_export_task *t, struct kg_buf *data, int *version,
      struct kg_err *err)
{
	if (!strcmp(t->q.kind, KG_TASK_EXPORT_DOCX) && t->q.project_id[0])
		return kg_export_card(t->q.project_id, data, version, err);
	if (!strcmp(t->q.kind, KG_TASK_EXPORT_ZIP) && t->q.batch_id[0])
		return kg_export_zip(t->q.batch_id, time(NULL), data, err);
	return kg_err_set(err, 400, "bad_task", "unknown export task %.31s",
			  t->q.kind);
}

/* The waiting endpoint gets f (fail NULL) or the failure. */
static void
answer(const struct kg_export_task *t, const struct kg_export_file *f,
       const struct kg_err *fail, int64_t t0)
{
	struct kg_err err = {0};

	if (!fail)
		KG_INFO("%s %s: %lld bytes stored as %s:%s (%lld ms)",
			t->q.kind, target_id(t), f->size, f->backend, f->key,
			(long long)(kg_loop_now_ms() - t0));
	else
		KG_WARN("%s %s failed: %d %s: %s", t->q.kind, target_id(t),
			fail->status, fail->code, fail->message);
	if (kg_export_reply(t->request_id, fail ? NULL : f, fail, &err) < 0)
		KG_WARN("export answer not delivered: %s", err.message);
}

static void put_file(struct wk_job *j);

/* The PUT ended (err NULL: stored): record and answer, or try again. */
static void
stored(void *arg, const struct kg_err *fail, int again)
{
	struct export_job *e = arg;
	struct kg_err err = {0};
	long long backoff = (long long)PUT_RETRY_MS << (e->attempt - 1);

	e->put = NULL;
	kg_log_set_request_id(e->t.request_id);
	if (fail && again && e->attempt < PUT_ATTEMPTS &&
	    (!e->t.deadline ||
	     kg_export_now_ms() + backoff < e->t.deadline)) {
		KG_INFO("%s %s: store attempt %d failed (%s), again in %lld ms",
			e->t.q.kind, target_id(&e->t), e->attempt,
			fail->message, backoff);
		wk_job_later(&e->j, (long)backoff, put_file);
		goto out;
	}
	if (!fail && kg_export_record(e->t.user_id, project_of(&e->t),
				      e->version, batch_of(&e->t), &e->f,
				      &err) < 0)
		fail = &err;
	answer(&e->t, &e->f, fail, e->t0);
	wk_job_end(&e->j, 1);
out:
	kg_log_set_request_id(NULL);
}

static void
put_file(struct wk_job *j)
{
	struct export_job *e = (struct export_job *)j;
	struct kg_err err = {0};
	int rc;

	e->attempt++;
	rc = kg_storage_put_start(j->w->loop, e->f.key,
				  e->data.data ? e->data.data : "",
				  e->data.len, stored, e, &e->put, &err);
	if (rc != 0)	/* stored at once (local) or failed at once */
		stored(e, rc < 0 ? &err : NULL, 0);
}

static void
free_job(struct wk_job *j)
{
	struct export_job *e = (struct export_job *)j;

	kg_storage_put_cancel(e->put);
	kg_buf_free(&e->data);
}

/* Build the file now; its storing becomes a job (see the top comment). */
static enum wk_take
export_start(struct wk *w, const char *task)
{
	struct kg_export_task t;
	struct kg_err err = {0};
	struct kg_buf data = {0};
	struct export_job *e = NULL;
	int64_t t0 = kg_loop_now_ms();
	int version = 0;

	/* The lease also takes the task off kg:queued:export.  Two workers
	 * may run exports of the same project at once (two downloads):
	 * harmless, so a lease held elsewhere is no reason to wait. */
	kg_queue_lease(KG_QUEUE_EXPORT, w->id, task,
		       kg_config_int("worker", "lease_ms"), &err);
	if (kg_export_task_parse(task, &t) < 0) {
		KG_WARN("dropping a malformed export task: %.120s", task);
		goto ack;
	}
	kg_log_set_request_id(t.request_id);
	if (t.deadline && kg_export_now_ms() > t.deadline) {
		KG_INFO("%s: nobody waits for it any more, dropped", t.q.kind);
		goto ack;
	}
	if (build(&t, &data, &version, &err) < 0) {
		answer(&t, NULL, &err, t0);
		goto ack;
	}
	e = (struct export_job *)wk_job_new(w, &wk_export_queue, task, &t.q,
					    sizeof(*e));
	if (!e) {
		kg_err_set(&err, 500, "internal", "out of memory");
		answer(&t, NULL, &err, t0);
		goto ack;
	}
	e->t = t;
	e->data = data;
	e->version = version;
	e->t0 = t0;
	kg_export_file_of(project_of(&t), version, batch_of(&t), &data,
			  &e->f);
	put_file(&e->j);
	kg_log_set_request_id(NULL);
	return WK_STARTED;
ack:
	kg_buf_free(&data);
	if (kg_queue_ack(KG_QUEUE_EXPORT, w->id, task, &err) < 0)
		KG_WARN("export task not acknowledged: %s", err.message);
	kg_log_set_request_id(NULL);
	return WK_DROP;
}

/* Jobs that do not count in global_limit; nothing to write back on
 * shutdown (the task goes back, the next worker builds it again); no
 * reconciler: a lost export task is an endpoint that stopped waiting. */
const struct wk_queue wk_export_queue = {
	.id = WK_Q_EXPORT,
	.queue = KG_QUEUE_EXPORT,
	.woken = 1,
	.noun = "export",
	.takes_per_turn = 4,
	.start = export_start,
	.free_job = free_job,
};
