/* The contract every spreadsheet reader keeps, checked by all fuzz
 * targets: rows are numbered, strictly increasing, end in a non-empty
 * cell; cell text is valid UTF-8 without control characters; an empty
 * cell has no text; every error carries a status, a code and a
 * message.  Included by exactly one .c per target (static functions). */
#ifndef FUZZ_READER_H
#define FUZZ_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kg_sheet.h"
#include "kg_utf8.h"

typedef int (*fuzz_reader_fn)(const void *data, size_t len,
			      const struct kg_sheet_limits *lim,
			      kg_sheet_row_fn fn, void *arg,
			      struct kg_err *err);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Traps unless the row keeps the contract; *last is the previous row. */
static void
fuzz_check_row(unsigned *last, unsigned row, const struct kg_cell *c,
	       unsigned n)
{
	size_t len, i;
	unsigned j;

	if (!row || row <= *last || !n || c[n - 1].type == KG_CELL_EMPTY)
		__builtin_trap();
	*last = row;
	for (j = 0; j < n; j++) {
		len = strlen(c[j].text);
		if (kg_utf8_check(c[j].text, len) != len)
			__builtin_trap();
		for (i = 0; i < len; i++)
			if ((unsigned char)c[j].text[i] < 0x20)
				__builtin_trap();
		if ((c[j].type == KG_CELL_EMPTY) != !len)
			__builtin_trap();
	}
}

/* Small enough that a bomb is refused quickly, large enough that every
 * legitimate seed reads. */
static void
fuzz_limits(struct kg_sheet_limits *lim)
{
	kg_sheet_limits_default(lim);
	lim->max_uncompressed = (size_t)16 << 20;
	lim->max_shared_strings = (size_t)4 << 20;
}

static void
fuzz_check_result(int rc, const struct kg_err *err)
{
	if (rc < 0 && (!err->status || !err->code[0] || !err->message[0]))
		__builtin_trap();
}

static int
fuzz_plain_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	fuzz_check_row(arg, row, c, n);
	return 0;
}

/* The whole input through one reader. */
static int
fuzz_reader(fuzz_reader_fn read, const uint8_t *data, size_t size)
{
	struct kg_sheet_limits lim;
	struct kg_err err = {0};
	unsigned last = 0;

	fuzz_limits(&lim);
	fuzz_check_result(read(data, size, &lim, fuzz_plain_row, &last, &err),
			  &err);
	return 0;
}

#endif
