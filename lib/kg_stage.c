#include "kg_stage.h"
#include "kg_array.h"
#include "kg_buf.h"
#include "kg_db.h"
#include "kg_err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kg_stage_names[KG_NSTAGES] = {"plan", "draft", "polish"};

static const char *const polish_words[] = {
	"i", "w", "na", "z", "do", "się", "oraz", "jest", "dla", "nie",
	"że", "to", "od", "po", "przez", "jak", "o", "ze", "we", "projekt",
	"projektu", "będzie", "są", "lub", "a",
};
static const char *const english_words[] = {
	"the", "and", "of", "with", "is", "are", "to", "for", "will", "this",
	"that", "project", "be", "in", "on",
};

/* The lists' words are short: a longer word is in neither (the test
 * runs for every word of every answer, on the worker's loop). */
#define LIST_WORD_MAX 8

static int
in_list(const char *w, size_t len, const char *const *list, size_t n)
{
	if (len > LIST_WORD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (w[0] == list[i][0] && !strcmp(w, list[i]))
			return 1;
	return 0;
}

/* A word holds a Polish letter when it has one of the two-byte UTF-8
 * sequences of ą ć ę ł ń ó ś ź ż (either case). */
static int
has_polish_letter(const char *w)
{
	static const char *const letters[] = {
		"ą", "ć", "ę", "ł", "ń", "ó", "ś", "ź", "ż",
		"Ą", "Ć", "Ę", "Ł", "Ń", "Ó", "Ś", "Ź", "Ż",
	};

	for (size_t i = 0; i < KG_COUNT(letters); i++)
		if (strstr(w, letters[i]))
			return 1;
	return 0;
}

int
kg_stage_is_polish(const char *text)
{
	int pl = 0, en = 0;
	const char *p = text;

	while (*p) {
		char w[64];
		size_t n = 0;
		int wide = 0;	/* a byte of a multi-byte letter */

		while (*p && !isalpha((unsigned char)*p) &&
		       !((unsigned char)*p & 0x80))
			p++;
		while (*p && (isalpha((unsigned char)*p) ||
			      ((unsigned char)*p & 0x80))) {
			if (n + 1 < sizeof(w)) {
				wide |= (unsigned char)*p & 0x80;
				w[n++] = (char)tolower((unsigned char)*p);
			}
			p++;
		}
		w[n] = '\0';
		if (!n)
			continue;
		if ((wide && has_polish_letter(w)) ||
		    in_list(w, n, polish_words, KG_COUNT(polish_words)))
			pl++;
		else if (in_list(w, n, english_words,
				 KG_COUNT(english_words)))
			en++;
	}
	return pl > 0 && pl >= en;
}

static cJSON *
extract_object(const char *text)
{
	const char *a = text ? strchr(text, '{') : NULL;
	const char *b = text ? strrchr(text, '}') : NULL;
	cJSON *o;

	if (!a || !b || b < a)
		return NULL;
	o = cJSON_ParseWithLength(a, (size_t)(b - a + 1));
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int
check_plan(const cJSON *o, const struct kg_section_def *defs, size_t ndefs,
	   char *why, size_t whysize)
{
	const cJSON *outline = cJSON_GetObjectItemCaseSensitive(o, "outline");

	if (!cJSON_IsObject(outline))
		return snprintf(why, whysize, "plan has no \"outline\" object"),
		       -1;
	for (size_t i = 0; i < ndefs; i++)
		if (!cJSON_GetObjectItemCaseSensitive(outline, defs[i].key))
			return snprintf(why, whysize,
					"plan outline lacks section %s",
					defs[i].key), -1;
	return 0;
}

static int
check_section(const struct kg_section_def *def, const cJSON *v, char *why,
	      size_t whysize)
{
	int w, lo = def->min_words / 2, hi = def->max_words + def->max_words / 2;

	if (!cJSON_IsString(v) || !v->valuestring[0])
		return snprintf(why, whysize, "section %s is missing or empty",
				def->key), -1;
	w = kg_quality_word_count(v->valuestring);
	if (w < lo || w > hi)
		return snprintf(why, whysize,
				"section %s has %d words (expected %d-%d)",
				def->key, w, def->min_words, def->max_words),
		       -1;
	if (strchr(v->valuestring, '{') || strchr(v->valuestring, '}'))
		return snprintf(why, whysize,
				"section %s holds template braces", def->key),
		       -1;
	if (!kg_stage_is_polish(v->valuestring))
		return snprintf(why, whysize, "section %s is not Polish",
				def->key), -1;
	return 0;
}

static int
check_sections(const cJSON *o, const struct kg_section_def *defs,
	       size_t ndefs, char *why, size_t whysize)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "sections");

	if (!cJSON_IsObject(s))
		return snprintf(why, whysize, "output has no \"sections\" "
				"object"), -1;
	for (size_t i = 0; i < ndefs; i++)
		if (check_section(&defs[i],
				  cJSON_GetObjectItemCaseSensitive(s, defs[i].key),
				  why, whysize) < 0)
			return -1;
	return 0;
}

