#include "kg_estimate.h"
#include "kg_aihttp.h"
#include "kg_auth.h"
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_failover.h"
#include "kg_ai.h"
#include "kg_batch.h"
#include "kg_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sections and prompts, as the worker loads them (worker/wk_data.c). */
struct est_data {
	struct kg_buf spec, keys;
	struct kg_prompt prompts[KG_NSTAGES];
	double out[KG_NSTAGES];		/* modelled output tokens */
	int nsections;
};

struct est_sum {
	double in, out;
};

static void
data_free(struct est_data *d)
{
	kg_buf_free(&d->spec);
	kg_buf_free(&d->keys);
	kg_stage_prompts_free(d->prompts);
}

static int
load_sections(struct est_data *d, struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
		"SELECT key, title, guidance, min_words, max_words "
		"FROM section_defs ORDER BY position", 0, NULL);
	double words = 0;

	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		int lo = atoi(PQgetvalue(res, i, 3));
		int hi = atoi(PQgetvalue(res, i, 4));

		kg_stage_spec_add(&d->spec, &d->keys, i, PQgetvalue(res, i, 0),
				  PQgetvalue(res, i, 1), lo, hi,
				  PQgetvalue(res, i, 2));
		words += (lo + hi) / 2;
	}
	d->nsections = PQntuples(res);
	PQclear(res);
	d->out[0] = KG_EST_PLAN_BASE + KG_EST_PLAN_PER_SECTION * d->nsections;
	d->out[1] = words * KG_EST_TOKENS_PER_WORD +
		    KG_EST_JSON_PER_SECTION * d->nsections;
	d->out[2] = d->out[1];
	return 0;
}

/* One row: the three stages' tokens, added to sum. */
static int
add_row(const struct est_data *d, const char *input, struct est_sum *sum,
	struct kg_err *err)
{
	const char *names[] = {"input_json", "sections_spec", "section_keys",
			       "plan", "draft"};
	const char *values[] = {input, kg_buf_str((struct kg_buf *)&d->spec),
				kg_buf_str((struct kg_buf *)&d->keys), "", ""};

	for (int s = 0; s < KG_NSTAGES; s++) {
		char *sys = kg_stage_prompt_render(d->prompts[s].system, names,
					     values, 5);
		char *body = kg_stage_prompt_render(d->prompts[s].body, names,
					      values, 5);

		if (!sys || !body) {
			free(sys);
			free(body);
			return kg_err_set(err, 500, "internal", "out of memory");
		}
		/* The previous stage's answer stands in the prompt. */
		sum->in += kg_ai_estimate_tokens(sys) +
			   kg_ai_estimate_tokens(body) + (s ? d->out[s - 1] : 0);
		sum->out += d->out[s];
		free(sys);
		free(body);
	}
	return 0;
}

/* The model a provider is priced by (its [section] model setting). */
static const char *
provider_model(const char *provider)
{
	if (!strcmp(provider, "bedrock"))
		return kg_config_str("bedrock", "model_id");
	if (!strcmp(provider, "azure") || !strcmp(provider, "openai"))
		return kg_config_str(provider, "model");
	return "offline-v1";
}

static cJSON *
provider_json(const char *name, int rows, const struct est_sum *all,
	      const struct est_sum *rem, double *cost, double *rem_cost)
{
	const char *model = provider_model(name);
	const char *table = kg_config_str("ai", "prices");
	cJSON *o = cJSON_CreateObject();
	double pin = 0, pout = 0;
	int priced = 1;

	if (strcmp(name, "offline"))
		priced = kg_aihttp_price(table, model, 1000, 0, &pin) == 0 &&
			 kg_aihttp_price(table, model, 0, 1000, &pout) == 0;
	if (!priced)
		pin = pout = 0;
	*cost = (all->in * pin + all->out * pout) / 1000.0;
	*rem_cost = (rem->in * pin + rem->out * pout) / 1000.0;
	cJSON_AddStringToObject(o, "provider", name);
	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddBoolToObject(o, "priced", priced);
	cJSON_AddNumberToObject(o, "price_in", pin);
	cJSON_AddNumberToObject(o, "price_out", pout);
	cJSON_AddNumberToObject(o, "calls", KG_NSTAGES * rows);
	cJSON_AddNumberToObject(o, "tokens_in", (double)(long long)all->in);
	cJSON_AddNumberToObject(o, "tokens_out", (double)(long long)all->out);
	cJSON_AddNumberToObject(o, "cost", *cost);
	cJSON_AddNumberToObject(o, "remaining_cost", *rem_cost);
	return o;
}

