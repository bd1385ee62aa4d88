/*
 * kg_batch - generation requests (kg_batch_generate in kg_batch.h): the
 * transaction that moves projects to QUEUED, then the queue and the
 * events after COMMIT.
 */
#include "kg_batch.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_log.h"
#include "kg_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gen {
	const char *batch_id;
	const struct kg_user *u;
	char *ids_json;		/* JSON array of uuids, or NULL for all */
	PGresult *queued;	/* id of every project moved to QUEUED */
	long long last_seq;	/* their events: last_seq - n + 1 .. last_seq */
};

/* 0, or -1 with 409 cost_cap_reached when the batch has spent its cost
 * cap (PATCH /api/batches/{id} raises or removes it). */
static int
cap_reached(const char *batch_id, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT cost_cap IS NOT NULL AND cost_cap <= (SELECT "
		"coalesce(sum(cost), 0) FROM ai_calls WHERE batch_id = $1) "
		"FROM batches WHERE id = $1", batch_id);
	int capped;

	if (!res)
		return -1;
	capped = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!capped)
		return 0;
	return kg_err_set(err, 409, "cost_cap_reached",
			  "the batch has spent its cost cap: raise or remove "
			  "the cap (PATCH /api/batches/%s) and generate again",
			  batch_id);
}

static int
queue_tx(void *arg, struct kg_err *err)
{
	struct gen *g = arg;
	int n;
	char nstr[16];
	PGresult *res;

	PQclear(g->queued);
	g->queued = NULL;
	if (kg_batch_visible(g->batch_id, g->u, 1, err) < 0 ||
	    cap_reached(g->batch_id, err) < 0)
		return -1;
	g->queued = KG_DB_QUERY(err,
		"UPDATE projects SET status = 'QUEUED', queued_at = now(), "
		"finished_at = NULL, progress = 0 "
		"WHERE batch_id = $1 AND status IN ('PENDING', 'FAILED') "
		"AND ($2::jsonb IS NULL OR id::text IN "
		"(SELECT lower(jsonb_array_elements_text($2::jsonb)))) "
		"RETURNING id", g->batch_id, g->ids_json);
	if (!g->queued)
		return -1;
	n = PQntuples(g->queued);
	if (!n)
		return 0;
	snprintf(nstr, sizeof(nstr), "%d", n);
	/* All the seqs at once: n consecutive numbers ending here. */
	res = KG_DB_QUERY(err,
		"UPDATE batches SET status = 'GENERATING', completed_at = NULL, "
		"event_seq = event_seq + $2::int WHERE id = $1 "
		"RETURNING event_seq", g->batch_id, nstr);
	if (!res)
		return -1;
	g->last_seq = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* The replies of enqueue_and_publish's pipeline: a push that failed
 * stops the check there (the reconciler enqueues the batch's projects;
 * their events are the relay's snapshot's business). */
static void
check_replies(struct kg_redis_pipe *p)
{
	struct kg_err err = {0};

	for (size_t i = 0; i < p->n; i += 2) {
		if (kg_queue_pushed(p->replies[i], &err) < 0) {
			KG_WARN("enqueue failed, the reconciler will enqueue "
				"the batch's projects: %s", err.message);
			return;
		}
		if (kg_event_published(p->replies[i + 1], &err) < 0)
			KG_WARN("event not published: %s", err.message);
	}
}

/*
 * After COMMIT: each project's task, then its event, in that order -
 * every pair in one pipeline, so a request for 100 projects waits for
 * one Redis round trip instead of 200 (the worker's first claim comes
 * that much sooner).  Failures are logged only: the database already
 * holds the truth (see kg_batch.h).
 */
static void
enqueue_and_publish(struct gen *g)
{
	int n = PQntuples(g->queued);
	struct kg_redis_pipe p = {0};
	struct kg_err err = {0};
	int ok = 1;

	for (int i = 0; ok && i < n; i++) {
		const char *id = PQgetvalue(g->queued, i, 0);
		struct kg_event ev = {"project.status_changed", g->batch_id, id,
				      "QUEUED", 0, -1, NULL};
		char *task = kg_queue_task_json("generate", id, g->batch_id);

		ok = task && kg_queue_push_add(&p, KG_QUEUE_GENERATE, task,
					       &err) == 0 &&
		     kg_event_publish_add(&p, &ev, g->last_seq - n + 1 + i,
					  &err) == 0;
		free(task);
	}
	if (!ok || kg_redis_pipe_run(&p, &err) < 0)
		KG_WARN("enqueue failed, the reconciler will enqueue the "
			"batch's projects: %s", err.message);
	else
		check_replies(&p);
	kg_redis_pipe_free(&p);
}

int
kg_batch_generate(const char *batch_id, const struct kg_user *u,
		  const cJSON *project_ids, struct kg_err *err)
{
	struct gen g = {.batch_id = batch_id, .u = u};
	int n = -1;

	if (project_ids) {
		g.ids_json = cJSON_PrintUnformatted(project_ids);
		if (!g.ids_json)
			return kg_err_set(err, 500, "internal", "out of memory");
	}
	if (kg_db_tx(err, queue_tx, &g) < 0)
		goto out;
	n = PQntuples(g.queued);
	if (n)
		enqueue_and_publish(&g);
out:
	PQclear(g.queued);
	free(g.ids_json);
	return n;
}
