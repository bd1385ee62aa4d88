/*
 * POST /api/batches/{id}/generate [{"project_ids": [uuid, ...]}]
 *   -> 202 {"queued": n}
 *
 * Moves the batch's PENDING and FAILED projects (or only the listed
 * ones, to retry chosen projects) to QUEUED in one transaction, then -
 * after COMMIT - puts them on the generation queue and publishes their
 * project.status_changed events.  Owner (or admin) only; another user's
 * batch is 404.
 *
 * A batch whose cost cap is already spent is refused: 409
 * cost_cap_reached (raise or remove the cap first, PATCH
 * /api/batches/{id}).
 *
 * Calling it again while the batch generates queues nothing twice: only
 * PENDING/FAILED projects move, and a project already QUEUED or
 * GENERATING is neither of those, so the answer is {"queued": 0}.
 *
 * The same program stops a batch (POST /api/batches/{id}/cancel,
 * kg_batch_cancel) and estimates what generating it will cost
 * (GET /api/batches/{id}/estimate, kg_estimate_batch).
 *
 * If Redis is down after the COMMIT the answer is still 202: PostgreSQL
 * says the projects are QUEUED, and the workers' reconciler enqueues
 * every QUEUED project missing from the queue after [worker]
 * reconcile_grace seconds (kg_queue.h).
 */
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_db.h"
#include "kg_estimate.h"
#include "kg_events.h"
#include "kg_http.h"
#include "kg_log.h"
#include "kg_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROJECT_IDS 1000

struct gen {
	struct kg_req *req;
	const char *batch_id;
	char *ids_json;		/* JSON array of uuids, or NULL for all */
	PGresult *queued;	/* id of every project moved to QUEUED */
	long long last_seq;	/* their events: last_seq - n + 1 .. last_seq */
	int found;
	int capped;		/* the batch's cost cap is reached */
};

static int
is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == '-' ? s[i] != '-'
				    : !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	}
	return 1;
}

/* Empty body or {} = all; {"project_ids": [...]} = those. */
static int
parse_body(struct kg_req *req, struct gen *g)
{
	const cJSON *ids, *it;
	size_t len = 0;
	cJSON *body;

	if (!kg_req_body(req, &len))
		return -1;
	if (len == 0)
		return 0;
	body = kg_req_json(req);
	if (!body)
		return -1;
	for (it = body->child; it; it = it->next)
		if (strcmp(it->string, "project_ids"))
			return kg_fail(req, 400, "bad_request",
				       "unknown field \"%.40s\"", it->string);
	ids = cJSON_GetObjectItemCaseSensitive(body, "project_ids");
	if (!ids)
		return 0;
	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 1 ||
	    cJSON_GetArraySize(ids) > MAX_PROJECT_IDS)
		return kg_fail(req, 400, "bad_request",
			       "project_ids must be an array of 1 to %d ids",
			       MAX_PROJECT_IDS);
	cJSON_ArrayForEach(it, ids)
		if (!cJSON_IsString(it) || !is_uuid(it->valuestring))
			return kg_fail(req, 400, "bad_request",
				       "project_ids must hold project ids "
				       "(uuids)");
	g->ids_json = cJSON_PrintUnformatted(ids);
	return g->ids_json ? 0 : kg_fail(req, 500, "internal", "out of memory");
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
	res = KG_DB_QUERY(err,
		"SELECT cost_cap IS NOT NULL AND cost_cap <= (SELECT "
		"coalesce(sum(cost), 0) FROM ai_calls WHERE batch_id = $1) "
		"FROM batches WHERE id = $1 "
		"AND (owner_id = $2 OR $3::boolean) FOR UPDATE",
		g->batch_id, g->req->user.id,
		kg_auth_admin_param(&g->req->user));
	if (!res)
		return -1;
	g->found = PQntuples(res) == 1;
	g->capped = g->found && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!g->found || g->capped)
		return 0;
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

/* After COMMIT: the queue, then the events.  Failures are logged only:
 * the database already holds the truth (see the top comment). */
static void
enqueue_and_publish(struct gen *g)
{
	int n = PQntuples(g->queued);
	int queue_ok = 1;

	for (int i = 0; i < n; i++) {
		const char *id = PQgetvalue(g->queued, i, 0);
		struct kg_event ev = {"project.status_changed", g->batch_id, id,
				      "QUEUED", 0, -1, NULL};
		struct kg_err err = {0};
		char *task = kg_task_json("generate", id, g->batch_id);

		if (queue_ok && (!task ||
				 kg_queue_push(KG_QUEUE_GENERATE, task, &err) < 0)) {
			KG_WARN("enqueue failed, the reconciler will enqueue "
				"the batch's projects: %s", err.message);
			queue_ok = 0;
		}
		free(task);
		if (queue_ok &&
		    kg_event_publish(&ev, g->last_seq - n + 1 + i, &err) < 0)
			KG_WARN("event not published: %s", err.message);
	}
}

static int
post_generate(struct kg_req *req)
{
	struct gen g = {.req = req, .batch_id = kg_req_param(req, "id")};
	cJSON *o;
	int n, rc = -1;

	if (parse_body(req, &g) < 0)
		goto out;
	if (kg_db_tx(&req->err, queue_tx, &g) < 0)
		goto out;
	if (!g.found) {
		kg_fail(req, 404, "not_found", "no such batch");
		goto out;
	}
	if (g.capped) {
		kg_fail(req, 409, "cost_cap_reached",
			"the batch has spent its cost cap: raise or remove "
			"the cap (PATCH /api/batches/%s) and generate again",
			g.batch_id);
		goto out;
	}
	n = PQntuples(g.queued);
	if (n)
		enqueue_and_publish(&g);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "queued", n);
	rc = kg_resp_json(req, 202, o);
out:
	PQclear(g.queued);
	free(g.ids_json);
	return rc;
}

/* POST /api/batches/{id}/cancel -> 200 {"stopped": n} (kg_batch_cancel) */
static int
post_cancel(struct kg_req *req)
{
	cJSON *o;
	int stopped;

	if (kg_batch_cancel(kg_req_param(req, "id"), &req->user, &stopped,
			    &req->err) < 0)
		return -1;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "stopped", stopped);
	return kg_resp_json(req, 200, o);
}

/* GET /api/batches/{id}/estimate -> 200 (kg_estimate.h) */
static int
get_estimate(struct kg_req *req)
{
	cJSON *o = kg_estimate_batch(kg_req_param(req, "id"), &req->user,
				     &req->err);

	return o ? kg_resp_json(req, 200, o) : -1;
}

static const struct kg_route routes[] = {
	{"POST", "/api/batches/{id:uuid}/generate", post_generate,
	 KG_ROUTE_AUTH},
	{"POST", "/api/batches/{id:uuid}/cancel", post_cancel, KG_ROUTE_AUTH},
	{"GET", "/api/batches/{id:uuid}/estimate", get_estimate,
	 KG_ROUTE_AUTH},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"generate", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
