/*
 * kg_ai - one asynchronous interface for every AI provider.
 *
 *   call = kg_ai_start(loop, "offline", &req, on_done, job, &err);
 *   ... kg_loop_run_once() ...  -> on_done(job, &result) exactly once
 *   kg_ai_cancel(call);         -> on_done is never called
 *
 * A provider starts a request and returns at once; the work happens in
 * the worker's curl multi loop (kg_loop): network providers add an easy
 * handle, the offline provider sets a timer.  The completion callback
 * gets the text, token counts, cost, latency and, on failure, the
 * outcome (the ai_calls.outcome vocabulary), a human reason, whether a
 * retry can help and the server's Retry-After.  The call handle is
 * freed after the callback returns; result memory is only valid during
 * the callback.
 *
 * Retries, back-off, failover and the circuit breaker are the caller's
 * business (one place for every provider); a provider makes exactly one
 * attempt per start.
 *
 * Adding a provider: implement struct kg_ai_ops in its own file
 * and list it in the table in kg_ai.c.
 */
#ifndef KG_AI_H
#define KG_AI_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kg_err.h"
#include "kg_loop.h"
#include "kg_offline.h"
#include "kg_quality.h"

struct kg_ai_request {
	const char *stage;		/* plan, draft, polish, regenerate */
	const char *system;		/* rendered system prompt */
	const char *prompt;		/* rendered user prompt */
	int max_tokens;
	int timeout_ms;			/* whole call; 0 = provider default */
	/* Context: network providers only need the prompts; the offline
	 * drafter works from the data itself. */
	const cJSON *input;		/* the project's input row */
	const struct kg_section_def *defs;
	size_t ndefs;
	const struct kg_offline_tpl *tpls;
	size_t ntpls;
	const char *previous;		/* previous stage's output or NULL */
};

struct kg_ai_result {
	int ok;
	const char *text;		/* the model's answer (ok only) */
	int tokens_in, tokens_out;
	double cost;
	long latency_ms;
	const char *provider;
	const char *model;
	const char *outcome;		/* ok, error, timeout, rate_limited */
	const char *error;		/* human reason when !ok */
	int retryable;			/* a later attempt may succeed */
	long retry_after_ms;		/* from the server, -1 if none */
};

typedef void (*kg_ai_done_fn)(void *arg, const struct kg_ai_result *res);

struct kg_ai_call;

struct kg_ai_ops {
	const char *name;
	/* Begin the call; later, from the loop, call kg_ai_finish(call,
	 * ...) exactly once.  Never finish synchronously from start. */
	int (*start)(struct kg_ai_call *call, struct kg_err *err);
	/* Stop a running call and free the provider's state. */
	void (*cancel)(struct kg_ai_call *call);
};

/* What a provider implementation sees of a call. */
struct kg_ai_call {
	const struct kg_ai_ops *ops;
	struct kg_loop *loop;
	const struct kg_ai_request *req;	/* valid until finish/cancel */
	void *impl;				/* the provider's state */
	int64_t started_ms;
	kg_ai_done_fn done;
	void *arg;
};

/* The provider of that name, NULL if unknown. */
const struct kg_ai_ops *kg_ai_find(const char *name);

/* Start a call (req must stay valid until done or cancel). */
struct kg_ai_call *kg_ai_start(struct kg_loop *loop, const char *provider,
			       const struct kg_ai_request *req,
			       kg_ai_done_fn done, void *arg,
			       struct kg_err *err);
void kg_ai_cancel(struct kg_ai_call *call);

/* For providers: report the result (latency is filled in), then the
 * call is freed. */
void kg_ai_finish(struct kg_ai_call *call, struct kg_ai_result *res);

/*
 * The ai_calls row of one finished call (every call is logged, DESIGN.md
 * "AI generation"): `outcome` is ok, error, timeout, rate_limited or
 * invalid_output; `error` NULL when ok; `fallback` when the provider was
 * not the first of the chain.  A failure to write is logged, not fatal.
 * A call whose card was deleted while it ran (stopped, then deleted) is
 * still recorded, unlinked (batch and project NULL): the money was spent.
 */
struct kg_ai_log {
	const char *batch_id;
	const char *project_id;
	const char *stage;
	int attempt;
	int fallback;
};

void kg_ai_log_call(const struct kg_ai_log *at, const struct kg_ai_result *r,
		    const char *outcome, const char *error);

/* The row's values as the JSON object the SQL function kg_ai_log()
 * takes (sql/007_worker_steps.sql), for a caller that writes it within a
 * step of its own; malloc'd, NULL when memory runs out. */
char *kg_ai_log_json(const struct kg_ai_log *at, const struct kg_ai_result *r,
		     const char *outcome, const char *error);
/* Writes a row made by kg_ai_log_json (json NULL: out of memory). */
void kg_ai_log_write(const char *batch_id, const char *project_id,
		     const char *json);

/*
 * The batch's cost cap (batches.cost_cap): 1 once the batch's ai_calls
 * add up to it (with a human reason in why), else 0.  Checked before
 * every call, so calls already in flight finish and a batch can pass its
 * cap by at most the cost of its concurrent calls.  A database failure
 * lets the call go (its own ai_calls row will tell).
 */
int kg_ai_cost_cap_reached(const char *batch_id, char *why, size_t size);

/* Rough token estimate for providers that do not report usage. */
int kg_ai_estimate_tokens(const char *text);

extern const struct kg_ai_ops kg_ai_offline;
extern const struct kg_ai_ops kg_ai_bedrock;
extern const struct kg_ai_ops kg_ai_azure;
extern const struct kg_ai_ops kg_ai_openai;

#endif
