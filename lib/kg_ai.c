#include "kg_ai.h"
#include "kg_array.h"
#include "kg_db.h"
#include "kg_log.h"

#include <cjson/cJSON.h>
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

char *
kg_ai_log_json(const struct kg_ai_log *at, const struct kg_ai_result *r,
	       const char *outcome, const char *error)
{
	cJSON *o = cJSON_CreateObject();
	char cost[32];
	char *json;

	snprintf(cost, sizeof(cost), "%.6f", r->cost);
	cJSON_AddStringToObject(o, "provider",
				r->provider ? r->provider : "unknown");
	cJSON_AddStringToObject(o, "model", r->model ? r->model : "unknown");
	cJSON_AddStringToObject(o, "stage", at->stage);
	cJSON_AddNumberToObject(o, "attempt", at->attempt);
	cJSON_AddNumberToObject(o, "tokens_in", r->tokens_in);
	cJSON_AddNumberToObject(o, "tokens_out", r->tokens_out);
	cJSON_AddStringToObject(o, "cost", cost);
	cJSON_AddNumberToObject(o, "latency_ms", (double)r->latency_ms);
	cJSON_AddStringToObject(o, "outcome", outcome);
	if (error)
		cJSON_AddStringToObject(o, "error", error);
	cJSON_AddBoolToObject(o, "fallback", at->fallback);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}

void
kg_ai_log_write(const char *batch_id, const char *project_id,
		const char *json)
{
	struct kg_err err = {0};

	if (!json || kg_db_exec(&err, "SELECT kg_ai_log($1::uuid, $2::uuid, "
				"$3::jsonb)", 3,
				(const char *const[]){batch_id, project_id,
						      json}) < 0)
		KG_WARN("ai_calls row not written: %s",
			json ? err.message : "out of memory");
}

void
kg_ai_log_call(const struct kg_ai_log *at, const struct kg_ai_result *r,
	       const char *outcome, const char *error)
{
	char *json = kg_ai_log_json(at, r, outcome, error);

	kg_ai_log_write(at->batch_id, at->project_id, json);
	free(json);
}

int
kg_ai_cost_cap_reached(const char *batch_id, char *why, size_t size)
{
	struct kg_err err = {0};
	PGresult *res = KG_DB_QUERY(&err, "SELECT kg_ai_cap($1::uuid)",
				    batch_id);
	int reached = 0;

	if (!res) {
		KG_WARN("cost cap of batch %s not checked: %s", batch_id,
			err.message);
		return 0;
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		reached = 1;
		snprintf(why, size, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return reached;
}
