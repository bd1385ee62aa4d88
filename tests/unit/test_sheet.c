/* Unit tests of kg_sheet: text normalisation, column names, numbers,
 * serial dates and the row assembler shared by the readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kg_sheet.h"
#include "kg_utf8.h"

/* norm(in) == want (with `replaced` replacements) and norm is idempotent. */
static void
check_norm(const char *in, const char *want, int replaced)
{
	struct kg_buf once = {0}, twice = {0};

	assert_int_equal(kg_sheet_norm(in, strlen(in), &once), replaced);
	assert_string_equal(kg_buf_str(&once), want);
	assert_int_equal(kg_sheet_norm(once.data ? once.data : "", once.len,
				       &twice), 0);
	assert_string_equal(kg_buf_str(&twice), want);
	kg_buf_free(&once);
	kg_buf_free(&twice);
}

static void
test_norm_spaces(void **state)
{
	(void)state;
	check_norm("", "", 0);
	check_norm("   ", "", 0);
	check_norm("  Nazwa  projektu ", "Nazwa projektu", 0);
	check_norm("a\r\nb\tc", "a b c", 0);
	check_norm("Bud\xc5\xbc" "et\xc2\xa0(PLN)", "Bud\xc5\xbc" "et (PLN)", 0);
	check_norm("x\xe2\x80\xafy\xe3\x80\x80z\xe2\x80\x89w", "x y z w", 0);
	check_norm("\xef\xbb\xbf" "Opis\xe2\x80\x8b", "Opis", 0);
	check_norm("a\x01\x7f\xc2\x85" "b", "a b", 0);
	check_norm("\xc2\xa0\xc2\xa0", "", 0);
}

static void
test_norm_compose(void **state)
{
	(void)state;
	/* "Zażółć gęślą jaźń" in NFD */
	check_norm("Zaz\xcc\x87o\xcc\x81\xc5\x82" "c\xcc\x81 "
		   "ge\xcc\xa8s\xcc\x81la\xcc\xa8 "
		   "jaz\xcc\x81n\xcc\x81",
		   "Za\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 "
		   "g\xc4\x99\xc5\x9bl\xc4\x85 "
		   "ja\xc5\xba\xc5\x84", 0);
	check_norm("A\xcc\xa8" "E\xcc\xa8" "S\xcc\x81" "Z\xcc\x87" "Z\xcc\x81"
		   "N\xcc\x81" "O\xcc\x81" "C\xcc\x81",
		   "\xc4\x84\xc4\x98\xc5\x9a\xc5\xbb\xc5\xb9\xc5\x83\xc3\x93"
		   "\xc4\x86", 0);
	/* no precomposed form: kept as is */
	check_norm("q\xcc\x81", "q\xcc\x81", 0);
	/* a mark after a space has no base */
	check_norm("a \xcc\x81", "a \xcc\x81", 0);
}

