/* Unit tests of kg_csv: encodings, delimiters, RFC 4180 quoting, line
 * ends, limits.  Rows are dumped as "row:cell|cell" (all cells text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kg_csv.h"

static int
dump_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	struct kg_buf *b = arg;
	unsigned i;

	kg_buf_printf(b, "%u:", row);
	for (i = 0; i < n; i++) {
		assert_true(c[i].type == KG_CELL_TEXT ||
			    (c[i].type == KG_CELL_EMPTY && !*c[i].text));
		kg_buf_printf(b, "%s%s", i ? "|" : "", c[i].text);
	}
	kg_buf_puts(b, "\n");
	return 0;
}

static void
expect_rows(const char *in, size_t len, const char *want)
{
	struct kg_buf d = {0};
	struct kg_err err = {0};

	if (kg_csv_read(in, len ? len : strlen(in), NULL, dump_row, &d,
			&err) != 0)
		fail_msg("read failed: %d %s %s", err.status, err.code,
			 err.message);
	assert_string_equal(kg_buf_str(&d), want);
	kg_buf_free(&d);
}

static void
expect_error(const char *in, size_t len, const struct kg_sheet_limits *lim,
	     int status, const char *code, const char *part)
{
	struct kg_buf d = {0};
	struct kg_err err = {0};

	assert_int_equal(kg_csv_read(in, len ? len : strlen(in), lim,
				     dump_row, &d, &err), -1);
	assert_int_equal(err.status, status);
	assert_string_equal(err.code, code);
	if (part && !strstr(err.message, part))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
	kg_buf_free(&d);
}

static void
test_polish_excel(void **state)
{
	(void)state;
	/* Excel "CSV UTF-8": BOM, ';', CRLF, decimal comma */
	expect_rows("\xef\xbb\xbfNazwa projektu;Bud\xc5\xbc" "et (PLN)\r\n"
		    "\xc5\x81\xc3\xb3" "d\xc5\xba;1 234,56\r\n",
		    0,
		    "1:Nazwa projektu|Bud\xc5\xbc" "et (PLN)\n"
		    "2:\xc5\x81\xc3\xb3" "d\xc5\xba|1 234,56\n");
}

static void
test_comma_and_quotes(void **state)
{
	(void)state;
	/* LibreOffice / Google: ',' no BOM, LF, quoted commas and quotes */
	expect_rows("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
		    "\"\",,\"q\"tail\n",
		    0,
		    "1:a|b|c\n2:x, y|say \"hi\"|two lines\n3:||qtail\n");
	/* the header decides: ';' wins over the commas of the data */
	expect_rows("a;b\n1,5;2,5\n", 0, "1:a|b\n2:1,5|2,5\n");
	/* a delimiter inside quotes in the header does not count */
	expect_rows("\"a;b\",c\n1,2\n", 0, "1:a;b|c\n2:1|2\n");
	/* no final newline, lone CR line ends, single column */
	expect_rows("x\ry\rz", 0, "1:x\n2:y\n3:z\n");
}

static void
test_blank_rows_and_normalisation(void **state)
{
	(void)state;
	expect_rows("h1;h2\n;\n\n  ;\xc2\xa0\n a\xc2\xa0 b ;c\xcc\x81\n", 0,
		    "1:h1|h2\n5:a b|\xc4\x87\n");
	/* a quoted newline does not start a new row: record numbers */
	expect_rows("a\n\"1\n2\"\nb\n", 0, "1:a\n2:1 2\n3:b\n");
	expect_rows("", 0, "");
	expect_rows("\xef\xbb\xbf", 3, "");
}

static void
test_encodings_refused(void **state)
{
	(void)state;
	/* Windows-1250 "Łódź" */
	expect_error("Nazwa\n\xa3\xf3" "d\x9f\n", 0, NULL, 400, "not_utf8",
		     "CSV UTF-8");
	expect_error("Nazwa\nok\n\xa3\n", 0, NULL, 400, "not_utf8",
		     "line 3");
	expect_error("\xff\xfeN\0a\0", 6, NULL, 400, "not_utf8", "UTF-16");
	expect_error("PK\x03\x04\0\0", 6, NULL, 400, "not_csv", NULL);
	expect_error("a\n\"open\nnever closed\n", 0, NULL, 400, "bad_csv",
		     "line 2");
}

static void
test_limits(void **state)
{
	struct kg_sheet_limits lim;
	struct kg_buf in = {0}, d = {0};
	struct kg_err err = {0};
	unsigned i;

	(void)state;
	kg_sheet_limits_default(&lim);
	lim.max_rows = 3;
	kg_buf_puts(&in, "h\n");
	for (i = 0; i < 3; i++)
		kg_buf_printf(&in, "r%u\n;;\n", i);
	assert_int_equal(kg_csv_read(in.data, in.len, &lim, dump_row, &d,
				     &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:h\n2:r0\n4:r1\n6:r2\n");
	kg_buf_puts(&in, "r3\n");
	expect_error(in.data, in.len, &lim, 422, "too_many_rows",
		     "more than 3 data rows");
	lim.max_cols = 2;
	expect_error("a;b;c\n", 0, &lim, 400, "too_many_columns", "C1");
	expect_rows("a;b;;;;\n", 0, "1:a|b\n");
	lim.max_file = 4;
	expect_error("a;b;c\n", 0, &lim, 413, "too_large", NULL);
	kg_buf_free(&in);
	kg_buf_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polish_excel),
		cmocka_unit_test(test_comma_and_quotes),
		cmocka_unit_test(test_blank_rows_and_normalisation),
		cmocka_unit_test(test_encodings_refused),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
