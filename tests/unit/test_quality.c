/* Unit tests of kg_quality: hand-made cards, one or more per criterion,
 * plus the invariants every score must keep (0..100, the breakdown
 * adds up, same card = same JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kg_buf.h"
#include "kg_quality.h"

#define NSEC 8

/* sql/002_section_defs.sql */
static const struct kg_section_def defs[NSEC] = {
	{"summary", "Podsumowanie projektu", 60, 180},
	{"objectives", "Cel i uzasadnienie", 80, 300},
	{"target_group", "Grupa docelowa", 60, 250},
	{"activities", "Zakres działań", 100, 350},
	{"schedule", "Harmonogram", 40, 200},
	{"budget", "Budżet", 40, 200},
	{"outcomes", "Rezultaty i wskaźniki", 60, 250},
	{"risks", "Ryzyka i sposoby ich ograniczania", 60, 250},
};

enum { S_SUMMARY, S_OBJECTIVES, S_TARGET, S_ACTIVITIES, S_SCHEDULE,
       S_BUDGET, S_OUTCOMES, S_RISKS };

static const char *const input_json =
	"{\"name\":\"Zielona Szkoła w Gdańsku\","
	"\"description\":\"Cykl warsztatów ekologicznych dla 120 uczniów "
	"szkół podstawowych.\","
	"\"organization\":\"Fundacja Zielony Dom\","
	"\"goal\":\"Podniesienie świadomości ekologicznej\","
	"\"target_group\":\"uczniowie szkół podstawowych\","
	"\"budget\":150000,"
	"\"start_date\":\"2025-03-01\",\"end_date\":\"2025-12-31\","
	"\"location\":\"Gdańsk\",\"keywords\":\"ekologia, edukacja\","
	"\"notes\":\"\"}";

/* The facts each section of the perfect card states; padded to length
 * with a neutral Polish sentence that holds no fact and no number. */
static const char *const perfect_core[NSEC] = {
	"Fundacja Zielony Dom realizuje projekt Zielona Szkoła w Gdańsku. "
	"Projekt obejmie 120 uczniów w 2025 roku.",
	"Celem projektu jest podniesienie świadomości ekologicznej dzieci.",
	"Projekt jest skierowany do uczniów szkół podstawowych z Gdańska.",
	"1. Przygotowanie warsztatów.\n2. Realizacja zajęć.\n"
	"3. Podsumowanie.",
	"Projekt rozpocznie się 01.03.2025 i zakończy 31.12.2025. Warsztaty "
	"odbędą się od kwietnia 2025 do listopada 2025.",
	"Całkowity budżet projektu wynosi 150 000,00 zł. Środki zostaną "
	"przeznaczone na materiały i wynagrodzenia prowadzących.",
	"Rezultatem będzie wzrost wiedzy ekologicznej uczestników, mierzony "
	"ankietą.",
	"Ryzykiem jest niska frekwencja; ograniczymy je dzięki współpracy ze "
	"szkołami.",
};

static const char filler[] =
	" Działania są prowadzone zgodnie z harmonogramem i opisem projektu "
	"oraz potrzebami uczestników.";

struct card {
	char *body[NSEC];
	int reviewed[NSEC];
};

/* core + filler until at least `words` words */
static char *
pad(const char *core, int words)
{
	struct kg_buf b = {0};

	assert_int_equal(kg_buf_puts(&b, core), 0);
	while (kg_quality_word_count(kg_buf_str(&b)) < words)
		assert_int_equal(kg_buf_puts(&b, filler), 0);
	return kg_buf_take(&b);
}

static void
card_perfect(struct card *c)
{
	int k;

	memset(c, 0, sizeof(*c));
	for (k = 0; k < NSEC; k++)
		c->body[k] = pad(perfect_core[k], defs[k].min_words + 5);
}

static void
card_set(struct card *c, int k, const char *body)
{
	free(c->body[k]);
	c->body[k] = strdup(body);
}

/* Replace a section with core text padded to a valid length. */
static void
card_set_padded(struct card *c, int k, const char *core)
{
	free(c->body[k]);
	c->body[k] = pad(core, defs[k].min_words + 5);
}

static void
card_free(struct card *c)
{
	for (int k = 0; k < NSEC; k++)
		free(c->body[k]);
}

