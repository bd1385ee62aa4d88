#include "kg_offline.h"
#include "kg_utf8.h"
#include "kg_array.h"
#include "kg_buf.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row fields a plan lists as facts, in this order. */
static const char *const fact_fields[] = {
	"name", "organization", "description", "goal", "target_group",
	"location", "budget", "start_date", "end_date", "keywords", "notes",
};

#define NFACTS KG_COUNT(fact_fields)

/* Whitespace and control characters collapse to one space; a trailing
 * full stop goes (templates supply their own punctuation). */
static void
clean_text(const char *in, char *out, size_t size)
{
	size_t n = 0;
	int space = 1;

	for (const unsigned char *p = (const unsigned char *)in;
	     *p && n + 1 < size; p++) {
		if (*p < 0x20 || *p == ' ' || *p == 0x7f) {
			if (!space)
				out[n++] = ' ';
			space = 1;
			continue;
		}
		out[n++] = (char)*p;
		space = 0;
	}
	n = kg_utf8_whole(out, n);	/* never half a character */
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '.'))
		n--;
	out[n] = '\0';
}

/* 1234567.5 -> "1 234 567,50 zł" */
static void
format_amount(double v, char *out, size_t size)
{
	long long grosze = llround(v * 100.0), zl = grosze / 100;
	char digits[32], grouped[48];
	size_t len, g = 0;

	snprintf(digits, sizeof(digits), "%lld", zl);
	len = strlen(digits);
	for (size_t i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			grouped[g++] = ' ';
		grouped[g++] = digits[i];
	}
	grouped[g] = '\0';
	snprintf(out, size, "%s,%02lld zł", grouped, grosze % 100);
}

/* "2025-03-01" -> "01.03.2025"; anything else -> "" */
static void
format_date(const char *iso, char *out, size_t size)
{
	int y, m, d;
	char tail;

	out[0] = '\0';
	if (sscanf(iso, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
	    m >= 1 && m <= 12 && d >= 1 && d <= 31)
		snprintf(out, size, "%02d.%02d.%04d", d, m, y);
}

void
kg_offline_value(const cJSON *input, const char *field, char *out,
		 size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, field);

	out[0] = '\0';
	if (!strcmp(field, "budget")) {
		if (cJSON_IsNumber(v) && v->valuedouble > 0)
			format_amount(v->valuedouble, out, size);
		return;
	}
	if (!cJSON_IsString(v))
		return;
	if (!strcmp(field, "start_date") || !strcmp(field, "end_date"))
		format_date(v->valuestring, out, size);
	else
		clean_text(v->valuestring, out, size);
}

/*
 * Expands one template.  Returns 1 and appends to `out` when every
 * placeholder has a value, 0 (nothing appended) when one is missing.
 */
int
kg_offline_sentence(const char *tpl, const cJSON *input, const char *title,
		    struct kg_buf *out)
{
	struct kg_buf b = {0};
	const char *p = tpl;
	int ok = 1;

	while (*p && ok) {
		const char *open = strchr(p, '{'), *close;
		char field[32], value[2048];

		if (!open || !(close = strchr(open, '}')) ||
		    (size_t)(close - open - 1) >= sizeof(field)) {
			kg_buf_puts(&b, p);
			break;
		}
		kg_buf_append(&b, p, (size_t)(open - p));
		memcpy(field, open + 1, (size_t)(close - open - 1));
		field[close - open - 1] = '\0';
		if (!strcmp(field, "title"))
			snprintf(value, sizeof(value), "%s", title);
		else
			kg_offline_value(input, field, value, sizeof(value));
		if (!value[0])
			ok = 0;
		kg_buf_puts(&b, value);
		p = close + 1;
	}
	if (ok) {
		if (out->len)
			kg_buf_puts(out, " ");
		kg_buf_puts(out, kg_buf_str(&b));
	}
	kg_buf_free(&b);
	return ok;
}

