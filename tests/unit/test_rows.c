/* Unit tests of kg_rows: header matching, amounts, dates, row checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "kg_array.h"
#include "kg_rows.h"

static void
test_fold_header(void **state)
{
	char out[64];

	(void)state;
	kg_rows_fold_header("  Budżet (PLN) ", out, sizeof(out));
	assert_string_equal(out, "budzet pln");
	kg_rows_fold_header("DATA ZAKOŃCZENIA", out, sizeof(out));
	assert_string_equal(out, "data zakonczenia");
	kg_rows_fold_header("Słowa   kluczowe", out, sizeof(out));
	assert_string_equal(out, "slowa kluczowe");
}

static void
test_amounts(void **state)
{
	static const struct {
		const char *in;
		double want;
	} ok[] = {
		{"125000", 125000}, {"1 234,56 zł", 1234.56},
		{"1\xc2\xa0" "234\xc2\xa0" "567,00\xc2\xa0zł", 1234567},
		{"1.234.567,89", 1234567.89}, {"1,234.56", 1234.56},
		{"1.234", 1234}, {"12.5", 12.5}, {"PLN 2500", 2500},
		{"2 500 PLN", 2500}, {"-5", -5},
	};
	static const char *const bad[] = {"", "dużo", "12a", "zł", "1..2x",
					  "1e5"};
	double v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(kg_rows_parse_amount(ok[i].in, &v), 0);
		assert_true(v > ok[i].want - 0.001 && v < ok[i].want + 0.001);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kg_rows_parse_amount(bad[i], &v), -1);
}

static void
test_dates(void **state)
{
	static const struct {
		struct kg_cell cell;
		const char *want;
	} ok[] = {
		{{KG_CELL_TEXT, "15.03.2026", 0}, "2026-03-15"},
		{{KG_CELL_TEXT, "5.3.2026", 0}, "2026-03-05"},
		{{KG_CELL_TEXT, "2026-03-15", 0}, "2026-03-15"},
		{{KG_CELL_TEXT, "15/03/2026", 0}, "2026-03-15"},
		{{KG_CELL_TEXT, "15.03.2026 r.", 0}, "2026-03-15"},
		{{KG_CELL_DATE, "2024-02-29", 0}, "2024-02-29"},
		{{KG_CELL_NUMBER, "46082", 46082}, "2026-03-01"},
		/* a date-time keeps its day */
		{{KG_CELL_DATE, "2026-03-01 13:20", 46082.5556}, "2026-03-01"},
		{{KG_CELL_TEXT, "2026-03-01T13:20:00", 0}, "2026-03-01"},
		{{KG_CELL_TEXT, "1-3-2026", 0}, "2026-03-01"},
	};
	static const struct kg_cell bad[] = {
		{KG_CELL_TEXT, "31.02.2026", 0}, {KG_CELL_TEXT, "2026-13-01", 0},
		{KG_CELL_TEXT, "jutro", 0},	 {KG_CELL_TEXT, "15.03.26", 0},
		{KG_CELL_NUMBER, "1.5", 1.5},	 {KG_CELL_TEXT, "29.02.2025", 0},
		/* a time of day has no day */
		{KG_CELL_TIME, "13:20", 0.5556}, {KG_CELL_TEXT, "15.03/2026", 0},
		{KG_CELL_TEXT, "2026-3-1", 0},	 {KG_CELL_TEXT, "15.03.20261", 0},
		{KG_CELL_TEXT, "15.03.2026 rok", 0},
	};
	char out[11];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(kg_rows_parse_date(&ok[i].cell, out), 0);
		assert_string_equal(out, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kg_rows_parse_date(&bad[i], out), -1);
}

static struct kg_cell
text(const char *s)
{
	return (struct kg_cell){*s ? KG_CELL_TEXT : KG_CELL_EMPTY, s, 0};
}

static int
has_error(const struct kg_rows *r, int row, const char *col,
	  const char *code)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, r->errors) {
		if (cJSON_GetObjectItem(e, "row")->valueint == row &&
		    !strcmp(cJSON_GetObjectItem(e, "column")->valuestring, col) &&
		    !strcmp(cJSON_GetObjectItem(e, "code")->valuestring, code))
			return 1;
	}
	return 0;
}

/* A kg_rows_sink_fn that keeps what it is given as {row, name, input}
 * (input as the raw JSON text the sink got), in the cJSON array `arg`. */
static int
collect(void *arg, unsigned row, const char *name, const char *input,
	size_t len)
{
	cJSON *o = cJSON_CreateObject();
	char raw[4096];

	snprintf(raw, sizeof(raw), "%.*s", (int)len, input);
	cJSON_AddNumberToObject(o, "row", row);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddItemToObject(o, "input", cJSON_CreateRaw(raw));
	cJSON_AddItemToArray(arg, o);
	return 0;
}

