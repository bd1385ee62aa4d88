/*
 * kg_quality - see kg_quality.h for the criteria and their formulas.
 *
 * This file holds the sections, one function per criterion and the JSON
 * assembly; the text and number scanners and the facts of the input are
 * in kg_quality_text.c, kg_quality_num.c and kg_quality_facts.c (see
 * kg_quality_int.h).
 */
#include "kg_quality_int.h"
#include "kg_array.h"

#include <stdlib.h>
#include <string.h>

#define VALUE_SHOW_MAX 48	/* bytes of an unsupported value echoed */

/* ------------------------------------------------------------------ */
/* Sections and their flags                                           */
/* ------------------------------------------------------------------ */

enum {
	F_EMPTY = 1 << 0,
	F_TOO_SHORT = 1 << 1,
	F_TOO_LONG = 1 << 2,
	F_MISSING_FACT = 1 << 3,
	F_UNSUPPORTED = 1 << 4,
	F_ENGLISH = 1 << 5,
	F_PLACEHOLDER = 1 << 6,
	F_MARKDOWN = 1 << 7,
};

/* Output names, in bit order (the order flags are listed in). */
static const char *const flag_names[] = {
	"empty", "too_short", "too_long", "missing_fact",
	"unsupported_number", "english", "placeholder", "markdown",
};

struct qsec {
	const struct kg_section_def *def;
	const char *body;	/* "" when the card has no such section */
	int reviewed;
	int nonempty;
	int nwords;
	unsigned flags;
	struct wordlist words;
	struct qtoks toks;
	struct kg_buf lower;	/* body lower-cased */
};

static int
sec_load(struct qsec *sec, const struct kg_section_def *def,
	 const struct kg_quality_section *sections, size_t nsections)
{
	size_t k;

	sec->def = def;
	sec->body = "";
	for (k = 0; k < nsections; k++) {
		if (sections[k].key && def->key &&
		    !strcmp(sections[k].key, def->key)) {
			sec->body = sections[k].body ? sections[k].body : "";
			sec->reviewed = sections[k].reviewed != 0;
			break;
		}
	}
	sec->nwords = kg_quality_word_count(sec->body);
	if (kg_quality_words_build(&sec->words, sec->body) < 0 ||
	    kg_quality_toks_scan(&sec->toks, sec->body) < 0 ||
	    kg_quality_fold(&sec->lower, sec->body) < 0)
		return -1;
	sec->nonempty = sec->words.n > 0;
	return 0;
}

static void
sec_free(struct qsec *sec)
{
	kg_quality_words_free(&sec->words);
	free(sec->toks.v);
	kg_buf_free(&sec->lower);
}

/* ------------------------------------------------------------------ */
/* Criteria                                                           */
/* ------------------------------------------------------------------ */

struct qctx {
	struct qfacts facts;
	struct qsec *sec;
	size_t nsec;
	cJSON *missing;		/* "missing_facts" */
};

struct qcrit {
	int passed, total;
	int full_if_none;	/* total 0 scores max, not 0 */
	struct kg_buf detail;
	cJSON *extra;		/* added to the criterion object, or NULL */
	const char *extra_name;
};

/* "; label: key1, key2" for the sections carrying `flag`. */
static int
detail_flagged(const struct qctx *q, struct kg_buf *b, unsigned flag,
	       const char *label)
{
	const char *sep = "; ";
	size_t k;
	int rc = 0;

	for (k = 0; k < q->nsec && rc == 0; k++) {
		if (!(q->sec[k].flags & flag))
			continue;
		rc = kg_buf_printf(b, "%s%s%s", sep,
				   sep[0] == ';' ? label : "",
				   q->sec[k].def->key);
		sep = ", ";
	}
	return rc;
}

