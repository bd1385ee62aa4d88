#include "kg_sched.h"
#include "kg_db.h"
#include "kg_queue.h"
#include "kg_redis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How long until a slot frees for a batch with `ahead` batches before it. */
static int
estimate(long long ahead, double *eta, struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
		"SELECT (SELECT count(*) FROM projects WHERE status = "
		"'GENERATING'), (SELECT avg(extract(epoch FROM finished_at - "
		"started_at)) FROM projects WHERE status = 'COMPLETED' AND "
		"finished_at > now() - interval '1 hour')", 0, NULL);
	double running, mean;

	if (!res)
		return -1;
	running = atof(PQgetvalue(res, 0, 0));
	mean = PQgetisnull(res, 0, 1) ? KG_SCHED_DEFAULT_PROJECT_S
				      : atof(PQgetvalue(res, 0, 1));
	PQclear(res);
	*eta = ceil((double)(ahead + 1) * mean / (running > 0 ? running : 1));
	return 0;
}

cJSON *
kg_sched_queue(const char *batch_id, long long queued, long long generating,
	       struct kg_err *err)
{
	int waiting = queued > 0 && generating == 0;
	long long workers = kg_queue_workers_alive(NULL, err), ahead = -1;
	double eta = 0;
	cJSON *q;

	if (workers < 0)
		return NULL;
	if (waiting) {
		ahead = kg_queue_ahead(KG_QUEUE_GENERATE, batch_id, err);
		if (ahead == -1 || (ahead >= 0 && estimate(ahead, &eta, err) < 0))
			return NULL;
	}
	q = cJSON_CreateObject();
	cJSON_AddBoolToObject(q, "waiting", waiting);
	if (ahead >= 0) {
		cJSON_AddNumberToObject(q, "batches_ahead", (double)ahead);
		cJSON_AddNumberToObject(q, "eta_seconds", eta);
	} else {
		cJSON_AddNullToObject(q, "batches_ahead");
		cJSON_AddNullToObject(q, "eta_seconds");
	}
	cJSON_AddNumberToObject(q, "workers", (double)workers);
	return q;
}
