/* Unit tests of the streaming multipart/form-data parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kg_multipart.h"

#define CT "multipart/form-data; boundary=XyZ123"

struct collect {
	struct kg_buf file;
	struct kg_buf other;
	char filename[256];
	int parts;
};

static int
on_part(void *arg, const struct kg_multipart_part *part, struct kg_err *err)
{
	struct collect *c = arg;

	(void)err;
	c->parts++;
	if (!strcmp(part->name, "file"))
		memcpy(c->filename, part->filename, sizeof(c->filename));
	return 0;
}

static int
on_data(void *arg, const struct kg_multipart_part *part, const char *data,
	size_t len, struct kg_err *err)
{
	struct collect *c = arg;

	(void)err;
	return kg_buf_append(strcmp(part->name, "file") ? &c->other : &c->file,
			     data, len);
}

static const struct kg_multipart_cb cb = {on_part, on_data};

/* A body whose file content contains near-boundaries and CRLFs. */
static const char body[] =
	"--XyZ123\r\n"
	"Content-Disposition: form-data; name=\"note\"\r\n\r\n"
	"hello\r\n"
	"--XyZ123\r\n"
	"Content-Disposition: form-data; name=\"file\"; "
	"filename=\"projekty \\\"2026\\\".xlsx\"\r\n"
	"Content-Type: application/octet-stream\r\n\r\n"
	"PK\x03\x04\r\n--XyZ12\r\n-XyZ123 not a boundary\r\n\r\n"
	"\r\n"
	"--XyZ123--\r\n"
	"epilogue";

static const char expected_file[] =
	"PK\x03\x04\r\n--XyZ12\r\n-XyZ123 not a boundary\r\n\r\n";

static int
parse_in_chunks(const char *data, size_t len, size_t chunk,
		struct collect *c, struct kg_err *err)
{
	struct kg_multipart mp;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = kg_multipart_init(&mp, CT, &cb, c, err);
	for (size_t off = 0; rc == 0 && off < len; off += chunk)
		rc = kg_multipart_feed(&mp, data + off,
				       len - off < chunk ? len - off : chunk);
	if (rc == 0)
		rc = kg_multipart_finish(&mp);
	kg_multipart_free(&mp);
	return rc;
}

static void
free_collect(struct collect *c)
{
	kg_buf_free(&c->file);
	kg_buf_free(&c->other);
}

static void
test_every_chunk_size(void **state)
{
	size_t len = sizeof(body) - 1;

	(void)state;
	for (size_t chunk = 1; chunk <= len; chunk++) {
		struct kg_err err = {0};
		struct collect c;

		assert_int_equal(parse_in_chunks(body, len, chunk, &c, &err),
				 0);
		assert_int_equal(c.parts, 2);
		assert_int_equal(c.file.len, sizeof(expected_file) - 1);
		assert_memory_equal(c.file.data, expected_file, c.file.len);
		assert_string_equal(kg_buf_str(&c.other), "hello");
		assert_string_equal(c.filename, "projekty \"2026\".xlsx");
		free_collect(&c);
	}
}

static void
test_truncated_body(void **state)
{
	struct kg_err err = {0};
	struct collect c;

	(void)state;
	assert_int_equal(parse_in_chunks(body, 150, 7, &c, &err), -1);
	assert_int_equal(err.status, 400);
	assert_non_null(strstr(err.message, "closing boundary"));
	free_collect(&c);
}

static void
test_missing_or_bad_boundary(void **state)
{
	struct kg_multipart mp;
	struct kg_err err = {0};
	char ct[200];

	(void)state;
	assert_int_equal(kg_multipart_init(&mp, "multipart/form-data", &cb,
					   NULL, &err), -1);
	kg_multipart_free(&mp);
	assert_int_equal(kg_multipart_init(&mp, "text/plain; boundary=x", &cb,
					   NULL, &err), -1);
	kg_multipart_free(&mp);
	memset(ct, 'a', sizeof(ct));
	memcpy(ct, "multipart/form-data; boundary=", 30);
	ct[sizeof(ct) - 1] = '\0';
	assert_int_equal(kg_multipart_init(&mp, ct, &cb, NULL, &err), -1);
	kg_multipart_free(&mp);
	assert_int_equal(err.status, 400);
	assert_int_equal(kg_multipart_init(
				 &mp, "multipart/form-data; boundary=\"q r\"",
				 &cb, NULL, &err), 0);
	kg_multipart_free(&mp);
}

static void
test_oversized_headers(void **state)
{
	struct kg_buf b = {0};
	struct kg_err err = {0};
	struct collect c;

	(void)state;
	kg_buf_puts(&b, "--XyZ123\r\nContent-Disposition: form-data; "
			"name=\"file\"\r\nX-Pad: ");
	for (int i = 0; i < 10000; i++)
		kg_buf_puts(&b, "a");
	kg_buf_puts(&b, "\r\n\r\ndata\r\n--XyZ123--\r\n");
	assert_int_equal(parse_in_chunks(b.data, b.len, 4096, &c, &err), -1);
	assert_non_null(strstr(err.message, "headers too large"));
	free_collect(&c);
	kg_buf_free(&b);
}

static void
test_garbage_after_boundary(void **state)
{
	static const char bad[] = "--XyZ123junk\r\n\r\n--XyZ123--";
	struct kg_err err = {0};
	struct collect c;

	(void)state;
	assert_int_equal(parse_in_chunks(bad, sizeof(bad) - 1, 3, &c, &err),
			 -1);
	assert_int_equal(err.status, 400);
	free_collect(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_chunk_size),
		cmocka_unit_test(test_truncated_body),
		cmocka_unit_test(test_missing_or_bad_boundary),
		cmocka_unit_test(test_oversized_headers),
		cmocka_unit_test(test_garbage_after_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