static int
crit_completeness(struct qctx *q, struct qcrit *c)
{
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		c->total++;
		if (q->sec[k].nonempty)
			c->passed++;
		else
			q->sec[k].flags |= F_EMPTY;
	}
	if (kg_buf_printf(&c->detail, "sekcje uzupełnione: %d z %d",
			  c->passed, c->total) < 0)
		return -1;
	return detail_flagged(q, &c->detail, F_EMPTY, "puste: ");
}

static int
crit_length(struct qctx *q, struct qcrit *c)
{
	const char *label;
	struct qsec *s;
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		s = &q->sec[k];
		c->total++;
		if (!s->nonempty)
			continue;
		if (s->nwords < s->def->min_words)
			s->flags |= F_TOO_SHORT;
		else if (s->nwords > s->def->max_words)
			s->flags |= F_TOO_LONG;
		else
			c->passed++;
	}
	if (kg_buf_printf(&c->detail, "sekcje w limicie słów: %d z %d",
			  c->passed, c->total) < 0)
		return -1;
	for (k = 0; k < q->nsec; k++) {
		s = &q->sec[k];
		if (!(s->flags & (F_TOO_SHORT | F_TOO_LONG)))
			continue;
		label = s->flags & F_TOO_SHORT ? "za krótka" : "za długa";
		if (kg_buf_printf(&c->detail, "; %s: %s (%d sł., %d–%d)",
				  label, s->def->key, s->nwords,
				  s->def->min_words, s->def->max_words) < 0)
			return -1;
	}
	return 0;
}

/* Coverage: one predicate per fact, and where the fact belongs. */
static int
has_name(const struct qfacts *f)
{
	return f->name.n > 0;
}

static int
has_org(const struct qfacts *f)
{
	return f->org.n > 0;
}

static int
has_budget(const struct qfacts *f)
{
	return f->budget > 0;
}

static int
has_start(const struct qfacts *f)
{
	return f->start.y != 0;
}

static int
has_end(const struct qfacts *f)
{
	return f->end.y != 0;
}

static int
has_target(const struct qfacts *f)
{
	return f->target.n > 0;
}

static int
found_name(const struct qfacts *f, const struct qsec *s)
{
	return kg_quality_words_seq(&s->words, &f->name);
}

static int
found_org(const struct qfacts *f, const struct qsec *s)
{
	return kg_quality_words_seq(&s->words, &f->org);
}

static int
found_budget(const struct qfacts *f, const struct qsec *s)
{
	size_t k;

	for (k = 0; k < s->toks.n; k++)
		if (s->toks.v[k].kind == TOK_NUMBER &&
		    kg_quality_num_matches(&s->toks.v[k], f->budget))
			return 1;
	return 0;
}

static int
found_date(const struct qtok *d, const struct qsec *s)
{
	const struct qtok *t;
	size_t k;

	for (k = 0; k < s->toks.n; k++) {
		t = &s->toks.v[k];
		if (t->y == d->y && t->m == d->m &&
		    ((t->kind == TOK_DATE && t->d == d->d) ||
		     t->kind == TOK_MONTH))
			return 1;
	}
	return 0;
}

static int
found_start(const struct qfacts *f, const struct qsec *s)
{
	return found_date(&f->start, s);
}

static int
found_end(const struct qfacts *f, const struct qsec *s)
{
	return found_date(&f->end, s);
}

static int
found_target(const struct qfacts *f, const struct qsec *s)
{
	size_t k, hits = 0;

	for (k = 0; k < f->target.n; k++)
		hits += kg_quality_words_have(&s->words,
					       word_at(&f->target, k));
	return hits * 2 >= f->target.n;
}

static const struct fact_def {
	const char *key;	/* input key; name in "missing_facts" */
	const char *section;	/* the section expected to state it */
	int (*present)(const struct qfacts *);
	int (*found)(const struct qfacts *, const struct qsec *);
} fact_defs[] = {
	{"name", "summary", has_name, found_name},
	{"organization", "summary", has_org, found_org},
	{"budget", "budget", has_budget, found_budget},
	{"start_date", "schedule", has_start, found_start},
	{"end_date", "schedule", has_end, found_end},
	{"target_group", "target_group", has_target, found_target},
};

