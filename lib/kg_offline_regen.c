/*
 * kg_offline_regenerate - the offline drafter's answer to a section
 * regeneration request; the rules are in kg_offline.h.
 */
#include "kg_offline.h"
#include "kg_array.h"
#include "kg_buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENTENCES 256

struct text {
	char *s[MAX_SENTENCES];
	int words[MAX_SENTENCES];
	int n, total;
};

static void
text_free(struct text *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->s[i]);
	t->n = t->total = 0;
}

static void
text_add(struct text *t, const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (!len || t->n == MAX_SENTENCES)
		return;
	t->s[t->n] = strndup(s, len);
	if (!t->s[t->n])
		return;
	t->words[t->n] = kg_quality_word_count(t->s[t->n]);
	t->total += t->words[t->n++];
}

/* Sentences end at . ! ? followed by white space or the end ("01.03.2025"
 * and "1 234,00 zł." stay whole where they should). */
static void
split(const char *in, struct text *t)
{
	const char *start = in, *p = in;

	for (; *p; p++)
		if (strchr(".!?", *p) && (!p[1] || isspace((unsigned char)p[1]))) {
			text_add(t, start, (size_t)(p - start + 1));
			start = p + 1;
		}
	text_add(t, start, strlen(start));
}

static int
contains(const struct text *t, const char *s)
{
	for (int i = 0; i < t->n; i++)
		if (strstr(t->s[i], s))
			return 1;
	return 0;
}

/* Appends s if it fits under max_words and is not there yet. */
static int
try_append(struct text *t, const char *s, int max_words)
{
	int w = kg_quality_word_count(s);

	if (!*s || contains(t, s) || t->total + w > max_words)
		return 0;
	text_add(t, s, strlen(s));
	return 1;
}

/* ASCII and the Polish capitals to lower case, in place. */
static void
lower(char *s)
{
	static const unsigned char pl[][3] = {
		{0xc4, 0x84, 0x85}, {0xc4, 0x86, 0x87}, {0xc4, 0x98, 0x99},
		{0xc5, 0x81, 0x82}, {0xc5, 0x83, 0x84}, {0xc3, 0x93, 0xb3},
		{0xc5, 0x9a, 0x9b}, {0xc5, 0xb9, 0xba}, {0xc5, 0xbb, 0xbc},
	};
	unsigned char *p = (unsigned char *)s;

	for (; *p; p++) {
		*p = (unsigned char)tolower(*p);
		if (!p[1])
			continue;
		for (size_t i = 0; i < KG_COUNT(pl); i++)
			if (p[0] == pl[i][0] && p[1] == pl[i][1]) {
				p[1] = pl[i][2];
				p++;
				break;
			}
	}
}

static int
has_any(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strstr(s, *words))
			return 1;
	return 0;
}

/* ---- shorter ---- */

static void
shorten(struct text *t, int min_words)
{
	int floor = (2 * t->total + 2) / 3;

	if (floor < min_words)
		floor = min_words;
	for (;;) {
		int best = -1;

		for (int i = 1; i < t->n; i++)
			if (t->total - t->words[i] >= floor &&
			    (best < 0 || t->words[i] > t->words[best]))
				best = i;
		if (best < 0)
			return;
		t->total -= t->words[best];
		free(t->s[best]);
		memmove(&t->s[best], &t->s[best + 1],
			(size_t)(t->n - best - 1) * sizeof(t->s[0]));
		memmove(&t->words[best], &t->words[best + 1],
			(size_t)(t->n - best - 1) * sizeof(t->words[0]));
		t->n--;
	}
}

/* ---- longer ---- */

/* Template i expanded, or NULL when a placeholder has no value. */
static char *
expand(const struct kg_offline_tpl *tpl, const cJSON *input,
       const struct kg_section_def *def)
{
	struct kg_buf b = {0};

	if (!kg_offline_sentence(tpl->text, input, def->title, &b)) {
		kg_buf_free(&b);
		return NULL;
	}
	return kg_buf_take(&b);
}

static void
lengthen(struct text *t, const cJSON *input, const struct kg_section_def *def,
	 const struct kg_offline_tpl *tpls, size_t ntpls)
{
	int goal = t->total + (t->total + 2) / 3, added = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < ntpls; i++) {
			int general = !strcmp(tpls[i].section, "*");
			char *s;

			if (added && t->total >= goal)
				return;
			if (general != pass ||
			    (!general && strcmp(tpls[i].section, def->key)))
				continue;
			s = expand(&tpls[i], input, def);
			if (s)
				added += try_append(t, s, def->max_words);
			free(s);
		}
}

/* ---- more about a topic ---- */

struct topic_map {
	const char *field;
	const char *const *words;
};

static const char *const w_group[] = {"grup", "odbior", "odbiorc",
				      "uczestn", NULL};
static const char *const w_budget[] = {"budże", "koszt", "kwot", "finans",
				       NULL};
