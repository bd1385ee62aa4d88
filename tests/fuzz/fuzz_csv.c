/* libFuzzer target for kg_csv_read (scripts/fuzz.sh builds and runs it):
 * no crash, no leak, no UB, and the readers' contract (fuzz_reader.h). */
#include "fuzz_reader.h"
#include "kg_csv.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_reader(kg_csv_read, data, size);
}
