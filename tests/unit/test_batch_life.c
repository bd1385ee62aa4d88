/*
 * Unit tests of the pure parts of the batch lifecycle (issue 17): what
 * a batch name may be (kg_batch_name_valid), the DELETE answer, and the
 * prompts' section list that the estimate renders exactly as the worker
 * does (kg_stage_spec_add).  The database parts are integration tests
 * (tests/integration/test_lifecycle.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kg_batch.h"
#include "kg_buf.h"
#include "kg_stage.h"

static void
test_name_valid(void **state)
{
	char longest[301 * 2 + 1];

	(void)state;
	assert_true(kg_batch_name_valid("Nabór „Zielone podwórka” 2026"));
	assert_true(kg_batch_name_valid(" x "));
	assert_false(kg_batch_name_valid(""));
	assert_false(kg_batch_name_valid("   "));
	assert_false(kg_batch_name_valid("a\nb"));
	assert_false(kg_batch_name_valid("tab\there"));
	assert_false(kg_batch_name_valid("del\x7f"));
	assert_false(kg_batch_name_valid("bad \xc3\x28 utf-8"));
	assert_false(kg_batch_name_valid("overlong \xc0\xaf"));
	/* 300 characters is the limit, counted in characters not bytes */
	for (int i = 0; i < 300; i++)
		memcpy(longest + 2 * i, "ł", 2);
	longest[600] = '\0';
	assert_true(kg_batch_name_valid(longest));
	memcpy(longest + 600, "ł", 3);
	assert_false(kg_batch_name_valid(longest));
}

static void
test_deleted_json(void **state)
{
	cJSON *o = kg_batch_deleted_json("project", "abc", 1);
	char *s = cJSON_PrintUnformatted(o);

	(void)state;
	assert_string_equal(s,
		"{\"deleted\":\"project\",\"id\":\"abc\",\"batch_deleted\":true}");
	free(s);
	cJSON_Delete(o);
}

static void
test_spec_lines(void **state)
{
	struct kg_buf spec = {0}, keys = {0};

	(void)state;
	kg_stage_spec_add(&spec, &keys, 0, "summary", "Podsumowanie", 60, 180,
			  "Krótko.");
	kg_stage_spec_add(&spec, &keys, 1, "risks", "Ryzyka", 40, 200,
			  "Ryzyka i działania.");
	assert_string_equal(kg_buf_str(&spec),
		"- summary (Podsumowanie, 60-180 słów): Krótko.\n"
		"- risks (Ryzyka, 40-200 słów): Ryzyka i działania.\n");
	assert_string_equal(kg_buf_str(&keys), "summary, risks");
	kg_buf_free(&spec);
	kg_buf_free(&keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_deleted_json),
		cmocka_unit_test(test_spec_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
