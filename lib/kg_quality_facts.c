/*
 * kg_quality - the facts of the input row (kg_quality_int.h): its name,
 * organisation, target group, budget and dates, every number and date
 * of every field, and whether a value written in a section is supported
 * by them (the consistency rule of kg_quality.h).
 */
#include "kg_quality_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Facts of the input                                                 */
/* ------------------------------------------------------------------ */

static int
date_cmp(int y1, int m1, int d1, int y2, int m2, int d2)
{
	long a = (long)y1 * 10000 + m1 * 100 + d1;
	long b = (long)y2 * 10000 + m2 * 100 + d2;

	return a < b ? -1 : a > b;
}

static int
facts_scan(struct qfacts *f, const cJSON *v, int depth)
{
	const cJSON *c;
	struct qtok tok;

	if (cJSON_IsString(v))
		return kg_quality_toks_scan(&f->toks, v->valuestring);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
	    v->valuedouble < 1e13) {
		memset(&tok, 0, sizeof(tok));
		tok.kind = TOK_NUMBER;
		tok.cents = (long long)(v->valuedouble * 100 + 0.5);
		return kg_quality_toks_push(&f->toks, &tok);
	}
	if ((cJSON_IsArray(v) || cJSON_IsObject(v)) && depth < 4)
		cJSON_ArrayForEach(c, v)
			if (facts_scan(f, c, depth + 1) < 0)
				return -1;
	return 0;
}

static const char *
input_str(const cJSON *input, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* budget is a number in the normalised row; a text is tolerated. */
static long long
input_budget(const cJSON *input)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, "budget");
	struct qtoks t = {0};
	long long cents = 0;
	size_t k;

	if (cJSON_IsNumber(v))
		return v->valuedouble > 0 && v->valuedouble < 1e13 ?
		       (long long)(v->valuedouble * 100 + 0.5) : 0;
	if (!cJSON_IsString(v) || kg_quality_toks_scan(&t, v->valuestring) < 0)
		goto out;
	for (k = 0; k < t.n && !cents; k++)
		if (t.v[k].kind == TOK_NUMBER)
			cents = t.v[k].cents;
out:
	free(t.v);
	return cents;
}

static void
facts_dates(struct qfacts *f, const cJSON *input)
{
	const struct qtok *a = &f->start, *b = &f->end;

	kg_quality_iso_date(input_str(input, "start_date"), &f->start);
	kg_quality_iso_date(input_str(input, "end_date"), &f->end);
	if (a->y && b->y && date_cmp(a->y, a->m, a->d, b->y, b->m, b->d) > 0)
		a = &f->end, b = &f->start;	/* swapped in the sheet */
	if (!a->y)
		a = b;
	if (!b->y)
		b = a;
	if (!a->y)
		return;
	f->ymin = a->y;
	f->ymax = b->y;
	if (a == b)
		return;
	f->lo = *a;
	f->hi = *b;
	f->months = (b->y * 12 + b->m) - (a->y * 12 + a->m) + 1;
}

int
kg_quality_facts_load(struct qfacts *f, const cJSON *input)
{
	const char *name = input_str(input, "name");
	const char *org = input_str(input, "organization");
	const char *target = input_str(input, "target_group");

	if (!cJSON_IsObject(input))
		return 0;
	if (facts_scan(f, input, 0) < 0)
		return -1;
	f->budget = input_budget(input);
	facts_dates(f, input);
	if ((name && kg_quality_words_build(&f->name, name) < 0) ||
	    (org && kg_quality_words_build(&f->org, org) < 0) ||
	    (target && kg_quality_words_significant(&f->target, target) < 0))
		return -1;
	return 0;
}

void
kg_quality_facts_free(struct qfacts *f)
{
	free(f->toks.v);
	kg_quality_words_free(&f->name);
	kg_quality_words_free(&f->org);
	kg_quality_words_free(&f->target);
}

/* ------------------------------------------------------------------ */
/* Is a value of the text supported by the input?                     */
/* ------------------------------------------------------------------ */

static int
has_range(const struct qfacts *f)
{
	return f->lo.y != 0;
}

static int
in_range(const struct qfacts *f, int y, int m, int d)
{
	return has_range(f) &&
	       date_cmp(y, m, d, f->lo.y, f->lo.m, f->lo.d) >= 0 &&
	       date_cmp(y, m, d, f->hi.y, f->hi.m, f->hi.d) <= 0;
}

static int
year_supported(const struct qfacts *f, long long y)
{
	size_t k;

	if (f->ymin && y >= f->ymin && y <= f->ymax)
		return 1;
	for (k = 0; k < f->toks.n; k++)
		if (f->toks.v[k].kind != TOK_NUMBER && f->toks.v[k].y == y)
			return 1;
	return 0;
}

static int
number_supported(const struct qfacts *f, const struct qtok *t)
{
	long long v = t->cents / 100;
	size_t k;

	if (t->cents <= 1000)
		return 1;
	for (k = 0; k < f->toks.n; k++)
		if (f->toks.v[k].kind == TOK_NUMBER &&
		    kg_quality_num_matches(t, f->toks.v[k].cents))
			return 1;
	if (t->tol || t->cents % 100)
		return 0;
	return (v >= YEAR_MIN && v <= YEAR_MAX && year_supported(f, v)) ||
	       (f->months && v == f->months);
}

static int
date_supported(const struct qfacts *f, const struct qtok *t)
{
	const struct qtok *u;
	size_t k;
	int y;

	for (k = 0; k < f->toks.n; k++) {
		u = &f->toks.v[k];
		if (u->kind == TOK_DATE && u->m == t->m && u->d == t->d &&
		    (!t->y || u->y == t->y))
			return 1;
	}
	if (t->y)
		return in_range(f, t->y, t->m, t->d);
	for (y = f->ymin; y && y <= f->ymax; y++)
		if (in_range(f, y, t->m, t->d))
			return 1;
	return 0;
}

static int
month_supported(const struct qfacts *f, const struct qtok *t)
{
	const struct qtok *u;
	size_t k;
	int here, lo, hi;

	for (k = 0; k < f->toks.n; k++) {
		u = &f->toks.v[k];
		if (u->kind != TOK_NUMBER && u->y == t->y && u->m == t->m)
			return 1;
	}
	if (!has_range(f))
		return 0;
	here = t->y * 12 + t->m;
	lo = f->lo.y * 12 + f->lo.m;
	hi = f->hi.y * 12 + f->hi.m;
	return here >= lo && here <= hi;
}

int
kg_quality_supported(const struct qfacts *f, const struct qtok *t)
{
	switch (t->kind) {
	case TOK_NUMBER:
		return number_supported(f, t);
	case TOK_DATE:
		return date_supported(f, t);
	default:
		return month_supported(f, t);
	}
}
