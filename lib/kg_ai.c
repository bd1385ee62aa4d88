#include "kg_ai.h"
#include "kg_array.h"
#include "kg_db.h"
#include "kg_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct kg_ai_ops *const providers[] = {
	&kg_ai_offline,
	&kg_ai_bedrock,
	&kg_ai_azure,
	&kg_ai_openai,
};

const struct kg_ai_ops *
kg_ai_find(const char *name)
{
	for (size_t i = 0; i < KG_COUNT(providers); i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}

struct kg_ai_call *
kg_ai_start(struct kg_loop *loop, const char *provider,
	    const struct kg_ai_request *req, kg_ai_done_fn done, void *arg,
	    struct kg_err *err)
{
	const struct kg_ai_ops *ops = kg_ai_find(provider);
	struct kg_ai_call *call;

	if (!ops)
		return kg_err_set(err, 500, "config_invalid",
				  "unknown AI provider %s", provider), NULL;
	call = calloc(1, sizeof(*call));
	if (!call)
		return kg_err_set(err, 500, "internal", "out of memory"), NULL;
	call->ops = ops;
	call->loop = loop;
	call->req = req;
	call->done = done;
	call->arg = arg;
	call->started_ms = kg_loop_now_ms();
	if (ops->start(call, err) < 0) {
		free(call);
		return NULL;
	}
	return call;
}

void
kg_ai_cancel(struct kg_ai_call *call)
{
	if (!call)
		return;
	call->ops->cancel(call);
	free(call);
}

void
kg_ai_finish(struct kg_ai_call *call, struct kg_ai_result *res)
{
	res->latency_ms = (long)(kg_loop_now_ms() - call->started_ms);
	if (!res->provider)
		res->provider = call->ops->name;
	if (!res->outcome)
		res->outcome = res->ok ? "ok" : "error";
	call->done(call->arg, res);
	free(call);
}

int
kg_ai_estimate_tokens(const char *text)
{
	/* ~4 bytes per token is the usual rule of thumb for BPE models. */
	return text ? (int)((strlen(text) + 3) / 4) : 0;
}

void
kg_ai_log_call(const struct kg_ai_log *at, const struct kg_ai_result *r,
	       const char *outcome, const char *error)
{
	struct kg_err err = {0};
	char attempt[16], tin[16], tout[16], cost[32], lat[24];

	snprintf(attempt, sizeof(attempt), "%d", at->attempt);
	snprintf(tin, sizeof(tin), "%d", r->tokens_in);
	snprintf(tout, sizeof(tout), "%d", r->tokens_out);
	snprintf(cost, sizeof(cost), "%.6f", r->cost);
	snprintf(lat, sizeof(lat), "%ld", r->latency_ms);
	if (kg_db_exec(&err,
		"INSERT INTO ai_calls (batch_id, project_id, provider, model, "
		"stage, attempt, tokens_in, tokens_out, cost, latency_ms, "
		"outcome, error, fallback) SELECT p.batch_id, p.id, $3, $4, $5, "
		"$6, $7, $8, $9, $10, $11, $12, $13 FROM (SELECT 1) one "
		"LEFT JOIN projects p ON p.id = $2::uuid AND p.batch_id = $1::uuid",
		13,
		(const char *const[]){at->batch_id, at->project_id,
			r->provider ? r->provider : "unknown",
			r->model ? r->model : "unknown", at->stage, attempt,
			tin, tout, cost, lat, outcome, error,
			at->fallback ? "true" : "false"}) < 0)
		KG_WARN("ai_calls row not written: %s", err.message);
}

int
kg_ai_cost_cap_reached(const char *batch_id, char *why, size_t size)
{
	struct kg_err err = {0};
	PGresult *res = KG_DB_QUERY(&err,
		"SELECT b.cost_cap::text, s.spent::text, s.spent >= b.cost_cap "
		"FROM batches b, LATERAL (SELECT coalesce(sum(cost), 0) AS spent "
		"FROM ai_calls WHERE batch_id = b.id) s "
		"WHERE b.id = $1 AND b.cost_cap IS NOT NULL", batch_id);
	int reached = 0;

	if (!res) {
		KG_WARN("cost cap of batch %s not checked: %s", batch_id,
			err.message);
		return 0;
	}
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 2)[0] == 't') {
		reached = 1;
		snprintf(why, size, "cost cap reached: the batch has spent %s of "
			 "its cap of %s; no further AI calls are made",
			 PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return reached;
}