static int
crit(const cJSON *res, const char *name)
{
	const cJSON *cr = cJSON_GetObjectItem(res, "criteria");
	const cJSON *o = cJSON_GetObjectItem(cr, name);

	assert_non_null(o);
	return cJSON_GetObjectItem(o, "score")->valueint;
}

static int
has_flag(const cJSON *res, const char *key, const char *flag)
{
	const cJSON *secs = cJSON_GetObjectItem(res, "sections");
	const cJSON *arr = cJSON_GetObjectItem(secs, key), *it;

	assert_true(cJSON_IsArray(arr));
	cJSON_ArrayForEach(it, arr)
		if (!strcmp(it->valuestring, flag))
			return 1;
	return 0;
}

static int
nflags(const cJSON *res, const char *key)
{
	const cJSON *secs = cJSON_GetObjectItem(res, "sections");

	return cJSON_GetArraySize(cJSON_GetObjectItem(secs, key));
}

static int
missing(const cJSON *res, const char *fact)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(res, "missing_facts"))
		if (!strcmp(it->valuestring, fact))
			return 1;
	return 0;
}

/* Every result: 0..100, criteria sum to the score, maxima sum to 100,
 * each criterion within 0..max and explained. */
static void
check_invariants(const cJSON *res)
{
	const cJSON *cr, *o;
	int sum = 0, maxsum = 0, score;

	assert_non_null(res);
	score = cJSON_GetObjectItem(res, "score")->valueint;
	assert_in_range(score, 0, 100);
	cr = cJSON_GetObjectItem(res, "criteria");
	assert_int_equal(cJSON_GetArraySize(cr), 6);
	cJSON_ArrayForEach(o, cr) {
		int s = cJSON_GetObjectItem(o, "score")->valueint;
		int m = cJSON_GetObjectItem(o, "max")->valueint;

		assert_in_range(s, 0, m);
		assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "detail")));
		sum += s;
		maxsum += m;
	}
	assert_int_equal(maxsum, 100);
	assert_int_equal(sum, score);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(res, "missing_facts")));
}

static cJSON *
score_with(const char *json, const struct card *c)
{
	struct kg_quality_section secs[NSEC];
	cJSON *input = json ? cJSON_Parse(json) : NULL, *res, *again;
	char *a, *b;

	assert_true(!json || input);
	for (int k = 0; k < NSEC; k++) {
		secs[k].key = defs[k].key;
		secs[k].body = c->body[k];
		secs[k].reviewed = c->reviewed[k];
	}
	res = kg_quality_score(input, defs, NSEC, secs, NSEC);
	check_invariants(res);
	/* determinism: the same card twice gives the same bytes */
	again = kg_quality_score(input, defs, NSEC, secs, NSEC);
	a = cJSON_PrintUnformatted(res);
	b = cJSON_PrintUnformatted(again);
	assert_string_equal(a, b);
	free(a);
	free(b);
	cJSON_Delete(again);
	cJSON_Delete(input);
	return res;
}

static cJSON *
score(const struct card *c)
{
	return score_with(input_json, c);
}

/* Set section k to the printf-formatted text (padded to a valid
 * length) and score the card against input `in`. */
