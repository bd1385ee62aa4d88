/* libFuzzer target for kg_xlsx_read on whole files (scripts/fuzz.sh):
 * no crash, no leak, no UB, and the readers' contract (fuzz_reader.h).
 * Most mutations of a zip fail its CRC; fuzz_xlsx_sheet.c reaches the
 * XML handlers. */
#include "fuzz_reader.h"
#include "kg_xlsx.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_reader(kg_xlsx_read, data, size);
}
