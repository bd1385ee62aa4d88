/*
 * libFuzzer target for the XML half of kg_xlsx_read (scripts/fuzz.sh
 * builds and runs it).
 *
 * fuzz_xlsx mutates whole .xlsx files, so almost every mutation lands in
 * compressed bytes and dies at the zip layer (CRC, inflate): the
 * worksheet and shared-string parsers are barely reached.  Here the
 * input is one XML part, wrapped with libzip into an otherwise valid
 * workbook (fuzz_book.h), so every mutation reaches the parsers and the
 * handlers:
 *
 *   data[0] bit 0   0: the input is xl/worksheets/sheet1.xml
 *                   1: the input is xl/sharedStrings.xml (the sheet is a
 *                      fixed one referring to strings 0..3)
 *   data[0] bit 1   0: stored, 1: deflated (reaches the ratio check)
 *   data[1..]       the part
 *
 * The rows go through kg_rows_feed/kg_rows_finish as in the endpoint,
 * and the reader's contract is checked: errors carry status, code and
 * message; rows arrive strictly increasing; every cell text is valid
 * UTF-8 without control characters and EMPTY exactly when "".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_book.h"
#include "fuzz_reader.h"
#include "kg_rows.h"
#include "kg_xlsx.h"

struct check {
	struct kg_rows rows;
	unsigned last;
};

static int
check_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	struct check *ck = arg;

	fuzz_check_row(&ck->last, row, c, n);
	return kg_rows_feed(&ck->rows, row, c, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_sheet_limits lim;
	struct kg_err err = {0};
	struct check ck = {0};
	size_t len = 0;
	void *zip;
	int rc;

	if (size < 1)
		return 0;
	zip = build(data + 1, size - 1, data[0] & 1, data[0] & 2, &len);
	if (!zip)
		__builtin_trap();	/* libzip must wrap any bytes */
	fuzz_limits(&lim);
	kg_rows_init(&ck.rows);
	rc = kg_xlsx_read(zip, len, &lim, check_row, &ck, &err);
	fuzz_check_result(rc, &err);
	if (rc == 0)
		kg_rows_finish(&ck.rows);
	kg_rows_free(&ck.rows);
	free(zip);
	return 0;
}
