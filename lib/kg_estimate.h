/*
 * kg_estimate - what generating a batch will cost, before a cent is
 * spent (GET /api/batches/{id}/estimate, issue 17).
 *
 * For every row of the batch the three stages' prompts are rendered
 * from prompt_templates exactly as the worker renders them (the row's
 * input JSON, the section list of section_defs), and tokens are counted
 * with the rule the providers use when a server reports no usage
 * (kg_ai_estimate_tokens: ~4 bytes per token).  What the model will
 * write cannot be rendered, so the OUTPUT-TOKEN MODEL is:
 *
 *   plan    KG_EST_PLAN_BASE + KG_EST_PLAN_PER_SECTION tokens per
 *           section (facts and a few short theses per section)
 *   draft   for every section the middle of its word range
 *           ((min_words + max_words) / 2) times KG_EST_TOKENS_PER_WORD,
 *           plus KG_EST_JSON_PER_SECTION tokens of JSON around it
 *   polish  the same as draft (same sections, same ranges)
 *
 * and a stage's input is its rendered prompts (system + user) with the
 * previous stage's modelled output in place of {plan} / {draft}.
 * KG_EST_TOKENS_PER_WORD = 2.0: Polish prose is ~7.5-8 bytes of UTF-8
 * per word with its space, i.e. ~1.9 tokens at 4 bytes per token, and
 * the BPE tokenizers of Claude and GPT-4 give 2-2.5 for Polish; the
 * lower figure because models tend to stay in the lower half of a range.
 * One call per stage and row is assumed (no retries, no fallback): the
 * figure is what a healthy run costs.  The check against real usage is
 * the integration test test_lifecycle_estimate_vs_fake_usage (within
 * 25 % of the fake LLM's counts) and, for a finished batch, the
 * "actual" block next to the estimate.
 *
 * Cost per provider of the configured chain ([ai] providers, else
 * [ai] provider): tokens x the [ai] prices of the provider's model (USD
 * per 1,000 tokens); offline costs 0; a model missing from the price
 * table is reported with "priced": false and cost 0.
 */
#ifndef KG_ESTIMATE_H
#define KG_ESTIMATE_H

#include <cjson/cJSON.h>

#include "kg_err.h"
#include "kg_user.h"

#define KG_EST_PLAN_BASE 60
#define KG_EST_PLAN_PER_SECTION 30
#define KG_EST_TOKENS_PER_WORD 2.0
#define KG_EST_JSON_PER_SECTION 10

/*
 * The estimate of the user's batch (404 otherwise):
 * {"currency": "USD", "rows": n, "remaining_rows": r,
 *  "stages": ["plan", "draft", "polish"],
 *  "model": {the constants above, "bytes_per_token": 4},
 *  "calls": 3n, "tokens_in": ..., "tokens_out": ...,
 *  "providers": [{"provider", "model", "priced", "price_in", "price_out",
 *                 "calls", "tokens_in", "tokens_out", "cost",
 *                 "remaining_cost"}, ...],
 *  "cost": the first provider's cost (what a healthy run spends),
 *  "remaining_cost": the same for the PENDING and FAILED rows only
 *                    (what "Generuj" would spend now),
 *  "actual": {"calls", "tokens_in", "tokens_out", "cost"}}  (ai_calls)
 */
cJSON *kg_estimate_batch(const char *batch_id, const struct kg_user *u,
			 struct kg_err *err);

#endif
