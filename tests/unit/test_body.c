/* Unit tests of the declared request bodies (kg_body.h, "Request bodies,
 * declared"): every rule with a body that passes beside one that does
 * not, the status, code and message of the refusal, text cleaning and
 * the typed getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kg_body.h"

/* The project editor's PATCH body, as cgi-bin/project.c declares it. */
static const struct kg_body_field edit[] = {
	{"body", KG_BODY_TEXT, .max = 10},
	{"reviewed", KG_BODY_BOOL},
	{0},
};

static const struct kg_body_field patch[] = {
	KG_BODY_VERSION_FIELD,
	{"sections", KG_BODY_MAP, KG_BODY_REQUIRED, .min = 1, .max = 3,
	 .of = &(const struct kg_body_field){"edit", KG_BODY_OBJECT, .min = 1,
					.fields = edit}},
	{0},
};

static const char *const colours[] = {"red", "green", NULL};

static const struct kg_body_field kinds[] = {
	{"name", KG_BODY_STRING, KG_BODY_REQUIRED, .min = 1, .max = 5},
	{"count", KG_BODY_INT, .min = -2, .max = 9},
	{"ratio", KG_BODY_NUMBER, .max = 1},
	{"id", KG_BODY_UUID},
	{"colour", KG_BODY_ENUM, .values = colours},
	{"note", KG_BODY_TEXT, KG_BODY_NULLABLE},
	{"ids", KG_BODY_ARRAY, .min = 1, .max = 2,
	 .of = &(const struct kg_body_field){"id", KG_BODY_UUID}},
	{"revision_id", KG_BODY_INT, .min = 1, .what = "a revision's id"},
	{0},
};

/* text passes `fields`; returns the parsed object (caller deletes). */
static cJSON *
passes(const struct kg_body_field *fields, const char *text)
{
	struct kg_err err = {0};
	cJSON *o = cJSON_Parse(text);

	assert_non_null(o);
	if (kg_body_check(fields, o, &err) != 0)
		fail_msg("%s: %d %s %s", text, err.status, err.code,
			 err.message);
	assert_int_equal(err.status, 0);
	return o;
}

static void
ok(const struct kg_body_field *fields, const char *text)
{
	cJSON_Delete(passes(fields, text));
}

/* text is refused with status, code and exactly message. */
static void
refused(const struct kg_body_field *fields, const char *text, int status,
	const char *code, const char *message)
{
	struct kg_err err = {0};
	cJSON *o = cJSON_Parse(text);

	assert_non_null(o);
	if (kg_body_check(fields, o, &err) != -1)
		fail_msg("accepted: %s", text);
	assert_int_equal(err.status, status);
	assert_string_equal(err.code, code);
	assert_string_equal(err.message, message);
	cJSON_Delete(o);
}

static void
test_unknown_and_twice(void **state)
{
	(void)state;
	ok(patch, "{\"version\": 1, \"sections\": {\"a\": {\"body\": \"x\"}}}");
	refused(patch,
		"{\"version\": 1, \"sections\": {\"a\": {\"body\": \"x\"}}, "
		"\"extra\": 1}",
		400, "bad_request", "unknown field \"extra\"");
	refused(patch,
		"{\"sections\": {\"a\": {\"body\": \"x\", \"bdy\": \"y\"}}}",
		400, "bad_request", "unknown field \"sections.a.bdy\"");
	refused(patch,
		"{\"version\": 1, \"version\": 2, "
		"\"sections\": {\"a\": {\"body\": \"x\"}}}",
		400, "bad_request", "field \"version\" given twice");
	refused(patch,
		"{\"sections\": {\"a\": {\"body\": \"x\"}, "
		"\"a\": {\"body\": \"y\"}}}",
		400, "bad_request", "sections names \"a\" twice");
}