static cJSON *score_section(struct card *c, const char *in, int k,
			    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static cJSON *
score_section(struct card *c, const char *in, int k, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	card_set_padded(c, k, text);
	return score_with(in, c);
}

/* Does section k, set to `text`, get `flag`? */
static int
flagged(struct card *c, int k, const char *text, const char *flag)
{
	cJSON *res = score_section(c, input_json, k, "%s", text);
	int on = has_flag(res, defs[k].key, flag);

	cJSON_Delete(res);
	return on;
}

static void
test_word_count(void **state)
{
	(void)state;
	assert_int_equal(kg_quality_word_count(NULL), 0);
	assert_int_equal(kg_quality_word_count(""), 0);
	assert_int_equal(kg_quality_word_count("Zażółć gęślą jaźń"), 3);
	assert_int_equal(kg_quality_word_count(" ZAŻÓŁĆ\tgęślą\n\njaźń."), 3);
	/* a lone dash is not a word; NBSP separates words */
	assert_int_equal(kg_quality_word_count("a – b"), 2);
	assert_int_equal(kg_quality_word_count("1\xc2\xa0" "234 zł"), 3);
	assert_int_equal(kg_quality_word_count("1. Etap"), 2);
}

static void
test_perfect_card(void **state)
{
	struct card c;
	cJSON *res;

	(void)state;
	card_perfect(&c);
	res = score(&c);
	assert_int_equal(crit(res, "completeness"), 25);
	assert_int_equal(crit(res, "length"), 20);
	assert_int_equal(crit(res, "coverage"), 20);
	assert_int_equal(crit(res, "consistency"), 15);
	assert_int_equal(crit(res, "language"), 10);
	assert_int_equal(crit(res, "review"), 0);
	assert_int_equal(cJSON_GetObjectItem(res, "score")->valueint, 90);
	for (int k = 0; k < NSEC; k++)
		assert_int_equal(nflags(res, defs[k].key), 0);
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItem(res, "missing_facts")), 0);
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_review_share(void **state)
{
	struct card c;
	cJSON *res;

	(void)state;
	card_perfect(&c);
	for (int k = 0; k < NSEC; k++)
		c.reviewed[k] = 1;
	res = score(&c);
	assert_int_equal(crit(res, "review"), 10);
	assert_int_equal(cJSON_GetObjectItem(res, "score")->valueint, 100);
	cJSON_Delete(res);

	for (int k = 0; k < NSEC; k++)
		c.reviewed[k] = k % 2;
	res = score(&c);
	assert_int_equal(crit(res, "review"), 5);
	cJSON_Delete(res);

	memset(c.reviewed, 0, sizeof(c.reviewed));
	c.reviewed[S_BUDGET] = 1;	/* 10 * 1/8 = 1.25 -> 1 */
	res = score(&c);
	assert_int_equal(crit(res, "review"), 1);
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_empty_sections(void **state)
{
	struct card c;
	cJSON *res;

	(void)state;
	memset(&c, 0, sizeof(c));	/* every body NULL */
	res = score(&c);
	assert_int_equal(cJSON_GetObjectItem(res, "score")->valueint, 0);
	for (int k = 0; k < NSEC; k++) {
		assert_true(has_flag(res, defs[k].key, "empty"));
		assert_false(has_flag(res, defs[k].key, "too_short"));
	}
	assert_true(missing(res, "name"));
	assert_true(missing(res, "budget"));
	assert_true(missing(res, "target_group"));
	assert_int_equal(cJSON_GetArraySize(
		cJSON_GetObjectItem(res, "missing_facts")), 6);
	cJSON_Delete(res);

	/* one section blank (whitespace and a dash only): 25 * 7/8 -> 22 */
	card_perfect(&c);
	card_set(&c, S_BUDGET, "  \n – \t");
	res = score(&c);
	assert_int_equal(crit(res, "completeness"), 22);
	assert_int_equal(crit(res, "length"), 18);	/* 17.5 -> 18 */
	assert_true(has_flag(res, "budget", "empty"));
	assert_true(has_flag(res, "budget", "missing_fact"));
	assert_true(missing(res, "budget"));
	/* 5 of 6 facts: 20 * 10/12 = 16.7 -> 17 */
	assert_int_equal(crit(res, "coverage"), 17);
	/* consistency and language judge the text there is */
	assert_int_equal(crit(res, "consistency"), 15);
	assert_int_equal(crit(res, "language"), 10);
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_too_short_too_long(void **state)
{
	struct card c;
	cJSON *res;
	char *longtext;

	(void)state;
	card_perfect(&c);
	card_set(&c, S_SUMMARY, "Fundacja Zielony Dom realizuje projekt "
		 "Zielona Szkoła w Gdańsku.");
	longtext = pad(perfect_core[S_RISKS], 300);
	card_set(&c, S_RISKS, longtext);
	free(longtext);
	res = score(&c);
	assert_true(has_flag(res, "summary", "too_short"));
	assert_true(has_flag(res, "risks", "too_long"));
	assert_false(has_flag(res, "summary", "too_long"));
	assert_int_equal(nflags(res, "objectives"), 0);
	assert_int_equal(crit(res, "length"), 15);	/* 20 * 6/8 */
	assert_int_equal(crit(res, "completeness"), 25);
	assert_int_equal(crit(res, "coverage"), 20);	/* facts still there */
	assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(res, "criteria"), "length"),
		"detail")->valuestring, "summary"));
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_missing_budget(void **state)
{
	struct card c;
	cJSON *res;

	(void)state;
	card_perfect(&c);
	card_set_padded(&c, S_BUDGET, "Budżet obejmuje materiały i "
			"wynagrodzenia prowadzących.");
	res = score(&c);
	assert_true(has_flag(res, "budget", "missing_fact"));
	assert_true(missing(res, "budget"));
	assert_false(missing(res, "name"));
	assert_int_equal(crit(res, "coverage"), 17);	/* 10/12 */
	assert_int_equal(crit(res, "consistency"), 15);
	cJSON_Delete(res);

	/* stated, but only in the summary: half credit, still listed */
	card_set_padded(&c, S_SUMMARY, "Fundacja Zielony Dom realizuje "
			"projekt Zielona Szkoła w Gdańsku za 150 000 zł.");
	res = score(&c);
	assert_true(missing(res, "budget"));
	assert_int_equal(crit(res, "coverage"), 18);	/* 11/12 = 18.3 */
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_budget_spellings(void **state)
{
	static const char *const ok[] = {
		"1234567 zł", "1 234 567 zł", "1 234 567,00 zł",
		"1.234.567,00 zł", "1\xc2\xa0" "234\xc2\xa0" "567,00 zł",
		"1\xe2\x80\xaf" "234\xe2\x80\xaf" "567 PLN", "1234567.00 zł",
		"1,2 mln zł", "1,23 mln złotych",
	};
	static const char *const bad[] = {
		"1 234 568 zł", "1,3 mln zł", "123 456,70 zł",
	};
	const char *in = "{\"name\":\"Zielona Szkoła w Gdańsku\","
		"\"organization\":\"Fundacja Zielony Dom\","
		"\"budget\":1234567}";
	struct card c;
	cJSON *res;
	size_t k;

	(void)state;
	card_perfect(&c);
	for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		res = score_section(&c, in, S_BUDGET,
				    "Budżet projektu wynosi %s.", ok[k]);
		if (has_flag(res, "budget", "missing_fact") ||
		    has_flag(res, "budget", "unsupported_number"))
			fail_msg("budget spelling not accepted: %s", ok[k]);
		cJSON_Delete(res);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		res = score_section(&c, in, S_BUDGET,
				    "Budżet projektu wynosi %s.", bad[k]);
		if (!has_flag(res, "budget", "missing_fact") ||
		    !has_flag(res, "budget", "unsupported_number"))
			fail_msg("wrong amount accepted: %s", bad[k]);
		cJSON_Delete(res);
	}
	card_free(&c);
}

