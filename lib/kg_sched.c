#include "kg_sched.h"
#include "kg_db.h"
#include "kg_queue.h"
#include "kg_redis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
count_of(const cJSON *batch, const char *status)
{
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(batch, "counts");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(counts, status);

	return cJSON_IsNumber(n) ? n->valueint : 0;
}

/* Workers whose heartbeat is alive: kg:workers also lists dead ones
 * until the reaper removes them. */
static long long
live_workers(struct kg_err *err)
{
	static const char src[] =
		"local n = 0 "
		"for _, w in ipairs(redis.call('SMEMBERS', 'kg:workers')) do "
		"  n = n + redis.call('EXISTS', 'kg:worker:' .. w) end "
		"return n";
	redisReply *r = kg_redis_cmd(err, "EVAL %s 0", src);
	long long n = -1;

	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	freeReplyObject(r);
	return n;
}

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

int
kg_sched_describe(cJSON *batch, struct kg_err *err)
{
	const char *id = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(batch, "id"));
	int waiting = count_of(batch, "QUEUED") > 0 &&
		      count_of(batch, "GENERATING") == 0;
	long long workers = live_workers(err), ahead = -1;
	double eta = 0;
	cJSON *q;

	if (!id || workers < 0)
		return -1;
	if (waiting) {
		ahead = kg_queue_ahead(KG_QUEUE_GENERATE, id, err);
		if (ahead == -1 || (ahead >= 0 && estimate(ahead, &eta, err) < 0))
			return -1;
	}
	q = cJSON_AddObjectToObject(batch, "queue");
	cJSON_AddBoolToObject(q, "waiting", waiting);
	if (ahead >= 0) {
		cJSON_AddNumberToObject(q, "batches_ahead", (double)ahead);
		cJSON_AddNumberToObject(q, "eta_seconds", eta);
	} else {
		cJSON_AddNullToObject(q, "batches_ahead");
		cJSON_AddNullToObject(q, "eta_seconds");
	}
	cJSON_AddNumberToObject(q, "workers", (double)workers);
	return 0;
}