/* kg_rows_init with `collect` as the sink into a new array. */
static cJSON *
init_collecting(struct kg_rows *r)
{
	cJSON *sent = cJSON_CreateArray();

	kg_rows_init(r);
	r->sink = collect;
	r->sink_arg = sent;
	return sent;
}

static void
test_rows_all_errors_at_once(void **state)
{
	struct kg_cell head[] = {text("Nazwa projektu"), text("Opis"),
				 text("Wnioskodawca"), text("Budżet"),
				 text("Data rozpoczęcia"),
				 text("Data zakończenia"), text("Nieznana")};
	struct kg_cell r2[] = {text("A"), text("d"), text("o"), text("10"),
			       text(""), text(""), text("x")};
	struct kg_cell r3[] = {text(""), text("d"), text("o"), text("-1"),
			       text("02.02.2026"), text("01.02.2026"), text("")};
	struct kg_cell r4[] = {text("a"), text("d"), text("o"), text(""),
			       text(""), text(""), text("")};
	struct kg_cell r5[] = {text(""), text(""), text(""), text(""),
			       text(""), text(""), text("only unknown")};
	struct kg_rows r;
	cJSON *sent;

	(void)state;
	sent = init_collecting(&r);
	kg_rows_feed(&r, 1, head, 7);
	kg_rows_feed(&r, 2, r2, 7);
	kg_rows_feed(&r, 3, r3, 7);
	kg_rows_feed(&r, 4, r4, 7);
	kg_rows_feed(&r, 5, r5, 7);
	assert_int_equal(kg_rows_finish(&r), 4);
	assert_true(has_error(&r, 3, "A", "required"));
	assert_true(has_error(&r, 3, "D", "amount_range"));
	assert_true(has_error(&r, 3, "F", "date_order"));
	assert_true(has_error(&r, 4, "A", "duplicate_name"));
	assert_int_equal(cJSON_GetArraySize(sent), 1);	/* before row 3 */
	assert_int_equal(r.nsent, 1);
	cJSON_Delete(sent);
	kg_rows_free(&r);
}

static void
test_missing_columns_and_empty(void **state)
{
	struct kg_cell head[] = {text("Name"), text("Budget")};
	struct kg_rows r;

	(void)state;
	kg_rows_init(&r);
	kg_rows_feed(&r, 1, head, 2);
	assert_int_equal(kg_rows_finish(&r), 2);
	kg_rows_free(&r);
	kg_rows_init(&r);
	assert_int_equal(kg_rows_finish(&r), 1);
	kg_rows_free(&r);
}

static void
test_title_rows_above_header(void **state)
{
	struct kg_cell title[] = {text("Nabór 2026"), text(""), text("")};
	struct kg_cell head[] = {text("Nazwa projektu"), text("Opis"),
				 text("Wnioskodawca")};
	struct kg_cell row[] = {text("A"), text("d"), text("o")};
	struct kg_cell junk[] = {text("x"), text("y"), text("z")};
	struct kg_rows r;
	cJSON *sent;

	(void)state;
	sent = init_collecting(&r);
	kg_rows_feed(&r, 1, title, 3);
	kg_rows_feed(&r, 3, head, 3);
	kg_rows_feed(&r, 4, row, 3);
	assert_int_equal(kg_rows_finish(&r), 0);
	assert_int_equal(r.header_row, 3);
	assert_int_equal(cJSON_GetArraySize(sent), 1);
	cJSON_Delete(sent);
	kg_rows_free(&r);
	/* no known column anywhere: one clear error, not a flood */
	kg_rows_init(&r);
	for (unsigned i = 1; i <= 3; i++)
		kg_rows_feed(&r, i, junk, 3);
	assert_int_equal(kg_rows_finish(&r), 1);
	assert_true(has_error(&r, 1, "", "no_header"));
	kg_rows_free(&r);
}

static void
test_many_distinct_names(void **state)
{
	struct kg_cell head[] = {text("Nazwa projektu"), text("Opis"),
				 text("Wnioskodawca")};
	char name[32];
	struct kg_rows r;
	cJSON *sent;

	(void)state;
	sent = init_collecting(&r);
	kg_rows_feed(&r, 1, head, 3);
	for (unsigned i = 2; i <= 5002; i++) {
		struct kg_cell row[3];

		/* the last row repeats row 2's name, differently cased
		 * (written before text() looks at it: on the first row
		 * `name` would still be uninitialised) */
		snprintf(name, sizeof(name), i < 5002 ? "Projekt %u"
						      : "PROJEKT %u",
			 i < 5002 ? i : 2);
		row[0] = text(name);
		row[1] = text("d");
		row[2] = text("o");
		kg_rows_feed(&r, i, row, 3);
	}
	assert_int_equal(kg_rows_finish(&r), 1);
	assert_true(has_error(&r, 5002, "A", "duplicate_name"));
	assert_int_equal(cJSON_GetArraySize(sent), 5000);
	cJSON_Delete(sent);
	kg_rows_free(&r);
}