static void
test_unsupported_amount(void **state)
{
	struct card c;
	cJSON *res, *unsup, *arr;

	(void)state;
	card_perfect(&c);
	card_set_padded(&c, S_BUDGET, "Całkowity budżet wynosi 150 000,00 zł, "
			"z czego 200 000 zł przeznaczymy na sprzęt, a 35% na "
			"wynagrodzenia.");
	res = score(&c);
	assert_true(has_flag(res, "budget", "unsupported_number"));
	assert_false(has_flag(res, "budget", "missing_fact"));
	assert_int_equal(crit(res, "consistency"), 13);	/* 15 * 7/8 */
	assert_int_equal(crit(res, "coverage"), 20);
	unsup = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		res, "criteria"), "consistency"), "unsupported");
	arr = cJSON_GetObjectItem(unsup, "budget");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	assert_string_equal(cJSON_GetArrayItem(arr, 0)->valuestring,
			    "200 000 zł");
	assert_string_equal(cJSON_GetArrayItem(arr, 1)->valuestring, "35%");
	assert_null(cJSON_GetObjectItem(unsup, "summary"));
	cJSON_Delete(res);

	/* a year outside the project and a date after its end */
	card_set_padded(&c, S_SCHEDULE, "Projekt rozpocznie się 01.03.2025 i "
			"zakończy 31.12.2025, a trwałość potrwa do 2031 roku "
			"i 15.01.2026.");
	res = score(&c);
	assert_true(has_flag(res, "schedule", "unsupported_number"));
	arr = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(res, "criteria"), "consistency"),
		"unsupported"), "schedule");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	assert_string_equal(cJSON_GetArrayItem(arr, 0)->valuestring, "2031");
	assert_string_equal(cJSON_GetArrayItem(arr, 1)->valuestring,
			    "15.01.2026");
	assert_int_equal(crit(res, "consistency"), 11);	/* 15 * 6/8 */
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_supported_numbers(void **state)
{
	struct card c;

	(void)state;
	card_perfect(&c);
	/* 120 from the description, small counts, years and dates in range,
	 * a day + month in range, the project length (10 months), and
	 * numbers that are names (COVID-19, 3D) */
	assert_false(flagged(&c, S_OUTCOMES, "W zajęciach weźmie udział 120 "
			     "uczniów z 8 szkół w 3 etapach, przez 10 "
			     "miesięcy 2025 roku. Do 15 czerwca uczniowie "
			     "przygotują modele 3D i plakat o COVID-19. "
			     "Zajęcia od 1 kwietnia 2025.",
			     "unsupported_number"));
	assert_true(flagged(&c, S_OUTCOMES, "Weźmie w nich udział 150 "
			    "uczniów.", "unsupported_number"));
	assert_true(flagged(&c, S_OUTCOMES, "Zajęcia od 1 lutego 2025.",
			    "unsupported_number"));
	card_free(&c);
}