static struct qsec *
find_sec(struct qctx *q, const char *key)
{
	size_t k;

	for (k = 0; k < q->nsec; k++)
		if (q->sec[k].def->key && !strcmp(q->sec[k].def->key, key))
			return &q->sec[k];
	return NULL;
}

/* 2 = in its expected section, 1 = only elsewhere, 0 = nowhere. */
static int
fact_credit(struct qctx *q, const struct fact_def *fd, struct qsec *exp)
{
	size_t k;

	if (exp && fd->found(&q->facts, exp))
		return 2;
	for (k = 0; k < q->nsec; k++)
		if (&q->sec[k] != exp && fd->found(&q->facts, &q->sec[k]))
			return exp ? 1 : 2;
	return 0;
}

/* "a, b" lists for the detail text */
static int
list_add(struct kg_buf *list, const char *key)
{
	return kg_buf_printf(list, "%s%s", list->len ? ", " : "", key);
}

static int
coverage_detail(struct qcrit *c, int full, const struct kg_buf *elsewhere,
		const struct kg_buf *absent)
{
	if (!c->total)
		return kg_buf_puts(&c->detail, "brak faktów do sprawdzenia "
				   "w danych wejściowych");
	if (kg_buf_printf(&c->detail, "fakty w oczekiwanych sekcjach: "
			  "%d z %d", full, c->total / 2) < 0)
		return -1;
	if (elsewhere->len &&
	    kg_buf_printf(&c->detail, "; tylko w innych sekcjach: %s",
			  kg_buf_str(elsewhere)) < 0)
		return -1;
	if (absent->len &&
	    kg_buf_printf(&c->detail, "; brak: %s", kg_buf_str(absent)) < 0)
		return -1;
	return 0;
}

static int
crit_coverage(struct qctx *q, struct qcrit *c)
{
	struct kg_buf elsewhere = {0}, absent = {0};
	const struct fact_def *fd;
	struct qsec *exp;
	size_t k;
	int credit, full = 0, rc = -1;

	c->full_if_none = 1;
	for (k = 0; k < KG_COUNT(fact_defs); k++) {
		fd = &fact_defs[k];
		if (!fd->present(&q->facts))
			continue;
		exp = find_sec(q, fd->section);
		credit = fact_credit(q, fd, exp);
		c->total += 2;
		c->passed += credit;
		if (credit == 2) {
			full++;
			continue;
		}
		if (exp)
			exp->flags |= F_MISSING_FACT;
		if (!cJSON_AddItemToArray(q->missing,
					  cJSON_CreateString(fd->key)) ||
		    list_add(credit ? &elsewhere : &absent, fd->key) < 0)
			goto out;
	}
	rc = coverage_detail(c, full, &elsewhere, &absent);
out:
	kg_buf_free(&elsewhere);
	kg_buf_free(&absent);
	return rc;
}

/* Add `s[off, off+len)` to arr unless already there. */
static int
add_value_once(cJSON *arr, const char *s, size_t len)
{
	char v[VALUE_SHOW_MAX + 1];
	const cJSON *it;

	if (len > VALUE_SHOW_MAX)
		len = VALUE_SHOW_MAX;
	memcpy(v, s, len);
	v[len] = '\0';
	cJSON_ArrayForEach(it, arr)
		if (!strcmp(it->valuestring, v))
			return 0;
	return cJSON_AddItemToArray(arr, cJSON_CreateString(v)) ? 0 : -1;
}

static int
consistency_section(struct qctx *q, struct qsec *s, cJSON *unsup,
		    struct kg_buf *detail)
{
	cJSON *arr = NULL, *it;
	const struct qtok *t;
	size_t k;

