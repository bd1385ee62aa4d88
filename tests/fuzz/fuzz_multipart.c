/* libFuzzer target for kg_multipart, the parser of every upload
 * (scripts/fuzz.sh builds and runs it): no crash, no leak, no UB, and
 * its contract - whatever the bytes, fed whole or in pieces of any size,
 * it ends in 0 or -1 and never hands out more bytes than it was given.
 * The first byte picks the chunk size, so mutations also reach the
 * boundary search across chunk edges. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kg_multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

struct seen {
	size_t bytes;
	int parts;
};

static int
on_part(void *arg, const struct kg_multipart_part *part, struct kg_err *err)
{
	struct seen *s = arg;

	(void)err;
	if (strlen(part->name) >= sizeof(part->name) ||
	    strlen(part->filename) >= sizeof(part->filename))
		abort();
	s->parts++;
	return 0;
}

static int
on_data(void *arg, const struct kg_multipart_part *part, const char *data,
	size_t len, struct kg_err *err)
{
	struct seen *s = arg;

	(void)part;
	(void)err;
	if (len && !data)
		abort();
	s->bytes += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kg_multipart_cb cb = {on_part, on_data};
	struct kg_multipart mp;
	struct kg_err err = {0};
	struct seen s = {0};
	size_t chunk, i;
	int rc = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++, size--;
	if (kg_multipart_init(&mp, CT, &cb, &s, &err) < 0) {
		kg_multipart_free(&mp);
		return 0;
	}
	for (i = 0; i < size && rc == 0; i += chunk)
		rc = kg_multipart_feed(&mp, (const char *)data + i,
				       size - i < chunk ? size - i : chunk);
	if (rc == 0)
		rc = kg_multipart_finish(&mp);
	if ((rc != 0 && rc != -1) || s.bytes > size)
		abort();
	kg_multipart_free(&mp);
	return 0;
}