static void
test_required_and_types(void **state)
{
	(void)state;
	ok(patch, "{\"sections\": {\"a\": {\"reviewed\": true}}}");
	refused(patch, "{\"version\": 1}", 400, "bad_request",
		"sections is required");
	refused(patch, "{\"sections\": [1]}", 400, "bad_request",
		"sections must be an object");
	refused(patch, "{\"sections\": {\"a\": \"x\"}}", 400, "bad_request",
		"sections.a must be an object");
	refused(patch, "{\"sections\": {\"a\": {\"body\": 5}}}", 400,
		"bad_request", "sections.a.body must be a string");
	refused(patch, "{\"sections\": {\"a\": {\"reviewed\": \"yes\"}}}", 400,
		"bad_request", "sections.a.reviewed must be a boolean");
	refused(patch, "{\"version\": \"1\", \"sections\": {\"a\": {}}}", 400,
		"bad_request", "version must be a positive integer");
	refused(patch, "{\"version\": null, \"sections\": {\"a\": {}}}", 400,
		"bad_request", "version must be a positive integer");
}

static void
test_counts(void **state)
{
	(void)state;
	ok(patch, "{\"sections\": {\"a\": {\"reviewed\": true}, "
		  "\"b\": {\"reviewed\": false}, \"c\": {\"body\": \"\"}}}");
	refused(patch, "{\"sections\": {}}", 400, "bad_request",
		"sections must have 1 to 3 entries");
	refused(patch,
		"{\"sections\": {\"a\": {\"reviewed\": true}, "
		"\"b\": {\"reviewed\": true}, \"c\": {\"reviewed\": true}, "
		"\"d\": {\"reviewed\": true}}}",
		400, "bad_request", "sections must have 1 to 3 entries");
	refused(patch, "{\"sections\": {\"a\": {}}}", 400, "bad_request",
		"sections.a: nothing to change (give at least 1 of its "
		"fields)");
	ok(kinds, "{\"name\": \"n\", \"ids\": [\"0a0a0a0a-0000-4000-8000-"
		  "000000000000\", \"0A0A0A0A-0000-4000-8000-000000000001\"]}");
	refused(kinds, "{\"name\": \"n\", \"ids\": []}", 400, "bad_request",
		"ids must have 1 to 2 items");
	refused(kinds, "{\"name\": \"n\", \"ids\": [\"x\"]}", 400,
		"bad_request", "ids.0 must be an id (uuid)");
}

static void
test_numbers(void **state)
{
	(void)state;
	ok(kinds, "{\"name\": \"n\", \"count\": -2}");
	ok(kinds, "{\"name\": \"n\", \"count\": 9, \"ratio\": 0.5}");
	refused(kinds, "{\"name\": \"n\", \"count\": -3}", 400, "bad_request",
		"count must be an integer from -2 to 9");
	refused(kinds, "{\"name\": \"n\", \"count\": 10}", 400, "bad_request",
		"count must be an integer from -2 to 9");
	refused(kinds, "{\"name\": \"n\", \"count\": 1.5}", 400, "bad_request",
		"count must be an integer from -2 to 9");
	refused(kinds, "{\"name\": \"n\", \"ratio\": 1.01}", 400,
		"bad_request", "ratio must be a number from 0 to 1");
	ok(kinds, "{\"name\": \"n\", \"revision_id\": 123456789012}");
	refused(kinds, "{\"name\": \"n\", \"revision_id\": 0}", 400,
		"bad_request", "revision_id must be a revision's id");
	refused(patch, "{\"version\": 2147483648, \"sections\": {\"a\": {}}}",
		400, "bad_request", "version must be a positive integer");
}

static void
test_strings(void **state)
{
	(void)state;
	/* lengths are characters: five two-byte letters fit in 5 */
	ok(kinds, "{\"name\": \"\xc5\x82\xc5\x82\xc5\x82\xc5\x82\xc5\x82\"}");
	refused(kinds, "{\"name\": \"abcdef\"}", 422, "too_long",
		"name is longer than 5 characters");
	refused(kinds, "{\"name\": \"\"}", 422, "too_short",
		"name must not be empty");
	ok(kinds, "{\"name\": \"n\", \"colour\": \"green\"}");
	refused(kinds, "{\"name\": \"n\", \"colour\": \"blue\"}", 400,
		"bad_request", "colour must be one of \"red\", \"green\"");
	ok(kinds, "{\"name\": \"n\", \"id\": "
		  "\"12345678-9abc-def0-1234-56789abcdef0\"}");
	refused(kinds, "{\"name\": \"n\", \"id\": "
		       "\"12345678-9abc-def0-1234-56789abcdef\"}",
		400, "bad_request", "id must be an id (uuid)");
	refused(kinds, "{\"name\": \"n\", \"id\": "
		       "\"12345678+9abc-def0-1234-56789abcdef0\"}",
		400, "bad_request", "id must be an id (uuid)");
}