static void
test_error_cap(void **state)
{
	struct kg_cell head[] = {text("Nazwa projektu"), text("Opis"),
				 text("Wnioskodawca")};
	struct kg_cell bad[] = {text("x"), text(""), text("")};
	struct kg_rows r;

	(void)state;
	kg_rows_init(&r);
	kg_rows_feed(&r, 1, head, 3);
	for (unsigned i = 2; i < 400; i++)
		kg_rows_feed(&r, i, bad, 3);
	kg_rows_finish(&r);
	assert_int_equal(cJSON_GetArraySize(r.errors), KG_ROWS_MAX_ERRORS + 1);
	assert_true(has_error(&r, 0, "", "too_many_errors"));
	kg_rows_free(&r);
}

/* What kg_batch stores: what the sink gets.  The input is compact JSON
 * exactly as cJSON would print the object: keys in column order, escapes
 * as cJSON's, numbers as cJSON's.  After the first invalid row nothing
 * more is sent (row 5 is valid, counted, and not sent). */
static void
test_projects_json(void **state)
{
	struct kg_cell head[] = {text("Opis"), text("Nazwa projektu"),
				 text("Wnioskodawca"), text("Budżet"),
				 text("Data rozpoczęcia"), text("Koniec")};
	struct kg_cell r2[] = {text("Opis \"cytat\" \\ ukośnik"),
			       text("Łąka „kwietna”"), text("Fundacja"),
			       text("1 234,56 zł"), text("01.03.2026"),
			       text("2026-10-31")};
	struct kg_cell r3[] = {text("d"), text("B"), text("o"),
			       {KG_CELL_NUMBER, "125000", 125000},
			       {KG_CELL_DATE, "2026-03-01 13:20", 46082.5},
			       text("")};
	struct kg_cell r4[] = {text("d"), text("bad"), text("o"), text("-5"),
			       text(""), text("")};
	struct kg_cell r5[] = {text("d"), text("C"), text("o"), text(""),
			       text(""), text("")};
	const char *want =
		"[{\"row\":2,\"name\":\"Łąka „kwietna”\",\"input\":{"
		"\"description\":\"Opis \\\"cytat\\\" \\\\ ukośnik\","
		"\"name\":\"Łąka „kwietna”\",\"organization\":\"Fundacja\","
		"\"budget\":1234.56,\"start_date\":\"2026-03-01\","
		"\"end_date\":\"2026-10-31\"}},"
		"{\"row\":3,\"name\":\"B\",\"input\":{\"description\":\"d\","
		"\"name\":\"B\",\"organization\":\"o\",\"budget\":125000,"
		"\"start_date\":\"2026-03-01\"}}]";
	struct kg_rows r;
	cJSON *sent;
	char *json;

	(void)state;
	sent = init_collecting(&r);
	kg_rows_feed(&r, 1, head, 6);
	kg_rows_feed(&r, 2, r2, 6);
	kg_rows_feed(&r, 3, r3, 6);
	kg_rows_feed(&r, 4, r4, 6);	/* invalid: not sent */
	kg_rows_feed(&r, 5, r5, 6);	/* valid, after an error: not sent */
	assert_int_equal(kg_rows_finish(&r), 1);
	assert_int_equal(r.nvalid, 3);
	assert_int_equal(r.nsent, 2);
	json = cJSON_PrintUnformatted(sent);
	cJSON_Delete(sent);
	assert_string_equal(json, want);
	cJSON_free(json);
	kg_rows_free(&r);
}

/* kg_rows writes row numbers and amounts with kg_sheet_number_text():
 * for every whole-cent amount below 1e12 that is what cJSON prints. */
static void
test_amounts_print_as_cjson(void **state)
{
	static const double edge[] = {0.01, 0.1, 1, 9.99, 1234.56, 100000,
				      999999999999.99, 123456789012.34,
				      0.07, 5e11, 1048576};
	uint64_t x = 88172645463325252ull;	/* xorshift, fixed seed */
	char mine[32];

	(void)state;
	for (unsigned i = 0; i < 200000; i++) {
		double v;
		cJSON *n;
		char *theirs;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v = i < KG_COUNT(edge) ? edge[i]
				       : round((double)(x % 100000000000000ull) /
					       (i % 3 ? 1 : 1000)) / 100;
		if (!(v > 0))
			continue;
		n = cJSON_CreateNumber(v);
		theirs = cJSON_PrintUnformatted(n);
		kg_sheet_number_text(v, mine);
		assert_string_equal(mine, theirs);
		cJSON_free(theirs);
		cJSON_Delete(n);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_header),
		cmocka_unit_test(test_amounts),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_rows_all_errors_at_once),
		cmocka_unit_test(test_missing_columns_and_empty),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_projects_json),
		cmocka_unit_test(test_amounts_print_as_cjson),
		cmocka_unit_test(test_title_rows_above_header),
		cmocka_unit_test(test_many_distinct_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