static const char *const w_dates[] = {"termin", "harmonogram", "dat", NULL};
static const char *const w_place[] = {"miejsc", "lokaliz", NULL};
static const char *const w_goal[] = {"cel", NULL};
static const char *const w_org[] = {"organizac", "wnioskodaw", "fundacj",
				    NULL};
static const char *const w_desc[] = {"działa", "opis", NULL};
static const char *const w_keys[] = {"słow", "klucz", NULL};

static const struct topic_map topics[] = {
	{"target_group", w_group}, {"budget", w_budget},
	{"start_date", w_dates},   {"location", w_place},
	{"goal", w_goal},	   {"organization", w_org},
	{"description", w_desc},   {"keywords", w_keys},
};

/* The topic after "więcej o", "więcej na temat", "rozwiń"; NULL if none. */
static const char *
topic_of(const char *ins)
{
	static const char *const lead[] = {"więcej na temat ", "więcej o ",
					   "więcej w ", "rozwiń temat ",
					   "rozwiń ", NULL};

	for (int i = 0; lead[i]; i++) {
		const char *p = strstr(ins, lead[i]);

		if (p && p[strlen(lead[i])])
			return p + strlen(lead[i]);
	}
	return NULL;
}

static int
about_field(struct text *t, const char *field, const cJSON *input,
	    const struct kg_section_def *def,
	    const struct kg_offline_tpl *tpls, size_t ntpls)
{
	char ph[48];

	snprintf(ph, sizeof(ph), "{%s}", field);
	/* Pass 0: this section's, 1: other sections', 2: general ones. */
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < ntpls; i++) {
			int general = !strcmp(tpls[i].section, "*");
			int own = !strcmp(tpls[i].section, def->key);
			char *s;
			int ok;

			if ((pass == 0 && !own) ||
			    (pass == 1 && (own || general)) ||
			    (pass == 2 && !general) || !strstr(tpls[i].text, ph))
				continue;
			s = expand(&tpls[i], input, def);
			ok = s && try_append(t, s, def->max_words);
			free(s);
			if (ok)
				return 1;
		}
	return 0;
}

static void
more_about(struct text *t, const char *topic, const cJSON *input,
	   const struct kg_section_def *def,
	   const struct kg_offline_tpl *tpls, size_t ntpls)
{
	struct kg_buf b = {0};
	char clean[256];
	size_t n = 0;

	for (size_t i = 0; i < KG_COUNT(topics); i++)
		if (has_any(topic, topics[i].words) &&
		    about_field(t, topics[i].field, input, def, tpls, ntpls))
			return;
	/* No template: one sentence naming the topic (braces and line
	 * breaks out, no trailing punctuation). */
	for (const char *p = topic; *p; p++) {
		/* Near the end, stop only where a character starts. */
		if (n + 5 >= sizeof(clean) && ((unsigned char)*p & 0xc0) != 0x80)
			break;
		if (!strchr("{}\n\t", *p))
			clean[n++] = *p;
	}
	while (n && strchr(" .,;:!?", clean[n - 1]))
		n--;
	clean[n] = '\0';
	if (!n)
		return;
	kg_buf_printf(&b, "W tej części karty szczególną uwagę poświęcono "
		      "zagadnieniu: %s.", clean);
	try_append(t, kg_buf_str(&b), def->max_words);
	kg_buf_free(&b);
}

/* ---- the answer ---- */

static char *
answer(const struct kg_section_def *def, const char *body)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *s = cJSON_AddObjectToObject(o, "sections");
	char *json;

	cJSON_AddStringToObject(s, def->key, body ? body : "");
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}

char *
kg_offline_regenerate(const cJSON *input, const struct kg_section_def *def,
		      const struct kg_offline_tpl *tpls, size_t ntpls,
		      const char *current, const char *instruction)
{
	static const char *const w_short[] = {"krócej", "krótsz", "skróć",
					      "zwięźl", NULL};
	static const char *const w_long[] = {"dłużej", "dłuższ", "rozwiń",
					     "więcej", NULL};
	struct text t = {0};
	struct kg_buf b = {0};
	char *ins = strdup(instruction ? instruction : ""), *json;
	const char *topic;

	if (!ins)
		return NULL;
	lower(ins);
	split(current ? current : "", &t);
	if (has_any(ins, w_short)) {
		shorten(&t, def->min_words);
	} else if ((topic = topic_of(ins)) != NULL) {
		more_about(&t, topic, input, def, tpls, ntpls);
	} else if (has_any(ins, w_long)) {
		lengthen(&t, input, def, tpls, ntpls);
	} else {
		char *s = kg_offline_section(input, def, tpls, ntpls);

		free(ins);
		text_free(&t);
		json = answer(def, s);
		free(s);
		return json;
	}
	for (int i = 0; i < t.n; i++) {
		if (i)
			kg_buf_puts(&b, " ");
		kg_buf_puts(&b, t.s[i]);
	}
	json = answer(def, kg_buf_str(&b));
	kg_buf_free(&b);
	text_free(&t);
	free(ins);
	return json;
}
