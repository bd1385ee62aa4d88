/*
 * The "offline" provider on the kg_ai interface: answers each
 * stage with kg_offline's deterministic drafting after [ai]
 * offline_delay_ms, through a loop timer, so scheduling, concurrency
 * and cancellation behave exactly as for a network provider (and the
 * benchmark gets "a provider that answers after a fixed delay").
 */
#include "kg_config.h"
#include "kg_ai.h"

#include <stdlib.h>
#include <string.h>

struct offline_call {
	uint64_t timer;
};

/*
 * Stage "regenerate": defs holds the one section to rewrite and
 * `previous` the context {"current": text, "instruction": text} (the
 * worker's convention, worker/wk_regen.c); see kg_offline_regenerate.
 */
static char *
regenerate(const struct kg_ai_request *req)
{
	cJSON *ctx = req->previous ? cJSON_Parse(req->previous) : NULL;
	char *s = NULL;

	if (req->ndefs >= 1)
		s = kg_offline_regenerate(
			req->input, &req->defs[0], req->tpls, req->ntpls,
			cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(ctx, "current")),
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				ctx, "instruction")));
	cJSON_Delete(ctx);
	return s;
}

static char *
answer(const struct kg_ai_request *req)
{
	if (!strcmp(req->stage, "regenerate"))
		return regenerate(req);
	if (!strcmp(req->stage, "plan"))
		return kg_offline_plan(req->input, req->defs, req->ndefs);
	if (!strcmp(req->stage, "polish") && req->previous) {
		char *s = kg_offline_polish(req->previous);

		if (s)
			return s;
	}
	return kg_offline_draft(req->input, req->defs, req->ndefs, req->tpls,
				req->ntpls);
}

static void
on_timer(void *arg)
{
	struct kg_ai_call *call = arg;
	const struct kg_ai_request *req = call->req;
	struct kg_ai_result res = {0};
	char *text = answer(req);

	free(call->impl);
	call->impl = NULL;
	res.ok = text != NULL;
	res.text = text;
	res.model = "offline-v1";
	res.retry_after_ms = -1;
	res.tokens_in = kg_ai_estimate_tokens(req->system) +
			kg_ai_estimate_tokens(req->prompt);
	res.tokens_out = kg_ai_estimate_tokens(text);
	if (!text) {
		res.error = "out of memory";
		res.retryable = 1;
	}
	kg_ai_finish(call, &res);
	free(text);
}

static int
offline_start(struct kg_ai_call *call, struct kg_err *err)
{
	struct offline_call *oc = calloc(1, sizeof(*oc));

	if (!oc)
		return kg_err_set(err, 500, "internal", "out of memory");
	call->impl = oc;
	oc->timer = kg_loop_timer(call->loop,
				  kg_config_int("ai", "offline_delay_ms"),
				  on_timer, call);
	if (!oc->timer) {
		free(oc);
		call->impl = NULL;
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	return 0;
}

static void
offline_cancel(struct kg_ai_call *call)
{
	struct offline_call *oc = call->impl;

	if (oc)
		kg_loop_timer_cancel(call->loop, oc->timer);
	free(oc);
	call->impl = NULL;
}

const struct kg_ai_ops kg_ai_offline = {
	"offline", offline_start, offline_cancel,
};