static void
test_nullable(void **state)
{
	cJSON *o;

	(void)state;
	o = passes(kinds, "{\"name\": \"n\", \"note\": null}");
	assert_null(kg_body_str(o, "note"));
	assert_null(kg_body_get(o, "note"));
	cJSON_Delete(o);
	refused(kinds, "{\"name\": null}", 400, "bad_request",
		"name must be a string");
	refused(kinds, "{\"name\": \"n\", \"colour\": null}", 400,
		"bad_request", "colour must be one of \"red\", \"green\"");
}

/* KG_BODY_TEXT is cleaned in place and its length counted after cleaning. */
static void
test_text_cleaned(void **state)
{
	cJSON *o;
	const cJSON *it;

	(void)state;
	o = passes(patch, "{\"sections\": {\"a\": {\"body\": "
			  "\"a\\r\\nb\\u0007\\rc\\u0085\"}}}");
	it = kg_body_get(o, "sections");
	assert_non_null(it);
	assert_string_equal(kg_body_str(it->child, "body"), "a\nb\nc");
	cJSON_Delete(o);
	/* 10 letters and 5 controls: fits once the controls are gone */
	ok(patch, "{\"sections\": {\"a\": {\"body\": \"abcde\\u0001\\u0002"
		  "\\u0003\\u0004\\u0005fghij\"}}}");
	refused(patch, "{\"sections\": {\"a\": {\"body\": \"abcdefghijk\"}}}",
		422, "too_long", "sections.a.body is longer than 10 characters");
}

static void
test_getters(void **state)
{
	cJSON *o;
	const cJSON *s;

	(void)state;
	o = passes(patch, "{\"version\": 7, \"sections\": {\"x\": "
			  "{\"reviewed\": false}, \"y\": {\"body\": \"t\"}}}");
	assert_int_equal(kg_body_int(o, "version", 0), 7);
	assert_int_equal(kg_body_int(o, "nope", -5), -5);
	s = kg_body_get(o, "sections");
	assert_string_equal(s->child->string, "x");
	assert_int_equal(kg_body_bool(s->child, "reviewed", -1), 0);
	assert_null(kg_body_str(s->child, "body"));
	assert_int_equal(kg_body_bool(s->child->next, "reviewed", -1), -1);
	assert_string_equal(kg_body_str(s->child->next, "body"), "t");
	cJSON_Delete(o);
	o = passes(kinds, "{\"name\": \"n\", \"ratio\": 0.25}");
	assert_true(kg_body_num(o, "ratio", 0) == 0.25);
	assert_true(kg_body_num(o, "count", 3) == 3);
	cJSON_Delete(o);
}

static void
test_not_an_object(void **state)
{
	struct kg_err err = {0};
	cJSON *a = cJSON_Parse("[1]");

	(void)state;
	assert_int_equal(kg_body_check(patch, a, &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.message, "request body is not a JSON object");
	cJSON_Delete(a);
}

static void
test_raw_text(void **state)
{
	static const char good[] = "{\"a\": \"\\\\u0000 is text\"}";
	static const char nul[] = "{\"a\": \"x\\u0000y\"}";
	static const char bad[] = "{\"a\": \"z\xff\"}";
	struct kg_err err = {0};

	(void)state;
	assert_int_equal(kg_body_check_raw(good, strlen(good), &err), 0);
	assert_int_equal(kg_body_check_raw(nul, strlen(nul), &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "bad_request");
	assert_int_equal(kg_body_check_raw(bad, strlen(bad), &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "invalid_utf8");
}

static void
test_is_uuid(void **state)
{
	static const char u[] = "0a0a0a0a-0000-4000-8000-000000000000";

	(void)state;
	assert_true(kg_body_is_uuid(u, 36));
	assert_false(kg_body_is_uuid(u, 35));
	assert_false(
		kg_body_is_uuid("0a0a0a0a-0000-4000-8000-00000000000g", 36));
	assert_false(
		kg_body_is_uuid("0a0a0a0a00000-4000-8000-000000000000", 36));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_and_twice),
		cmocka_unit_test(test_required_and_types),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_nullable),
		cmocka_unit_test(test_text_cleaned),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_raw_text),
		cmocka_unit_test(test_is_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