	for (k = 0; k < s->toks.n; k++) {
		t = &s->toks.v[k];
		if (kg_quality_supported(&q->facts, t))
			continue;
		if (!arr)
			arr = cJSON_AddArrayToObject(unsup, s->def->key);
		if (!arr)
			return -1;
		if (add_value_once(arr, s->body + t->off, t->len) < 0)
			return -1;
	}
	if (!arr)
		return 1;
	s->flags |= F_UNSUPPORTED;
	if (kg_buf_printf(detail, "; %s: ", s->def->key) < 0)
		return -1;
	cJSON_ArrayForEach(it, arr)
		if (kg_buf_printf(detail, "%s%s", it == arr->child ? "" : ", ",
				  it->valuestring) < 0)
			return -1;
	return 0;
}

static int
crit_consistency(struct qctx *q, struct qcrit *c)
{
	struct kg_buf list = {0};
	size_t k;
	int rc = -1, clean;

	c->extra_name = "unsupported";
	c->extra = cJSON_CreateObject();
	if (!c->extra)
		return -1;
	for (k = 0; k < q->nsec; k++) {
		if (!q->sec[k].nonempty)
			continue;
		c->total++;
		clean = consistency_section(q, &q->sec[k], c->extra, &list);
		if (clean < 0)
			goto out;
		c->passed += clean;
	}
	rc = kg_buf_printf(&c->detail, "sekcje bez liczb spoza danych: "
			   "%d z %d%s", c->passed, c->total,
			   kg_buf_str(&list));
out:
	kg_buf_free(&list);
	return rc;
}

static int
crit_language(struct qctx *q, struct qcrit *c)
{
	const unsigned lang = F_ENGLISH | F_PLACEHOLDER | F_MARKDOWN;
	struct qsec *s;
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		s = &q->sec[k];
		if (!s->nonempty)
			continue;
		c->total++;
		if (kg_quality_english(s->body))
			s->flags |= F_ENGLISH;
		if (kg_quality_placeholder(s->body, kg_buf_str(&s->lower),
					   &s->words))
			s->flags |= F_PLACEHOLDER;
		if (kg_quality_markdown(s->body))
			s->flags |= F_MARKDOWN;
		c->passed += !(s->flags & lang);
	}
	if (kg_buf_printf(&c->detail, "sekcje bez usterek językowych: "
			  "%d z %d", c->passed, c->total) < 0 ||
	    detail_flagged(q, &c->detail, F_ENGLISH, "po angielsku: ") < 0 ||
	    detail_flagged(q, &c->detail, F_PLACEHOLDER, "zaślepki: ") < 0 ||
	    detail_flagged(q, &c->detail, F_MARKDOWN, "markdown: ") < 0)
		return -1;
	return 0;
}

static int
crit_review(struct qctx *q, struct qcrit *c)
{
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		c->total++;
		c->passed += q->sec[k].reviewed;
	}
	return kg_buf_printf(&c->detail, "sekcje przejrzane: %d z %d",
			     c->passed, c->total);
}

/* The maxima sum to 100 (a unit test checks it).  Order here is the
 * order of "criteria" in the JSON. */
static const struct crit_def {
	const char *name;
	int max;
	int (*run)(struct qctx *, struct qcrit *);
} crit_defs[] = {
	{"completeness", 25, crit_completeness},
	{"length", 20, crit_length},
	{"coverage", 20, crit_coverage},
	{"consistency", 15, crit_consistency},
	{"language", 10, crit_language},
	{"review", 10, crit_review},
};

#define NCRIT KG_COUNT(crit_defs)

