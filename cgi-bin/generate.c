/*
 * POST /api/batches/{id}/generate [{"project_ids": [uuid, ...]}]
 *   -> 202 {"queued": n}
 *
 * Queues the batch's PENDING and FAILED projects for generation, or only
 * the listed ones (to retry chosen projects); an empty body or {} means
 * all.  Owner (or admin) only; another user's batch is 404.  Calling it
 * again while the batch generates queues nothing twice ({"queued": 0}).
 * A batch whose cost cap is already spent is refused: 409
 * cost_cap_reached (raise or remove the cap first, PATCH
 * /api/batches/{id}).
 *
 * The same program stops a batch (POST /api/batches/{id}/cancel,
 * kg_batch_cancel) and estimates what generating it will cost
 * (GET /api/batches/{id}/estimate, kg_estimate_batch).
 *
 * The transaction, the queue and the events are kg_batch_generate's
 * (kg_batch.h), including why Redis down after COMMIT is still a 202.
 */
#include "kg_app.h"
#include "kg_batch.h"
#include "kg_body.h"
#include "kg_estimate.h"
#include "kg_req.h"
#include "kg_resp.h"

#define MAX_PROJECT_IDS 1000

static const struct kg_body_field generate_body[] = {
	{"project_ids", KG_BODY_ARRAY, .min = 1, .max = MAX_PROJECT_IDS,
	 .of = &(const struct kg_body_field){"project_id", KG_BODY_UUID},
	 .what = "an array of 1 to 1000 project ids (uuids)"},
	{0},
};

static const struct kg_body_field no_body[] = {{0}};

static int
post_generate(struct kg_req *req)
{
	int n = kg_batch_generate(kg_req_param(req, "id"), &req->user,
				  kg_body_get(req->json, "project_ids"),
				  &req->err);
	cJSON *o;

	if (n < 0)
		return -1;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "queued", n);
	return kg_resp_json(req, 202, o);
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
	 KG_ROUTE_AUTH, generate_body,
	 .summary = "Queue the batch's pending and failed projects (or the "
		    "listed ones) for generation",
	 .response = "Queued", .status = 202, .errors = "409"},
	{"POST", "/api/batches/{id:uuid}/cancel", post_cancel, KG_ROUTE_AUTH,
	 no_body, .summary = "Stop the batch: queued and running projects "
			     "go back to pending",
	 .response = "Stopped"},
	{"GET", "/api/batches/{id:uuid}/estimate", get_estimate,
	 KG_ROUTE_AUTH, .summary = "What generating the batch will cost",
	 .response = "Estimate"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"generate", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