static void
test_norm_invalid(void **state)
{
	(void)state;
	check_norm("a\xff" "b", "a\xef\xbf\xbd" "b", 1);
	check_norm("\xc3", "\xef\xbf\xbd", 1);
	check_norm("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 2);	/* overlong */
	check_norm("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3);
	check_norm("\xf4\x90\x80\x80",
		   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4);
	check_norm("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 0);
	assert_int_equal(kg_utf8_check("ab\xc5\xbc\xff", 5), 4);
	assert_int_equal(kg_utf8_check("ab\xc5\xbc", 4), 4);
}

/* The fast path for text that is already normal (whole words of it at a
 * time) against the slow one: a leading space, which normalisation
 * trims, forces the slow one and must not change the result. */
static void
test_norm_fast_path(void **state)
{
	static const char *const piece[] = {
		"a", "Z", "9", " ", "  ", "\xc4\x85", "\xc3\xb3", "\xcb\x87",
		"\xca\xbc", "\xc2\xa0", "\xcc\x81", "\x80", "\xc4", "\t",
		"\x7f", "\xe2\x82\xac", "\xc5\x81", "\xd0\x96", "~",
	};
	struct kg_buf in = {0}, spaced = {0}, a = {0}, b = {0};
	unsigned seed = 7;

	(void)state;
	for (int n = 0; n < 20000; n++) {
		kg_buf_reset(&in);
		seed = seed * 1103515245 + 12345;
		for (unsigned k = seed / 65536 % 40; k; k--) {
			seed = seed * 1103515245 + 12345;
			/* mostly letters, so that whole words are normal */
			kg_buf_puts(&in, piece[seed / 65536 % 8 ? seed / 16 % 9
								: seed / 16 % 19]);
		}
		kg_buf_reset(&spaced);
		kg_buf_puts(&spaced, " ");
		kg_buf_append(&spaced, in.data ? in.data : "", in.len);
		kg_buf_reset(&a);
		kg_buf_reset(&b);
		assert_true(kg_sheet_norm(in.data ? in.data : "", in.len,
					  &a) >= 0);
		assert_true(kg_sheet_norm(spaced.data, spaced.len, &b) >= 0);
		assert_string_equal(kg_buf_str(&a), kg_buf_str(&b));
	}
	kg_buf_free(&in);
	kg_buf_free(&spaced);
	kg_buf_free(&a);
	kg_buf_free(&b);
}

static void
test_col_name(void **state)
{
	char b[8];

	(void)state;
	kg_sheet_col_name(0, b);
	assert_string_equal(b, "A");
	kg_sheet_col_name(25, b);
	assert_string_equal(b, "Z");
	kg_sheet_col_name(26, b);
	assert_string_equal(b, "AA");
	kg_sheet_col_name(63, b);
	assert_string_equal(b, "BL");
	kg_sheet_col_name(701, b);
	assert_string_equal(b, "ZZ");
	kg_sheet_col_name(702, b);
	assert_string_equal(b, "AAA");
	kg_sheet_col_name(16383, b);
	assert_string_equal(b, "XFD");
}

static void
test_number_text(void **state)
{
	char b[32];

	(void)state;
	kg_sheet_number_text(1234.5, b);
	assert_string_equal(b, "1234.5");
	kg_sheet_number_text(0.1, b);
	assert_string_equal(b, "0.1");
	kg_sheet_number_text(-0.0, b);
	assert_string_equal(b, "0");
	kg_sheet_number_text(100000, b);
	assert_string_equal(b, "100000");
	kg_sheet_number_text(0.1 + 0.2, b);
	assert_string_equal(b, "0.30000000000000004");
	kg_sheet_number_text(1e20, b);
	assert_string_equal(b, "1e+20");
}

static void
check_serial(double serial, int d1904, const char *want)
{
	char b[11];
	double back;

	if (!want) {
		assert_int_equal(kg_sheet_serial_date(serial, d1904, b), -1);
		return;
	}
	assert_int_equal(kg_sheet_serial_date(serial, d1904, b), 0);
	assert_string_equal(b, want);
	if (strcmp(want, "1900-02-29")) {
		assert_int_equal(kg_sheet_date_serial(want, d1904, &back), 0);
		assert_true(back == (double)(long)serial);
	}
}

static void
test_serial_dates(void **state)
{
	double s;

	(void)state;
	check_serial(1, 0, "1900-01-01");
	check_serial(59, 0, "1900-02-28");
	check_serial(60, 0, "1900-02-29");	/* Lotus's phantom day */
	check_serial(61, 0, "1900-03-01");
	check_serial(45306, 0, "2024-01-15");
	check_serial(45306.75, 0, "2024-01-15");
	check_serial(2958465, 0, "9999-12-31");
	check_serial(0, 0, NULL);
	check_serial(2958466, 0, NULL);
	check_serial(-1, 0, NULL);
	check_serial(0, 1, "1904-01-01");
	check_serial(43844, 1, "2024-01-15");	/* 45306 - 1462 */
	check_serial(-1, 1, NULL);
	assert_int_equal(kg_sheet_date_serial("1900-02-29", 0, &s), -1);
	assert_int_equal(kg_sheet_date_serial("2024-02-30", 0, &s), -1);
	assert_int_equal(kg_sheet_date_serial("2024-1-15", 0, &s), -1);
	assert_int_equal(kg_sheet_date_serial("1903-12-31", 1, &s), -1);
}

/* Row assembler: records "row:ncols:A|B|..." per delivered row. */
static int
record(void *arg, unsigned row, const struct kg_cell *cells, unsigned n)
{
	struct kg_buf *b = arg;
	unsigned i;

	kg_buf_printf(b, "%u:%u:", row, n);
	for (i = 0; i < n; i++)
		kg_buf_printf(b, "%s%s", i ? "|" : "", cells[i].text);
	kg_buf_puts(b, "\n");
	return 0;
}

static void
test_rows(void **state)
{
	struct kg_sheet_limits lim;
	struct kg_sheet_rows r;
	struct kg_buf out = {0};
	struct kg_err err = {0};
	unsigned row;

	(void)state;
	kg_sheet_limits_default(&lim);
	lim.max_rows = 2;
	lim.max_cols = 3;
	assert_int_equal(kg_sheet_rows_init(&r, &lim, record, &out, &err), 0);
	/* header */
	assert_int_equal(kg_sheet_rows_put_text(&r, 1, 1, " B ", 3, &err), 0);
	assert_int_equal(kg_sheet_rows_put_text(&r, 1, 0, "A", 1, &err), 0);
	assert_int_equal(kg_sheet_rows_end(&r, 1, &err), 0);
	/* blank rows: whitespace only, and cells past the limit that are
	 * empty; neither is counted */
	assert_int_equal(kg_sheet_rows_put_text(&r, 2, 0, " \xc2\xa0", 3,
						&err), 0);
	assert_int_equal(kg_sheet_rows_put_text(&r, 2, 9, "", 0, &err), 0);
	assert_int_equal(kg_sheet_rows_end(&r, 2, &err), 0);
	for (row = 3; row < 1000; row++)
		assert_int_equal(kg_sheet_rows_end(&r, row, &err), 0);
	assert_int_equal(kg_sheet_rows_put(&r, 1000, 2, KG_CELL_NUMBER, "5",
					   1, 5, &err), 0);
	assert_int_equal(kg_sheet_rows_end(&r, 1000, &err), 0);
	assert_int_equal(kg_sheet_rows_put_text(&r, 1001, 0, "x", 1, &err),
			 0);
	assert_int_equal(kg_sheet_rows_end(&r, 1001, &err), 0);
	assert_string_equal(kg_buf_str(&out),
			    "1:2:A|B\n1000:3:||5\n1001:1:x\n");
	/* the third data row is over the limit */
	assert_int_equal(kg_sheet_rows_put_text(&r, 1002, 0, "y", 1, &err),
			 0);
	assert_int_equal(kg_sheet_rows_end(&r, 1002, &err), -1);
	assert_int_equal(err.status, 422);
	assert_string_equal(err.code, "too_many_rows");
	assert_non_null(strstr(err.message, "more than 2 data rows"));
	/* going backwards */
	assert_int_equal(kg_sheet_rows_end(&r, 5, &err), -1);
	assert_int_equal(err.status, 400);
	/* a non-empty cell right of the limit */
	assert_int_equal(kg_sheet_rows_put_text(&r, 1003, 3, "z", 1, &err),
			 -1);
	assert_string_equal(err.code, "too_many_columns");
	assert_non_null(strstr(err.message, "D1003"));
	kg_sheet_rows_free(&r);
	kg_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_norm_spaces),
		cmocka_unit_test(test_norm_compose),
		cmocka_unit_test(test_norm_invalid),
		cmocka_unit_test(test_norm_fast_path),
		cmocka_unit_test(test_col_name),
		cmocka_unit_test(test_number_text),
		cmocka_unit_test(test_serial_dates),
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