int
kg_stage_validate(const char *stage, const char *text,
		  const struct kg_section_def *defs, size_t ndefs, cJSON **out,
		  char *why, size_t whysize)
{
	cJSON *o = extract_object(text);
	int rc;

	if (out)
		*out = NULL;
	if (!o)
		return snprintf(why, whysize, "%s output is not a JSON object",
				stage), -1;
	if (!strcmp(stage, "plan"))
		rc = check_plan(o, defs, ndefs, why, whysize);
	else
		rc = check_sections(o, defs, ndefs, why, whysize);
	if (rc == 0 && out)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}

char *
kg_stage_prompt_render(const char *tpl, const char *const *names,
		 const char *const *values, size_t n)
{
	struct kg_buf b = {0};
	const char *p = tpl;

	while (*p) {
		const char *open = strchr(p, '{'), *close;
		size_t i, len;

		if (!open || !(close = strchr(open + 1, '}'))) {
			kg_buf_puts(&b, p);
			break;
		}
		kg_buf_append(&b, p, (size_t)(open - p));
		len = (size_t)(close - open - 1);
		for (i = 0; i < n; i++)
			if (strlen(names[i]) == len &&
			    !strncmp(open + 1, names[i], len))
				break;
		if (i < n) {
			kg_buf_puts(&b, values[i] ? values[i] : "");
			p = close + 1;
		} else {
			kg_buf_puts(&b, "{");
			p = open + 1;
		}
	}
	if (!b.data && kg_buf_puts(&b, "") < 0)
		return NULL;
	return kg_buf_take(&b);
}

void
kg_stage_spec_add(struct kg_buf *spec, struct kg_buf *keys, int index,
		  const char *key, const char *title, int min_words,
		  int max_words, const char *guidance)
{
	kg_buf_printf(spec, "- %s (%s, %d-%d słów): %s\n", key, title,
		      min_words, max_words, guidance);
	kg_buf_printf(keys, "%s%s", index ? ", " : "", key);
}

int
kg_stage_prompts_load(struct kg_prompt p[KG_NSTAGES], struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
		"SELECT stage, system, body, max_tokens FROM prompt_templates "
		"WHERE stage IN ('plan', 'draft', 'polish')", 0, NULL);
	int found = 0;

	memset(p, 0, KG_NSTAGES * sizeof(*p));
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		for (int s = 0; s < KG_NSTAGES; s++) {
			if (strcmp(PQgetvalue(res, i, 0), kg_stage_names[s]))
				continue;
			p[s].stage = strdup(PQgetvalue(res, i, 0));
			p[s].system = strdup(PQgetvalue(res, i, 1));
			p[s].body = strdup(PQgetvalue(res, i, 2));
			p[s].max_tokens = atoi(PQgetvalue(res, i, 3));
			found += p[s].stage && p[s].system && p[s].body;
		}
	}
	PQclear(res);
	if (found != KG_NSTAGES)
		return kg_err_set(err, 500, "no_data",
				  "prompt_templates lacks a stage");
	return 0;
}

void
kg_stage_prompts_free(struct kg_prompt p[KG_NSTAGES])
{
	for (int s = 0; s < KG_NSTAGES; s++) {
		free(p[s].stage);
		free(p[s].system);
		free(p[s].body);
	}
	memset(p, 0, KG_NSTAGES * sizeof(*p));
}
