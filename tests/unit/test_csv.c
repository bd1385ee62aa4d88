/* Unit tests of kg_csv: encodings, delimiters, RFC 4180 quoting, line
 * ends, limits.  Rows are dumped as "row:cell|cell" (all cells text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int expect_same_chunked(const struct kg_buf *in, size_t chunk);

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
	/* a last record ending in a delimiter, without a line end */
	expect_rows("a;b\nx;", 0, "1:a|b\n2:x\n");
	expect_rows("a;b\n;y;", 0, "1:a|b\n2:|y\n");
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

/* Past the first 4 KiB (where a NUL says "binary file") the first
 * problem in the file wins, read in memory or streamed in any chunks. */
static void
test_first_problem_wins(void **state)
{
	struct kg_buf in = {0};

	(void)state;
	for (int nul_first = 0; nul_first < 2; nul_first++) {
		kg_buf_reset(&in);
		for (int i = 0; i < 3000; i++)
			kg_buf_puts(&in, "a\n");
		kg_buf_append(&in, nul_first ? "x\0y\n\xa3\n" : "x\xa3\n\0\n", 6);
		expect_error(in.data, in.len, NULL, 400,
			     nul_first ? "not_csv" : "not_utf8",
			     nul_first ? "NUL" : "line 3001");
		for (size_t chunk = 4; chunk < 4200; chunk += 419)
			assert_int_equal(expect_same_chunked(&in, chunk), -1);
	}
	kg_buf_free(&in);
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

/* Read `in` both ways: whole in memory and streamed from a file in
 * `chunk`-byte pieces; the rows (or the error) must be the same.
 * Returns the result. */
static int
expect_same_chunked(const struct kg_buf *in, size_t chunk)
{
	struct kg_buf a = {0}, b = {0};
	struct kg_err ea = {0}, eb = {0};
	struct kg_sheet_limits lim;
	FILE *f = tmpfile();
	int ra, rb;

	kg_sheet_limits_default(&lim);
	lim.max_rows = 100000;
	assert_non_null(f);
	assert_int_equal(fwrite(in->data, 1, in->len, f), in->len);
	assert_int_equal(fflush(f), 0);
	ra = kg_csv_read(in->data, in->len, &lim, dump_row, &a, &ea);
	rb = kg_csv_read_fd_chunked(fileno(f), in->len, chunk, &lim, dump_row,
				    &b, &eb);
	if (ra != rb || strcmp(ea.message, eb.message))
		fail_msg("in memory %d %s, streamed %d %s", ra, ea.message,
			 rb, eb.message);
	/* on an error the streamed read may have delivered the rows of
	 * the chunks before it; the error itself is the same */
	if (ra == 0)
		assert_string_equal(kg_buf_str(&a), kg_buf_str(&b));
	assert_int_equal(ea.status, eb.status);
	assert_string_equal(ea.message, eb.message);
	fclose(f);
	kg_buf_free(&a);
	kg_buf_free(&b);
	return ra;
}

static int
expect_same_streamed(const struct kg_buf *in)
{
	return expect_same_chunked(in, KG_CSV_CHUNK);
}

/* The rows before a chunk's end: short rows up to about `at` bytes. */
static void
pad_to(struct kg_buf *in, size_t at)
{
	unsigned i = 0;

	while (in->len + 12 < at)
		kg_buf_printf(in, "r%05u;x\r\n", i++ % 100000);
	while (in->len < at)
		kg_buf_puts(in, in->len + 1 < at ? "z" : "\n");
}

static void
test_streamed_chunk_edges(void **state)
{
	/* every kind of byte a chunk can be cut at: a multi-byte letter
	 * (2, 3 and 4 bytes), a quoted field with "" and line ends inside,
	 * CR LF split, a field that spans the cut */
	static const char *const tails[] = {
		"\xc4\x85\xe2\x82\xac\xf0\x9f\x98\x80;\"q\"\"u\r\no\rt\"x;e\r\n",
		"\"open\nfield never closed",
		"ok;\xc4\x85\xc4;bad\n",
		"long field without end of line ",
	};
	struct kg_buf in = {0};

	(void)state;
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		for (size_t k = 0; k < 24; k++) {
			kg_buf_reset(&in);
			kg_buf_puts(&in, "\xef\xbb\xbfh1;h2\r\n");
			pad_to(&in, KG_CSV_CHUNK - 12 + k);
			kg_buf_puts(&in, tails[t]);
			/* tails 1 and 2 are refused, 0 and 3 read */
			assert_int_equal(expect_same_streamed(&in),
					 t == 1 || t == 2 ? -1 : 0);
		}
	}
	/* a first record longer than a chunk: the delimiter is told from
	 * all of it (the commas win) */
	kg_buf_reset(&in);
	kg_buf_puts(&in, "a;\"");
	for (size_t i = 0; i < KG_CSV_CHUNK / 4; i++)
		kg_buf_puts(&in, "x;\n ");
	kg_buf_puts(&in, "\",b,c\n1,2;3,4\n");
	assert_int_equal(expect_same_streamed(&in), 0);
	/* three chunks and more, a NUL far in */
	kg_buf_reset(&in);
	pad_to(&in, 3 * KG_CSV_CHUNK + 100);
	assert_int_equal(expect_same_streamed(&in), 0);
	kg_buf_append(&in, "a\0b\n", 4);
	assert_int_equal(expect_same_streamed(&in), -1);
	/* tiny chunks: every byte of every kind at a cut, and the first
	 * record read across many of them */
	for (size_t chunk = 4; chunk < 20; chunk++) {
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			kg_buf_reset(&in);
			kg_buf_puts(&in, "\xef\xbb\xbf\"h;1\",h2,\"h\"\"3\"\r\n"
				    "\xf0\x9f\x98\x80,\"a\nb\"\r\rx\r\n");
			kg_buf_puts(&in, tails[t]);
			assert_int_equal(expect_same_chunked(&in, chunk),
					 t == 1 || t == 2 ? -1 : 0);
		}
		kg_buf_reset(&in);
		kg_buf_append(&in, "\xff\xfe" "a\0", 4);
		assert_int_equal(expect_same_chunked(&in, chunk), -1);
	}
	kg_buf_free(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polish_excel),
		cmocka_unit_test(test_comma_and_quotes),
		cmocka_unit_test(test_blank_rows_and_normalisation),
		cmocka_unit_test(test_encodings_refused),
		cmocka_unit_test(test_first_problem_wins),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_streamed_chunk_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