static void
test_dates_forms(void **state)
{
	static const char *const ok[] = {
		"od 01.03.2025 do 31.12.2025",
		"od 1.03.2025 do 31.12.2025",
		"od 2025-03-01 do 2025-12-31",
		"od 1 marca 2025 do 31 grudnia 2025",
		"od marca 2025 do grudnia 2025",
		"od 03.2025 do 12/2025",
		"w marcu 2025 i w grudniu 2025",
	};
	struct card c;
	cJSON *res;
	size_t k;

	(void)state;
	card_perfect(&c);
	for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		res = score_section(&c, input_json, S_SCHEDULE,
				    "Projekt potrwa %s.", ok[k]);
		if (has_flag(res, "schedule", "missing_fact") ||
		    has_flag(res, "schedule", "unsupported_number") ||
		    crit(res, "coverage") != 20)
			fail_msg("date form not accepted: %s", ok[k]);
		cJSON_Delete(res);
	}
	card_set_padded(&c, S_SCHEDULE, "Projekt potrwa od wiosny do zimy.");
	res = score(&c);
	assert_true(has_flag(res, "schedule", "missing_fact"));
	assert_true(missing(res, "start_date"));
	assert_true(missing(res, "end_date"));
	assert_int_equal(crit(res, "coverage"), 13);	/* 8/12 = 13.3 */
	cJSON_Delete(res);

	/* right start, wrong end */
	card_set_padded(&c, S_SCHEDULE, "Projekt potrwa od 01.03.2025 do "
			"30.11.2025.");
	res = score(&c);
	assert_false(missing(res, "start_date"));
	assert_true(missing(res, "end_date"));
	assert_false(has_flag(res, "schedule", "unsupported_number"));
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_names_inflected_and_case(void **state)
{
	const char *in = "{\"name\":\"Zielona Szkoła\","
		"\"organization\":\"Łódzkie Towarzystwo Żeglarskie\","
		"\"target_group\":\"uczniowie szkół podstawowych\"}";
	struct card c;
	cJSON *res;

	(void)state;
	card_perfect(&c);
	card_set_padded(&c, S_SUMMARY, "ŁÓDZKIEGO TOWARZYSTWA ŻEGLARSKIEGO "
			"projekt „Zielonej Szkoły” jest opisany poniżej.");
	card_set_padded(&c, S_TARGET, "Odbiorcami są uczniowie szkoły "
			"podstawowej.");
	res = score_with(in, &c);
	assert_int_equal(crit(res, "coverage"), 20);
	cJSON_Delete(res);

	card_set_padded(&c, S_SUMMARY, "Towarzystwo realizuje projekt.");
	card_set_padded(&c, S_TARGET, "Odbiorcami są seniorzy.");
	res = score_with(in, &c);
	assert_true(missing(res, "name"));
	assert_true(missing(res, "organization"));
	assert_true(missing(res, "target_group"));
	assert_true(has_flag(res, "summary", "missing_fact"));
	assert_true(has_flag(res, "target_group", "missing_fact"));
	assert_int_equal(crit(res, "coverage"), 0);
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_markdown_and_english(void **state)
{
	struct card c;
	cJSON *res;

	(void)state;
	card_perfect(&c);
	card_set_padded(&c, S_OBJECTIVES, "## Cel projektu\n**Celem** jest "
			"podniesienie świadomości ekologicznej.");
	card_set_padded(&c, S_OUTCOMES, "Here is the summary of the project. "
			"The project will be run with the foundation.");
	res = score(&c);
	assert_true(has_flag(res, "objectives", "markdown"));
	assert_false(has_flag(res, "objectives", "english"));
	assert_true(has_flag(res, "outcomes", "english"));
	assert_false(has_flag(res, "outcomes", "markdown"));
	assert_int_equal(crit(res, "language"), 8);	/* 10 * 6/8 = 7.5 */
	assert_int_equal(crit(res, "consistency"), 15);
	cJSON_Delete(res);

	/* plain "- " bullets, a "#" inside a line and one English word
	 * in a Polish sentence are fine */
	card_set_padded(&c, S_OBJECTIVES, "Cele:\n- edukacja,\n- integracja,"
			"\n* współpraca.\nSzkoła nr #3 ma project managera.");
	card_set_padded(&c, S_OUTCOMES, perfect_core[S_OUTCOMES]);
	res = score(&c);
	assert_int_equal(nflags(res, "objectives"), 0);
	assert_int_equal(crit(res, "language"), 10);
	cJSON_Delete(res);
	card_free(&c);
}

static void
test_placeholders(void **state)
{
	static const char *const bad[] = {
		"Wnioskodawca: [nazwa organizacji].", "TODO: uzupełnić.",
		"Lorem ipsum dolor sit amet.", "Kwota XXX zł.",
		"Projekt {{name}} zostanie zrealizowany.",
		"Realizuje go <nazwa>.", "Opis [...] zostanie dodany.",
		"Dane do uzupełnienia.",
	};
	struct card c;
	cJSON *res;
	size_t k;

	(void)state;
	card_perfect(&c);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		res = score_section(&c, input_json, S_OBJECTIVES,
				    "Celem jest nauka. %s", bad[k]);
		if (!has_flag(res, "objectives", "placeholder") ||
		    crit(res, "language") != 9)	/* 10 * 7/8 = 8.75 */
			fail_msg("placeholder not caught: %s", bad[k]);
		cJSON_Delete(res);
	}
	/* a citation and a comparison are not placeholders */
	assert_false(flagged(&c, S_OBJECTIVES, "Celem jest edukacja [1], "
			     "gdy wiek < 10 lat.", "placeholder"));
	card_free(&c);
}

