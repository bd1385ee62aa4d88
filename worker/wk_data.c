#include "wk.h"

#include "kg_buf.h"
#include "kg_db.h"
#include "kg_stage.h"

#include <stdlib.h>
#include <string.h>

static char *
dup_value(PGresult *res, int row, int col)
{
	return strdup(PQgetvalue(res, row, col));
}

static int
load_defs(struct wk_data *d, struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
		"SELECT key, title, guidance, min_words, max_words "
		"FROM section_defs ORDER BY position", 0, NULL);
	struct kg_buf spec = {0}, keys = {0};
	int n;

	if (!res)
		return -1;
	n = PQntuples(res);
	d->defs = calloc((size_t)n + 1, sizeof(*d->defs));
	for (int i = 0; d->defs && i < n; i++) {
		d->defs[i].key = dup_value(res, i, 0);
		d->defs[i].title = dup_value(res, i, 1);
		d->defs[i].min_words = atoi(PQgetvalue(res, i, 3));
		d->defs[i].max_words = atoi(PQgetvalue(res, i, 4));
		kg_stage_spec_add(&spec, &keys, i, PQgetvalue(res, i, 0),
				  PQgetvalue(res, i, 1), d->defs[i].min_words,
				  d->defs[i].max_words, PQgetvalue(res, i, 2));
		d->ndefs++;
	}
	PQclear(res);
	d->sections_spec = kg_buf_take(&spec);
	d->section_keys = kg_buf_take(&keys);
	if (!d->ndefs)
		return kg_err_set(err, 500, "no_data",
				  "section_defs is empty");
	return 0;
}

static int
load_templates(struct wk_data *d, struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
		"SELECT section, text FROM offline_templates "
		"ORDER BY section = '*', section, position", 0, NULL);
	int n;

	if (!res)
		return -1;
	n = PQntuples(res);
	d->tpls = calloc((size_t)n + 1, sizeof(*d->tpls));
	for (int i = 0; d->tpls && i < n; i++) {
		d->tpls[i].section = dup_value(res, i, 0);
		d->tpls[i].text = dup_value(res, i, 1);
		d->ntpls++;
	}
	PQclear(res);
	return 0;
}

/* The prompt of stage "regenerate" (sql/004_regenerate.sql): optional,
 * a regeneration gives up without it. */
static int
load_regenerate(struct wk_data *d, struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
		"SELECT system, body, max_tokens FROM prompt_templates "
		"WHERE stage = 'regenerate'", 0, NULL);
	struct kg_prompt *p = &d->regenerate;

	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		p->stage = strdup("regenerate");
		p->system = dup_value(res, 0, 0);
		p->body = dup_value(res, 0, 1);
		p->max_tokens = atoi(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	if (p->body && (!p->stage || !p->system))
		return kg_err_set(err, 500, "internal", "out of memory");
	return 0;
}

const struct kg_section_def *
wk_data_def(const struct wk_data *d, const char *key)
{
	for (size_t i = 0; i < d->ndefs; i++)
		if (!strcmp(d->defs[i].key, key))
			return &d->defs[i];
	return NULL;
}

int
wk_data_load(struct wk_data *d, struct kg_err *err)
{
	memset(d, 0, sizeof(*d));
	if (load_defs(d, err) < 0 || load_templates(d, err) < 0 ||
	    kg_stage_prompts_load(d->prompts, err) < 0 ||
	    load_regenerate(d, err) < 0) {
		wk_data_free(d);
		return -1;
	}
	return 0;
}

void
wk_data_free(struct wk_data *d)
{
	for (size_t i = 0; d->defs && i < d->ndefs; i++) {
		free((char *)d->defs[i].key);
		free((char *)d->defs[i].title);
	}
	for (size_t i = 0; d->tpls && i < d->ntpls; i++) {
		free((char *)d->tpls[i].section);
		free((char *)d->tpls[i].text);
	}
	kg_stage_prompts_free(d->prompts);
	free(d->regenerate.stage);
	free(d->regenerate.system);
	free(d->regenerate.body);
	free(d->defs);
	free(d->tpls);
	free(d->sections_spec);
	free(d->section_keys);
	memset(d, 0, sizeof(*d));
}