static int
add_providers(cJSON *o, int rows, const struct est_sum *all,
	      const struct est_sum *rem, struct kg_err *err)
{
	char names[KG_FAILOVER_MAX][KG_FAILOVER_NAME], bad[KG_FAILOVER_NAME];
	cJSON *arr = cJSON_AddArrayToObject(o, "providers");
	double cost, rem_cost, first = 0, first_rem = 0;
	int n = kg_failover_chain(kg_config_str("ai", "providers"),
				  kg_config_str("ai", "provider"), names,
				  KG_FAILOVER_MAX, bad, sizeof(bad));

	if (n < 0)
		return kg_err_set(err, 500, "config_invalid",
				  "[ai] providers: bad entry");
	for (int i = 0; i < n; i++) {
		cJSON_AddItemToArray(arr, provider_json(names[i], rows, all, rem,
							&cost, &rem_cost));
		if (!i) {
			first = cost;
			first_rem = rem_cost;
		}
	}
	cJSON_AddNumberToObject(o, "cost", first);
	cJSON_AddNumberToObject(o, "remaining_cost", first_rem);
	return 0;
}

static void
add_model(cJSON *o)
{
	cJSON *m = cJSON_AddObjectToObject(o, "model");
	cJSON *st = cJSON_AddArrayToObject(o, "stages");

	for (int s = 0; s < KG_NSTAGES; s++)
		cJSON_AddItemToArray(st, cJSON_CreateString(kg_stage_names[s]));
	cJSON_AddNumberToObject(m, "bytes_per_token", 4);
	cJSON_AddNumberToObject(m, "plan_base", KG_EST_PLAN_BASE);
	cJSON_AddNumberToObject(m, "plan_per_section", KG_EST_PLAN_PER_SECTION);
	cJSON_AddNumberToObject(m, "tokens_per_word", KG_EST_TOKENS_PER_WORD);
	cJSON_AddNumberToObject(m, "json_per_section", KG_EST_JSON_PER_SECTION);
}

static int
add_actual(cJSON *o, const char *batch_id, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT count(*), coalesce(sum(tokens_in), 0), "
		"coalesce(sum(tokens_out), 0), coalesce(sum(cost), 0) "
		"FROM ai_calls WHERE batch_id = $1", batch_id);
	cJSON *a;

	if (!res)
		return -1;
	a = cJSON_AddObjectToObject(o, "actual");
	cJSON_AddNumberToObject(a, "calls", atof(PQgetvalue(res, 0, 0)));
	cJSON_AddNumberToObject(a, "tokens_in", atof(PQgetvalue(res, 0, 1)));
	cJSON_AddNumberToObject(a, "tokens_out", atof(PQgetvalue(res, 0, 2)));
	cJSON_AddNumberToObject(a, "cost", atof(PQgetvalue(res, 0, 3)));
	PQclear(res);
	return 0;
}

static int
sum_rows(const struct est_data *d, PGresult *rows, struct est_sum *all,
	 struct est_sum *rem, int *nrem, struct kg_err *err)
{
	for (int i = 0; i < PQntuples(rows); i++) {
		struct est_sum one = {0, 0};

		if (add_row(d, PQgetvalue(rows, i, 0), &one, err) < 0)
			return -1;
		all->in += one.in;
		all->out += one.out;
		if (PQgetvalue(rows, i, 1)[0] == 't') {
			rem->in += one.in;
			rem->out += one.out;
			(*nrem)++;
		}
	}
	return 0;
}

cJSON *
kg_estimate_batch(const char *batch_id, const struct kg_user *u,
		  struct kg_err *err)
{
	struct est_data d = {0};
	struct est_sum all = {0, 0}, rem = {0, 0};
	PGresult *rows;
	cJSON *o = NULL;
	int n, nrem = 0;

	rows = KG_DB_QUERY(err,
		"SELECT p.input::text, p.status IN ('PENDING', 'FAILED') "
		"FROM projects p JOIN batches b ON b.id = p.batch_id "
		"WHERE b.id = $1 AND " KG_BATCH_VISIBLE " "
		"ORDER BY p.row_number", batch_id, u->id,
		kg_auth_admin_param(u));
	if (!rows)
		return NULL;
	n = PQntuples(rows);
	if (!n) {	/* a batch has at least one project */
		kg_err_set(err, 404, "not_found", "no such batch");
		goto out;
	}
	if (load_sections(&d, err) < 0 || kg_stage_prompts_load(d.prompts, err) < 0 ||
	    sum_rows(&d, rows, &all, &rem, &nrem, err) < 0)
		goto out;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "currency", "USD");
	cJSON_AddNumberToObject(o, "rows", n);
	cJSON_AddNumberToObject(o, "remaining_rows", nrem);
	add_model(o);
	cJSON_AddNumberToObject(o, "calls", KG_NSTAGES * n);
	cJSON_AddNumberToObject(o, "tokens_in", (double)(long long)all.in);
	cJSON_AddNumberToObject(o, "tokens_out", (double)(long long)all.out);
	if (add_providers(o, n, &all, &rem, err) < 0 ||
	    add_actual(o, batch_id, err) < 0) {
		cJSON_Delete(o);
		o = NULL;
	}
out:
	PQclear(rows);
	data_free(&d);
	return o;
}
