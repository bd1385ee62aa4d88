/* libFuzzer target for kg_csv_read (scripts/fuzz.sh builds and runs it):
 * no crash, no leak, no UB, and the readers' contract (fuzz_reader.h);
 * then the same bytes streamed from a file in pieces of 4-67 bytes (told
 * by the first byte) must give the same rows, or be refused too. */
#include "fuzz_reader.h"
#include "kg_buf.h"
#include "kg_csv.h"

#include <stdio.h>

static int
dump_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	struct kg_buf *b = arg;

	kg_buf_printf(b, "%u:", row);
	for (unsigned i = 0; i < n; i++)
		kg_buf_printf(b, "%s%s", i ? "|" : "", c[i].text);
	kg_buf_puts(b, "\n");
	return 0;
}

static void
same_streamed(const uint8_t *data, size_t size)
{
	struct kg_sheet_limits lim;
	struct kg_buf a = {0}, b = {0};
	struct kg_err ea = {0}, eb = {0};
	size_t chunk = 4 + (size ? data[0] % 64 : 0);
	FILE *f = tmpfile();
	int ra, rb;

	if (!f || fwrite(data, 1, size, f) != size || fflush(f))
		__builtin_trap();
	fuzz_limits(&lim);
	ra = kg_csv_read(data, size, &lim, dump_row, &a, &ea);
	rb = kg_csv_read_fd_chunked(fileno(f), size, chunk, &lim, dump_row,
				    &b, &eb);
	/* Both read, the same rows; or both refuse.  Not necessarily with
	 * the same error: streamed, a problem of the rows (too many
	 * columns) in an early chunk is met before a byte that is not
	 * UTF-8 in a later one, which the read in memory checks first. */
	if (ra != rb || (ra == 0 && strcmp(kg_buf_str(&a), kg_buf_str(&b))))
		__builtin_trap();
	fclose(f);
	kg_buf_free(&a);
	kg_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader(kg_csv_read, data, size);
	same_streamed(data, size);
	return 0;
}
