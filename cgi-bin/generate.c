/*
 * POST /api/batches/{id}/generate [{"project_ids": [uuid, ...]}]
 *   -> 202 {"queued": n}
 *
 * Queues the batch's PENDING and FAILED projects for generation, or only
 * the listed ones (to retry chosen projects); an empty body or {} means
 * all.  Owner (or admin) only; another user's batch is 404.  Calling it
 * again while the batch generates queues nothing twice ({"queued": 0}).
 * The transaction, the queue and the events are kg_batch_generate's
 * (kg_batch.h), including why Redis down after COMMIT is still a 202.
 */
#include "kg_batch.h"
#include "kg_http.h"

#define MAX_PROJECT_IDS 1000

static const struct kg_field generate_body[] = {
	{"project_ids", KG_ARRAY, .min = 1, .max = MAX_PROJECT_IDS,
	 .of = &(const struct kg_field){"project_id", KG_UUID},
	 .what = "an array of 1 to 1000 project ids (uuids)"},
	{0},
};

static int
post_generate(struct kg_req *req)
{
	int n = kg_batch_generate(kg_req_param(req, "id"), &req->user,
				  kg_field(req->json, "project_ids"),
				  &req->err);
	cJSON *o;

	if (n < 0)
		return -1;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "queued", n);
	return kg_resp_json(req, 202, o);
}

static const struct kg_route routes[] = {
	{"POST", "/api/batches/{id:uuid}/generate", post_generate,
	 KG_ROUTE_AUTH, generate_body,
	 .summary = "Queue the batch's pending and failed projects (or the "
		    "listed ones) for generation",
	 .response = "Queued", .status = 202},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"generate", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
