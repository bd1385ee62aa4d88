/* Unit tests of the offline drafter's section regeneration
 * (kg_offline_regenerate): "krócej" removes sentences but keeps min_words,
 * "dłużej" adds sentences within max_words, "więcej o X" adds a sentence
 * about X, anything else redrafts from the row; always deterministic and
 * valid for the stage check. */
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
#include "kg_quality.h"
#include "kg_stage.h"

static const struct kg_section_def summary = {"summary",
					      "Podsumowanie projektu", 12, 40};

static const struct kg_offline_tpl tpls[] = {
	{"summary", "Projekt „{name}” realizuje {organization}."},
	{"summary", "Projekt trwa od {start_date} do {end_date}."},
	{"budget", "Całkowity budżet projektu wynosi {budget}."},
	{"target_group", "Projekt jest skierowany do grupy: {target_group}."},
	{"*", "Zespół wnioskodawcy ma doświadczenie w podobnych działaniach."},
	{"*", "Wszystkie działania będą dostępne dla każdej osoby."},
	{"*", "Przebieg projektu zostanie opisany w sprawozdaniu."},
};
#define NTPLS KG_COUNT(tpls)

static const char input_json[] =
	"{\"name\":\"Zielona Szkoła\",\"organization\":\"Fundacja Dom\","
	"\"budget\":1234567.5,\"start_date\":\"2025-03-01\","
	"\"end_date\":\"2025-11-30\",\"target_group\":\"seniorzy z gminy\"}";

/* 5 sentences, 30 words (by kg_quality_word_count). */
static const char current[] =
	"Projekt „Zielona Szkoła” realizuje Fundacja Dom. "
	"Projekt trwa od 01.03.2025 do 30.11.2025. "
	"Zespół wnioskodawcy ma doświadczenie w podobnych działaniach. "
	"Wszystkie działania będą dostępne dla każdej osoby i każdej rodziny. "
	"Krótko.";

/* The regenerated text; the answer must pass the stage check. */
static char *
regen(const char *cur, const char *instruction)
{
	cJSON *input = cJSON_Parse(input_json), *out = NULL;
	char *json = kg_offline_regenerate(input, &summary, tpls, NTPLS, cur,
					   instruction);
	char *again = kg_offline_regenerate(input, &summary, tpls, NTPLS, cur,
					    instruction);
	char why[200], *text;

	assert_non_null(json);
	assert_string_equal(json, again);	/* deterministic */
	assert_int_equal(kg_stage_validate("regenerate", json, &summary, 1,
					   &out, why, sizeof(why)), 0);
	text = strdup(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "sections"),
					  "summary")->valuestring);
	cJSON_Delete(out);
	cJSON_Delete(input);
	free(json);
	free(again);
	return text;
}

static int
sentences(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += strchr(".!?", *s) && (!s[1] || s[1] == ' ');
	return n;
}

static void
test_shorter(void **state)
{
	char *t = regen(current, "Krócej, proszę");
	int w = kg_quality_word_count(t);

	(void)state;
	assert_true(sentences(t) < sentences(current));
	assert_true(w < kg_quality_word_count(current));
	assert_true(w >= summary.min_words);
	/* the first sentence stays */
	assert_true(!strncmp(t, "Projekt „Zielona Szkoła” realizuje", 20));
	free(t);
	/* KRÓCEJ in capitals too */
	t = regen(current, "KRÓCEJ");
	assert_true(sentences(t) < sentences(current));
	free(t);
}

static void
test_shorter_at_minimum_keeps_text(void **state)
{
	const char *cur = "Projekt „Zielona Szkoła” realizuje Fundacja Dom. "
			  "Projekt trwa od 01.03.2025 do 30.11.2025.";
	char *t = regen(cur, "krócej");

	(void)state;
	assert_string_equal(t, cur);
	free(t);
}

static void
test_longer(void **state)
{
	char *t = regen(current, "dłużej");
	int w = kg_quality_word_count(t);

	(void)state;
	assert_true(sentences(t) > sentences(current));
	assert_true(w > kg_quality_word_count(current));
	assert_true(w <= summary.max_words);
	assert_non_null(strstr(t, "rodziny. Krótko. Wszystkie działania"));
	free(t);
}

static void
test_more_about_topic(void **state)
{
	char *t = regen(current, "więcej o grupie docelowej");

	(void)state;
	assert_non_null(strstr(t, "seniorzy z gminy"));
	assert_int_equal(sentences(t), sentences(current) + 1);
	free(t);
	t = regen(current, "Więcej o budżecie");
	assert_non_null(strstr(t, "1 234 567,50 zł"));
	free(t);
	/* no field for it: one sentence naming the topic, braces dropped */
	t = regen(current, "więcej o {ekologii}!");
	assert_non_null(strstr(t, "zagadnieniu: ekologii."));
	free(t);
}

static void
test_other_instruction_redrafts(void **state)
{
	cJSON *input = cJSON_Parse(input_json);
	char *fresh = kg_offline_section(input, &summary, tpls, NTPLS);
	char *t = regen("Tekst napisany przez człowieka, zupełnie inny.",
			"napisz bardziej formalnie");

	(void)state;
	assert_string_equal(t, fresh);
	free(t);
	t = regen("Cokolwiek tu było.", "");
	assert_string_equal(t, fresh);
	free(t);
	free(fresh);
	cJSON_Delete(input);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shorter),
		cmocka_unit_test(test_shorter_at_minimum_keeps_text),
		cmocka_unit_test(test_longer),
		cmocka_unit_test(test_more_about_topic),
		cmocka_unit_test(test_other_instruction_redrafts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
