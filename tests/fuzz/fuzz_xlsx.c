/* libFuzzer target for kg_xlsx_read (scripts/fuzz.sh builds and runs it).
 * Beyond "no crash, no leak, no UB" it checks the reader's contract:
 * every error carries a status and a code, and every cell text handed to
 * the callback is valid UTF-8 with no control characters. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kg_xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
check_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	size_t len, i;
	unsigned j;

	(void)arg;
	if (!row || !n || c[n - 1].type == KG_CELL_EMPTY)
		__builtin_trap();
	for (j = 0; j < n; j++) {
		len = strlen(c[j].text);
		if (kg_sheet_utf8_check(c[j].text, len) != len)
			__builtin_trap();
		for (i = 0; i < len; i++)
			if ((unsigned char)c[j].text[i] < 0x20)
				__builtin_trap();
		if ((c[j].type == KG_CELL_EMPTY) != !len)
			__builtin_trap();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_sheet_limits lim;
	struct kg_err err = {0};

	kg_sheet_limits_default(&lim);
	/* small enough that a bomb is refused quickly, large enough that
	 * every legitimate seed reads */
	lim.max_uncompressed = (size_t)16 << 20;
	lim.max_shared_strings = (size_t)4 << 20;
	if (kg_xlsx_read(data, size, &lim, check_row, NULL, &err) < 0 &&
	    (!err.status || !err.code[0] || !err.message[0]))
		__builtin_trap();
	return 0;
}
