/* Unit tests of the offline drafter (kg_offline) and of the stage checks
 * and prompt rendering of the pipeline (kg_stage): determinism, data-driven
 * text within the word ranges, and every kind of invalid stage output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kg_array.h"
#include "kg_offline.h"
#include "kg_stage.h"

static const struct kg_section_def defs[] = {
	{"summary", "Podsumowanie projektu", 12, 40},
	{"budget", "Budżet", 8, 30},
};
#define NDEFS KG_COUNT(defs)

static const struct kg_offline_tpl tpls[] = {
	{"summary", "Projekt „{name}” realizuje {organization}."},
	{"summary", "Miejsce realizacji to {location}."},	/* no location */
	{"summary", "Projekt trwa od {start_date} do {end_date}."},
	{"budget", "Całkowity budżet projektu wynosi {budget}."},
	{"*", "Zespół wnioskodawcy ma doświadczenie w podobnych działaniach."},
	{"*", "Wszystkie działania będą dostępne dla każdej osoby."},
	{"*", "Przebieg projektu zostanie opisany w sprawozdaniu."},
};
#define NTPLS KG_COUNT(tpls)

static const char input_json[] =
	"{\"name\":\"Zielona   Szkoła.\",\"organization\":\"Fundacja Dom\","
	"\"budget\":1234567.5,\"start_date\":\"2025-03-01\","
	"\"end_date\":\"2025-11-30\",\"notes\":\"\"}";

static cJSON *
draft_sections(cJSON **root)
{
	cJSON *input = cJSON_Parse(input_json);
	char *s = kg_offline_draft(input, defs, NDEFS, tpls, NTPLS);

	assert_non_null(s);
	*root = cJSON_Parse(s);
	free(s);
	cJSON_Delete(input);
	return cJSON_GetObjectItem(*root, "sections");
}

static void
test_draft_is_deterministic(void **state)
{
	cJSON *input = cJSON_Parse(input_json);
	char *a = kg_offline_draft(input, defs, NDEFS, tpls, NTPLS);
	char *b = kg_offline_draft(input, defs, NDEFS, tpls, NTPLS);

	(void)state;
	assert_string_equal(a, b);
	free(a);
	free(b);
	cJSON_Delete(input);
}

static void
test_draft_uses_the_row(void **state)
{
	cJSON *root, *sec = draft_sections(&root);
	const char *summary = cJSON_GetStringValue(cJSON_GetObjectItem(sec,
								      "summary"));
	const char *budget = cJSON_GetStringValue(cJSON_GetObjectItem(sec,
								     "budget"));

	(void)state;
	/* values cleaned (whitespace, trailing stop), dates and amounts
	 * formatted, a sentence with a missing value skipped */
	assert_non_null(strstr(summary, "Projekt „Zielona Szkoła” realizuje "
					"Fundacja Dom."));
	assert_non_null(strstr(summary, "od 01.03.2025 do 30.11.2025"));
	assert_null(strstr(summary, "Miejsce"));
	assert_null(strchr(summary, '{'));
	assert_non_null(strstr(budget, "1 234 567,50 zł"));
	cJSON_Delete(root);
}

static void
test_draft_within_word_ranges(void **state)
{
	cJSON *root, *sec = draft_sections(&root);

	(void)state;
	for (size_t i = 0; i < NDEFS; i++) {
		int w = kg_quality_word_count(cJSON_GetStringValue(
			cJSON_GetObjectItem(sec, defs[i].key)));

		assert_true(w >= defs[i].min_words);
		assert_true(w <= defs[i].max_words);
	}
	cJSON_Delete(root);
}

static void
test_plan_and_polish(void **state)
{
	cJSON *input = cJSON_Parse(input_json);
	char *plan = kg_offline_plan(input, defs, NDEFS);
	char *polished = kg_offline_polish(
		"{\"sections\":{\"summary\":\"  ala  ma\\nkota \","
		"\"budget\":\"Koniec!\",\"risks\":\"gość\"}}");
	char why[256];

	(void)state;
	assert_int_equal(kg_stage_validate("plan", plan, defs, NDEFS, NULL,
					   why, sizeof(why)), 0);
	/* a text ending in a letter of two bytes keeps all of it */
	assert_string_equal(polished, "{\"sections\":{\"summary\":\"Ala ma "
				      "kota.\",\"budget\":\"Koniec!\","
				      "\"risks\":\"Gość.\"}}");
	assert_null(kg_offline_polish("[1]"));
	assert_null(kg_offline_polish(NULL));
	free(plan);
	free(polished);
	cJSON_Delete(input);
}