static int
words(const char *s)
{
	return kg_quality_word_count(s);
}

/* Appends template i if it fits under max; returns the new word count. */
static int
try_add(const struct kg_offline_tpl *t, const cJSON *input,
	const struct kg_section_def *def, struct kg_buf *text, int have)
{
	struct kg_buf s = {0};
	int w;

	if (!kg_offline_sentence(t->text, input, def->title, &s)) {
		kg_buf_free(&s);
		return have;
	}
	w = words(kg_buf_str(&s));
	if (have + w <= def->max_words) {
		if (text->len)
			kg_buf_puts(text, " ");
		kg_buf_puts(text, kg_buf_str(&s));
		have += w;
	}
	kg_buf_free(&s);
	return have;
}

char *
kg_offline_section(const cJSON *input, const struct kg_section_def *def,
		   const struct kg_offline_tpl *tpls, size_t ntpls)
{
	struct kg_buf text = {0};
	int have = 0;

	/* Pass 0: the section's own sentences, pass 1: general ones. */
	for (int pass = 0; pass < 2 && have < def->min_words; pass++) {
		for (size_t i = 0; i < ntpls && have < def->min_words; i++) {
			int general = !strcmp(tpls[i].section, "*");

			if (general != pass ||
			    (!general && strcmp(tpls[i].section, def->key)))
				continue;
			have = try_add(&tpls[i], input, def, &text, have);
		}
	}
	return kg_buf_take(&text);
}

static char *
print_and_free(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

char *
kg_offline_plan(const cJSON *input, const struct kg_section_def *defs,
		size_t ndefs)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *facts = cJSON_AddObjectToObject(o, "facts");
	cJSON *outline = cJSON_AddObjectToObject(o, "outline");
	char value[2048];

	for (size_t i = 0; i < NFACTS; i++) {
		kg_offline_value(input, fact_fields[i], value, sizeof(value));
		if (value[0])
			cJSON_AddStringToObject(facts, fact_fields[i], value);
	}
	for (size_t i = 0; i < ndefs; i++)
		cJSON_AddStringToObject(outline, defs[i].key, defs[i].title);
	return print_and_free(o);
}

char *
kg_offline_draft(const cJSON *input, const struct kg_section_def *defs,
		 size_t ndefs, const struct kg_offline_tpl *tpls, size_t ntpls)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *sections = cJSON_AddObjectToObject(o, "sections");

	for (size_t i = 0; i < ndefs; i++) {
		char *body = kg_offline_section(input, &defs[i], tpls, ntpls);

		cJSON_AddStringToObject(sections, defs[i].key,
					body ? body : "");
		free(body);
	}
	return print_and_free(o);
}

/* One section's light edit; see the header. */
static char *
polish_text(const char *in)
{
	size_t n = strlen(in);
	char *out = malloc(n + 2);

	if (!out)
		return NULL;
	clean_text(in, out, n + 1);
	n = strlen(out);
	if (n && islower((unsigned char)out[0]))
		out[0] = (char)toupper((unsigned char)out[0]);
	if (n && !strchr(".!?", out[n - 1])) {
		out[n] = '.';
		out[n + 1] = '\0';
	}
	return out;
}

char *
kg_offline_polish(const char *draft)
{
	cJSON *in = draft ? cJSON_Parse(draft) : NULL;
	cJSON *sections = cJSON_GetObjectItemCaseSensitive(in, "sections");
	cJSON *o, *out, *it;

	if (!cJSON_IsObject(sections)) {
		cJSON_Delete(in);
		return NULL;
	}
	o = cJSON_CreateObject();
	out = cJSON_AddObjectToObject(o, "sections");
	cJSON_ArrayForEach(it, sections) {
		char *t = polish_text(cJSON_IsString(it) ? it->valuestring : "");

		cJSON_AddStringToObject(out, it->string, t ? t : "");
		free(t);
	}
	cJSON_Delete(in);
	return print_and_free(o);
}