/* Half-up rounding of max * passed / total in integers. */
static int
crit_points(const struct crit_def *cd, const struct qcrit *c)
{
	long num, den;

	if (c->total <= 0)
		return c->full_if_none ? cd->max : 0;
	num = (long)cd->max * 2 * c->passed + c->total;
	den = 2L * c->total;
	return (int)(num / den);
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */
/* ------------------------------------------------------------------ */

static int
json_criterion(cJSON *criteria, const struct crit_def *cd,
	       struct qcrit *c, int points)
{
	cJSON *o = cJSON_AddObjectToObject(criteria, cd->name);

	if (!o || !cJSON_AddNumberToObject(o, "score", points) ||
	    !cJSON_AddNumberToObject(o, "max", cd->max) ||
	    !cJSON_AddStringToObject(o, "detail", kg_buf_str(&c->detail)))
		return -1;
	if (c->extra) {
		if (!cJSON_AddItemToObject(o, c->extra_name, c->extra))
			return -1;
		c->extra = NULL;	/* owned by o now */
	}
	return 0;
}

static int
json_flags(cJSON *root, const struct qctx *q)
{
	cJSON *secs = cJSON_AddObjectToObject(root, "sections"), *arr;
	size_t k, b;

	if (!secs)
		return -1;
	for (k = 0; k < q->nsec; k++) {
		if (!q->sec[k].def->key)
			continue;
		arr = cJSON_AddArrayToObject(secs, q->sec[k].def->key);
		if (!arr)
			return -1;
		for (b = 0; b < KG_COUNT(flag_names); b++)
			if (q->sec[k].flags & 1u << b &&
			    !cJSON_AddItemToArray(arr,
				cJSON_CreateString(flag_names[b])))
				return -1;
	}
	return 0;
}

static cJSON *
json_result(struct qctx *q, struct qcrit *crit)
{
	cJSON *root = cJSON_CreateObject(), *criteria = NULL;
	int points[NCRIT], total = 0;
	size_t k;

	for (k = 0; k < NCRIT; k++) {
		points[k] = crit_points(&crit_defs[k], &crit[k]);
		total += points[k];
	}
	total = total < 0 ? 0 : total > 100 ? 100 : total;
	if (root && cJSON_AddNumberToObject(root, "score", total))
		criteria = cJSON_AddObjectToObject(root, "criteria");
	if (!criteria)
		goto fail;
	for (k = 0; k < NCRIT; k++)
		if (json_criterion(criteria, &crit_defs[k], &crit[k],
				   points[k]) < 0)
			goto fail;
	if (json_flags(root, q) < 0)
		goto fail;
	if (!cJSON_AddItemToObject(root, "missing_facts", q->missing))
		goto fail;
	q->missing = NULL;	/* owned by root now */
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

cJSON *
kg_quality_score(const cJSON *input, const struct kg_section_def *defs,
		 size_t ndefs, const struct kg_quality_section *sections,
		 size_t nsections)
{
	struct qctx q;
	struct qcrit crit[NCRIT];
	cJSON *res = NULL;
	size_t k;

	memset(&q, 0, sizeof(q));
	memset(crit, 0, sizeof(crit));
	q.sec = ndefs ? calloc(ndefs, sizeof(*q.sec)) : NULL;
	q.missing = cJSON_CreateArray();
	if ((ndefs && !q.sec) || !q.missing ||
	    kg_quality_facts_load(&q.facts, input) < 0)
		goto out;
	for (q.nsec = 0; q.nsec < ndefs; q.nsec++)
		if (sec_load(&q.sec[q.nsec], &defs[q.nsec], sections,
			     nsections) < 0)
			goto out;
	for (k = 0; k < NCRIT; k++)
		if (crit_defs[k].run(&q, &crit[k]) < 0)
			goto out;
	res = json_result(&q, crit);
out:
	for (k = 0; k < NCRIT; k++) {
		kg_buf_free(&crit[k].detail);
		cJSON_Delete(crit[k].extra);
	}
	for (k = 0; k < ndefs && q.sec; k++)
		sec_free(&q.sec[k]);
	free(q.sec);
	cJSON_Delete(q.missing);
	kg_quality_facts_free(&q.facts);
	return res;
}