static void
test_validate_draft_output(void **state)
{
	cJSON *input = cJSON_Parse(input_json);
	char *draft = kg_offline_draft(input, defs, NDEFS, tpls, NTPLS);
	char fenced[4096], why[256];
	cJSON *out = NULL;

	(void)state;
	assert_int_equal(kg_stage_validate("draft", draft, defs, NDEFS, &out,
					   why, sizeof(why)), 0);
	assert_non_null(out);
	cJSON_Delete(out);
	/* models wrap JSON in fences and prose: still valid */
	snprintf(fenced, sizeof(fenced), "Oto wynik:\n```json\n%s\n```", draft);
	assert_int_equal(kg_stage_validate("polish", fenced, defs, NDEFS, NULL,
					   why, sizeof(why)), 0);
	free(draft);
	cJSON_Delete(input);
}

static void
expect_invalid(const char *stage, const char *text, const char *reason)
{
	char why[256] = "";
	cJSON *out = (cJSON *)1;

	assert_int_equal(kg_stage_validate(stage, text, defs, NDEFS, &out, why,
					   sizeof(why)), -1);
	assert_null(out);
	if (!strstr(why, reason))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", text, why, reason);
}

#define PL12 "Projekt realizuje fundacja dla mieszkańców i partnerów w gminie oraz w okolicy miasta"
#define PL8 "Budżet projektu obejmuje koszty działań i materiałów dla uczestników"

static void
test_validate_rejects(void **state)
{
	(void)state;
	expect_invalid("draft", "no json here", "not a JSON object");
	expect_invalid("draft", "{\"sections\": [1]", "not a JSON object");
	expect_invalid("draft", "{\"text\": \"x\"}", "no \"sections\"");
	expect_invalid("draft", "{\"sections\": {\"summary\": \"" PL12 "\"}}",
		       "budget is missing");
	expect_invalid("draft", "{\"sections\": {\"summary\": \"" PL12 "\","
		       "\"budget\": \"\"}}", "budget is missing");
	expect_invalid("draft", "{\"sections\": {\"summary\": \"" PL12 "\","
		       "\"budget\": \"za krótko\"}}", "budget has 2 words");
	expect_invalid("draft", "{\"sections\": {\"summary\": \"" PL12 "\","
		       "\"budget\": \"" PL8 " {budget}\"}}", "template braces");
	expect_invalid("draft", "{\"sections\": {\"summary\": \"The project "
		       "is for the people of the town and the region with the "
		       "best results for all\", \"budget\": \"" PL8 "\"}}",
		       "summary is not Polish");
	expect_invalid("plan", "{\"facts\": {}}", "no \"outline\"");
	expect_invalid("plan", "{\"outline\": {\"summary\": \"x\"}}",
		       "lacks section budget");
}

/* The language check: Polish letters in either case, the short word
 * lists, long words (never in a list) and English. */
static void
test_is_polish(void **state)
{
	(void)state;
	assert_true(kg_stage_is_polish("Zajęcia dla dzieci"));
	assert_true(kg_stage_is_polish("ŁÓDŹ"));
	assert_true(kg_stage_is_polish("projekt i program w gminie"));
	assert_true(kg_stage_is_polish("PROJEKTU oraz TO"));
	assert_false(kg_stage_is_polish("The project will be great for all"));
	assert_false(kg_stage_is_polish("projektuje programmes extraordinary"));
	assert_false(kg_stage_is_polish("café naïve"));
	assert_false(kg_stage_is_polish(""));
	/* a letter past the 63 bytes a word keeps does not count */
	assert_false(kg_stage_is_polish(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaą"
		" the"));
	assert_true(kg_stage_is_polish(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaą"));
}

static void
test_prompt_render(void **state)
{
	const char *names[] = {"a", "bb"};
	const char *values[] = {"1", "{x}"};
	char *s = kg_stage_prompt_render("{a}-{bb}-{c}-{a}-{", names, values, 2);

	(void)state;
	/* values are not re-expanded; unknown names stay */
	assert_string_equal(s, "1-{x}-{c}-1-{");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draft_is_deterministic),
		cmocka_unit_test(test_draft_uses_the_row),
		cmocka_unit_test(test_draft_within_word_ranges),
		cmocka_unit_test(test_plan_and_polish),
		cmocka_unit_test(test_validate_draft_output),
		cmocka_unit_test(test_validate_rejects),
		cmocka_unit_test(test_is_polish),
		cmocka_unit_test(test_prompt_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
