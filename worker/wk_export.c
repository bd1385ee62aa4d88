/*
 * Exports in the worker (issue 9): take export tasks from
 * kg:queue:export, build the .docx or .zip from the database, store it,
 * record it in export_history and answer the waiting endpoint
 * (kg_export.h describes the exchange).
 *
 * An export is short (a card is a few milliseconds of CPU, a batch of
 * 100 cards well under a second) and the endpoint is waiting for it, so
 * it runs to completion inside one loop turn rather than as a job on
 * the event loop: a few per turn (wk_export_queue, taken before the
 * other queues; an idle worker is woken by the push through kg:wake).
 * The price is that an S3 PUT holds the loop for its duration, bounded
 * by [storage] s3_timeout_ms;
 * generation calls in flight just see their answers a little later.
 *
 * Delivery: taken into our processing list, acknowledged when
 * answered.  If this worker dies in between, the reaper (any worker,
 * wk_house.c) hands the task to another worker; a task whose
 * endpoint stopped waiting (its deadline passed) is dropped unanswered.
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

static int
build_and_store(const struct kg_export_task *t, struct kg_export_file *f,
		struct kg_err *err)
{
	struct kg_buf data = {0};
	int version = 0, rc = -1;

	if (!strcmp(t->kind, KG_TASK_EXPORT_DOCX) && t->project_id[0]) {
		if (kg_export_card(t->project_id, &data, &version, err) == 0)
			rc = kg_export_store(t->user_id, t->project_id,
					     version, NULL, &data, f, err);
	} else if (!strcmp(t->kind, KG_TASK_EXPORT_ZIP) && t->batch_id[0]) {
		if (kg_export_zip(t->batch_id, time(NULL), &data, err) == 0)
			rc = kg_export_store(t->user_id, NULL, 0, t->batch_id,
					     &data, f, err);
	} else {
		kg_err_set(err, 400, "bad_task", "unknown export task %.31s",
			   t->kind);
	}
	kg_buf_free(&data);
	return rc;
}

static void
run(const char *json)
{
	struct kg_export_task t;
	struct kg_export_file f;
	struct kg_err fail = {0}, err = {0};
	int64_t t0 = kg_loop_now_ms();
	int rc;

	if (kg_export_task_parse(json, &t) < 0) {
		KG_WARN("dropping a malformed export task: %.120s", json);
		return;
	}
	kg_log_set_request_id(t.request_id);
	if (t.deadline && kg_export_now_ms() > t.deadline) {
		KG_INFO("%s: nobody waits for it any more, dropped", t.kind);
		goto out;
	}
	rc = build_and_store(&t, &f, &fail);
	if (rc == 0)
		KG_INFO("%s %s: %lld bytes stored as %s:%s (%lld ms)", t.kind,
			t.project_id[0] ? t.project_id : t.batch_id, f.size,
			f.backend, f.key, (long long)(kg_loop_now_ms() - t0));
	else
		KG_WARN("%s %s failed: %d %s: %s", t.kind,
			t.project_id[0] ? t.project_id : t.batch_id,
			fail.status, fail.code, fail.message);
	if (kg_export_reply(t.request_id, rc == 0 ? &f : NULL,
			    rc == 0 ? NULL : &fail, &err) < 0)
		KG_WARN("export answer not delivered: %s", err.message);
out:
	kg_log_set_request_id(NULL);
}

/* Runs a taken export task to the end (see the top comment). */
static enum wk_take
export_start(struct wk *w, const char *task)
{
	struct kg_err err = {0};

	/* The lease also takes the task off kg:queued:export.  Two workers
	 * may run exports of the same project at once (two downloads):
	 * harmless, so a lease held elsewhere is no reason to wait. */
	kg_queue_lease(KG_QUEUE_EXPORT, w->id, task,
		       kg_conf_int("worker", "lease_ms"), &err);
	run(task);
	if (kg_queue_ack(KG_QUEUE_EXPORT, w->id, task, &err) < 0)
		KG_WARN("export task not acknowledged: %s", err.message);
	return WK_DROP;
}

/* No jobs, so nothing to renew or hand back; no reconciler: a lost
 * export task is an endpoint that stopped waiting. */
const struct wk_queue wk_export_queue = {
	.id = WK_Q_EXPORT,
	.queue = KG_QUEUE_EXPORT,
	.woken = 1,
	.noun = "export",
	.takes_per_turn = 4,
	.start = export_start,
};
