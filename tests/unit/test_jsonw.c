/* Unit tests of kg_jsonw: its text must be what cJSON_PrintUnformatted
 * prints for the same values (the API's answers were cJSON's), and
 * result cells become the right JSON values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kg_array.h"
#include "kg_jsonw.h"

/* One value written by the writer equals cJSON's print of `item`. */
static void
same_as_cjson(struct kg_jsonw *w, cJSON *item)
{
	char *want = cJSON_PrintUnformatted(item);

	assert_false(w->oom);
	assert_string_equal(kg_buf_str(&w->buf), want);
	free(want);
	cJSON_Delete(item);
	kg_buf_free(&w->buf);
	*w = (struct kg_jsonw){0};
}

static void
test_numbers(void **state)
{
	static const double v[] = {
		0, 1, -1, 100, 49, 2147483647.0, 2147483648.0, -2147483649.0,
		3000000000.0, 0.5, 0.512301, 0.0123, 0.000001, 1e-7, 125000.5,
		1.0 / 3, 2.0 / 3, 0.1 + 0.2, 1e15, 1e17, 123456789012345678.0,
		DBL_MAX, DBL_MIN, -0.0,
	};
	struct kg_jsonw w = {0};

	(void)state;
	for (size_t i = 0; i < KG_COUNT(v); i++) {
		kg_jsonw_num(&w, v[i]);
		same_as_cjson(&w, cJSON_CreateNumber(v[i]));
	}
	kg_jsonw_num(&w, NAN);
	same_as_cjson(&w, cJSON_CreateNumber(NAN));
	kg_jsonw_num(&w, INFINITY);
	same_as_cjson(&w, cJSON_CreateNumber(INFINITY));
}

static void
test_strings(void **state)
{
	static const char *const v[] = {
		"", "plain", "quote \" and \\ backslash", "a/b </script>",
		"\b\f\n\r\t", "\x01\x02\x1f\x7f", "Łąka „cudzysłów” – ok",
		"line\xe2\x80\xa8sep", "emoji \xf0\x9f\x98\x80",
	};
	static const char special[] = "\"\\\x01\x1f\n ~\x7f\xc5";
	struct kg_jsonw w = {0};
	char s[40];

	(void)state;
	for (size_t i = 0; i < KG_COUNT(v); i++) {
		kg_jsonw_str(&w, v[i]);
		same_as_cjson(&w, cJSON_CreateString(v[i]));
	}
	/* every byte that is or is not escaped, at every place of a text
	 * long enough to be scanned eight bytes at a time */
	for (size_t k = 0; k < sizeof(special) - 1; k++)
		for (size_t at = 0; at < 30; at++) {
			memset(s, 'a', 30);
			s[30] = '\0';
			s[at] = special[k];
			s[(at * 7) % 30] = special[(k + 1) % (sizeof(special) - 1)];
			kg_jsonw_str(&w, s);
			same_as_cjson(&w, cJSON_CreateString(s));
		}
}

static void
test_structure(void **state)
{
	struct kg_jsonw w = {0};
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();

	(void)state;
	kg_jsonw_open(&w, '{');
	kg_jsonw_key(&w, "a");
	kg_jsonw_open(&w, '[');
	kg_jsonw_open(&w, '{');
	kg_jsonw_close(&w, '}');
	kg_jsonw_num(&w, 2);
	kg_jsonw_null(&w);
	kg_jsonw_bool(&w, 1);
	kg_jsonw_open(&w, '[');
	kg_jsonw_close(&w, ']');
	kg_jsonw_close(&w, ']');
	kg_jsonw_key(&w, "k\"ey");
	kg_jsonw_raw(&w, "{\"x\":[1]}");
	kg_jsonw_key(&w, "f");
	kg_jsonw_bool(&w, 0);
	kg_jsonw_close(&w, '}');
	cJSON_AddItemToArray(a, cJSON_CreateObject());
	cJSON_AddItemToArray(a, cJSON_CreateNumber(2));
	cJSON_AddItemToArray(a, cJSON_CreateNull());
	cJSON_AddItemToArray(a, cJSON_CreateTrue());
	cJSON_AddItemToArray(a, cJSON_CreateArray());
	cJSON_AddItemToObject(o, "a", a);
	cJSON_AddItemToObject(o, "k\"ey", cJSON_Parse("{ \"x\" : [ 1 ] }"));
	cJSON_AddFalseToObject(o, "f");
	same_as_cjson(&w, o);
}

/* A writer may append to a buffer that already holds text. */
static void
test_appends(void **state)
{
	struct kg_jsonw w = {0};

	(void)state;
	assert_int_equal(kg_buf_puts(&w.buf, "x="), 0);
	kg_jsonw_open(&w, '[');
	kg_jsonw_str(&w, "a");
	kg_jsonw_str(&w, "b");
	kg_jsonw_close(&w, ']');
	assert_string_equal(kg_buf_str(&w.buf), "x=[\"a\",\"b\"]");
	kg_buf_free(&w.buf);
}

/* A result made offline (libpq's PQsetvalue): one row of cells, NULL
 * where the value is NULL. */
static PGresult *
one_row(const char *const *cells, int n)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att[8];

	assert_non_null(res);
	assert_true(n <= 8);
	memset(att, 0, sizeof(att));
	for (int i = 0; i < n; i++)
		att[i].name = (char *)"c";
	assert_true(PQsetResultAttrs(res, n, att));
	for (int i = 0; i < n; i++)
		assert_true(PQsetvalue(res, 0, i, (char *)cells[i],
				       cells[i] ? (int)strlen(cells[i]) : -1));
	return res;
}

static void
answer_fn(struct kg_jsonw *w, const PGresult *res, int row, const void *ctx)
{
	(void)res;
	(void)row;
	kg_jsonw_str(w, ctx);
}

/* A declared row: every kind, NULLs, the base column, a computed member. */
static void
test_row(void **state)
{
	static const char *const cells[] = {
		"skip", "a\"b", "42", "t", NULL, "2026-03-01 10:15:30.5+00",
		"{\"k\": [1, 2]}", NULL,
	};
	static const struct kg_jsonw_col cols[] = {
		{"text", KG_JSONW_TEXT, 0},
		{"num", KG_JSONW_NUM, 1},
		{"bool", KG_JSONW_BOOL, 2},
		{"bool_null", KG_JSONW_BOOL, 3},
		{"flag", KG_JSONW_FLAG, 2},
		{"flag_null", KG_JSONW_FLAG, 3},
		{"time", KG_JSONW_TIME, 4},
		{"json", KG_JSONW_JSON, 5},
		{"text_null", KG_JSONW_TEXT, 6},
		{"fn", KG_JSONW_FN, 0, answer_fn},
	};
	PGresult *res = one_row(cells, (int)KG_COUNT(cells));
	struct kg_jsonw w = {0};

	(void)state;
	kg_jsonw_open(&w, '{');
	kg_jsonw_row(&w, cols, KG_COUNT(cols), res, 0, 1, "computed");
	kg_jsonw_close(&w, '}');
	assert_false(w.oom);
	assert_string_equal(w.buf.data,
		"{\"text\":\"a\\\"b\",\"num\":42,\"bool\":true,"
		"\"bool_null\":null,\"flag\":true,\"flag_null\":false,"
		"\"time\":\"2026-03-01T10:15:30.5+00:00\","
		"\"json\":{\"k\":[1,2]},\"text_null\":null,"
		"\"fn\":\"computed\"}");
	kg_buf_free(&w.buf);
	PQclear(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