static void
test_odd_inputs(void **state)
{
	struct kg_quality_section secs[3] = {
		{"summary", "Tekst \xff\xfe z błędnym UTF-8 i "
		 "99999999999999999999 cyframi 1,2,3 oraz 2025-13-45.", 1},
		{"unknown", "Sekcja spoza definicji.", 1},
		{"summary", "Duplikat jest pomijany.", 0},
	};
	struct card c;
	cJSON *res, *in;

	(void)state;
	memset(&c, 0, sizeof(c));
	/* no input at all: no facts, coverage full, nothing supported */
	res = score_with(NULL, &c);
	assert_int_equal(crit(res, "coverage"), 20);
	assert_int_equal(cJSON_GetObjectItem(res, "score")->valueint, 20);
	cJSON_Delete(res);
	res = score_with("[1, 2]", &c);
	cJSON_Delete(res);

	in = cJSON_Parse("{\"budget\":\"1 234,56 zł\",\"start_date\":\"2025-"
			 "02-30x\",\"end_date\":7,\"keywords\":[\"2024\"]}");
	res = kg_quality_score(in, defs, NSEC, secs, 3);
	check_invariants(res);
	assert_true(has_flag(res, "summary", "too_short"));
	assert_true(missing(res, "budget"));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "sections"),
					"unknown"));
	assert_int_equal(crit(res, "review"), 1);	/* 10 * 1/8 */
	cJSON_Delete(res);

	/* no section definitions: score 0 (coverage has no place to look) */
	res = kg_quality_score(in, defs, 0, secs, 3);
	check_invariants(res);
	cJSON_Delete(res);
	cJSON_Delete(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_word_count),
		cmocka_unit_test(test_perfect_card),
		cmocka_unit_test(test_review_share),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_too_short_too_long),
		cmocka_unit_test(test_missing_budget),
		cmocka_unit_test(test_budget_spellings),
		cmocka_unit_test(test_unsupported_amount),
		cmocka_unit_test(test_supported_numbers),
		cmocka_unit_test(test_dates_forms),
		cmocka_unit_test(test_names_inflected_and_case),
		cmocka_unit_test(test_markdown_and_english),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_odd_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
