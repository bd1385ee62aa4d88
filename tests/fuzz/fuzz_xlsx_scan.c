/*
 * Differential libFuzzer target for kg_xmlscan, the scanner that reads
 * worksheets and shared strings before expat (scripts/fuzz.sh builds and
 * runs it).  The input is one XML part wrapped into a workbook as
 * fuzz_xlsx_sheet wraps it (fuzz_book.h), and is read twice: by expat
 * alone, and as kg_xlsx_read reads it - the scanner, which gives up on
 * anything outside its subset, and expat behind it.  Either way the
 * rows must be the same, cell for cell (type, text, number), and so
 * must the result and the error (status, code and message):
 *
 *   data[0] bit 0     0: the input is xl/worksheets/sheet1.xml
 *                     1: the input is xl/sharedStrings.xml
 *   data[0] bit 1     0: stored, 1: deflated
 *   data[0] bits 2-7  both readings are fed in pieces of that many
 *                     bytes (0: kg_xlsx_read's 60 KiB), so that every
 *                     token is cut at every place (inputs up to 64 KiB;
 *                     a longer one in pieces of 1 byte would take longer
 *                     than libFuzzer's timeout).  The same size for both:
 *                     which error expat reports for a document wrong in
 *                     two ways can depend on where its pieces end
 *                     ("junk after document element" or "invalid token")
 *   data[1..]         the part
 *
 * A difference traps: the scanner accepted what expat refuses, read a
 * cell differently, or delivered a row twice or not at all when it
 * gave the part to expat.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_book.h"
#include "fuzz_reader.h"
#include "kg_buf.h"
#include "kg_xlsx.h"

struct dump {
	struct kg_buf out;
	unsigned last;
};

static int
dump_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	struct dump *d = arg;
	unsigned i;

	fuzz_check_row(&d->last, row, c, n);
	kg_buf_printf(&d->out, "%u:", row);
	for (i = 0; i < n; i++)
		kg_buf_printf(&d->out, "|%d/%s/%.17g", (int)c[i].type,
			      c[i].text, c[i].number);
	kg_buf_puts(&d->out, "\n");
	return 0;
}

/* One reading of the workbook: its rows, result and error in d->out. */
static void
read_once(const void *zip, size_t len, struct kg_xlsx_how *how,
	  struct dump *d)
{
	struct kg_sheet_limits lim;
	struct kg_err err = {0};
	int rc;

	fuzz_limits(&lim);
	rc = kg_xlsx_read_how(zip, len, &lim, how, dump_row, d, &err);
	fuzz_check_result(rc, &err);
	kg_buf_printf(&d->out, "rc=%d", rc);
	if (rc < 0)
		kg_buf_printf(&d->out, " %d %s %s", err.status, err.code,
			      err.message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_xlsx_how scan = {KG_XLSX_SCAN, 0, 0, 0};
	struct kg_xlsx_how expat = {KG_XLSX_EXPAT, 0, 0, 0};
	struct dump a = {0}, b = {0};
	size_t len = 0;
	void *zip;

	if (size < 1)
		return 0;
	zip = build(data + 1, size - 1, data[0] & 1, data[0] & 2, &len);
	if (!zip)
		__builtin_trap();	/* libzip must wrap any bytes */
	scan.chunk = size <= 65536 ? (size_t)(data[0] >> 2) : 0;
	expat.chunk = scan.chunk;
	read_once(zip, len, &scan, &a);
	read_once(zip, len, &expat, &b);
	if (strcmp(kg_buf_str(&a.out), kg_buf_str(&b.out))) {
		fprintf(stderr, "scanner (+ expat):\n%s\nexpat:\n%s\n",
			kg_buf_str(&a.out), kg_buf_str(&b.out));
		__builtin_trap();
	}
	kg_buf_free(&a.out);
	kg_buf_free(&b.out);
	free(zip);
	return 0;
}
