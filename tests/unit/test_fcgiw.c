/* Unit tests of kg_fcgiw: a whole answer as FastCGI records reads back
 * as the same bytes, in records a web server accepts (content at most
 * 65535 bytes, padding to 8), ended by an empty FCGI_STDOUT record and
 * FCGI_END_REQUEST, all with the request's id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "kg_fcgiw.h"

/* Parse w's records; the FCGI_STDOUT content goes to `out`. */
static void
read_back(const struct kg_fcgiw *w, int id, struct kg_buf *out)
{
	const unsigned char *p = (const unsigned char *)w->buf.data;
	size_t left = w->buf.len;
	int ended_stream = 0;

	while (left > 0) {
		size_t len, pad;

		assert_true(left >= 8);
		assert_int_equal(p[0], FCGI_VERSION_1);
		assert_int_equal((p[2] << 8) | p[3], id);
		len = (size_t)(p[4] << 8 | p[5]);
		pad = p[6];
		assert_true(pad < 8);
		assert_int_equal((len + pad) % 8, 0);
		assert_true(left >= 8 + len + pad);
		if (p[1] == FCGI_END_REQUEST) {
			assert_true(ended_stream);
			assert_int_equal(len, 8);
			for (int i = 0; i < 8; i++)
				assert_int_equal(p[8 + i], 0);
			assert_int_equal(left, 16);	/* the last record */
			return;
		}
		assert_int_equal(p[1], FCGI_STDOUT);
		assert_false(ended_stream);
		if (len == 0)
			ended_stream = 1;
		assert_int_equal(kg_buf_append(out, p + 8, len), 0);
		p += 8 + len + pad;
		left -= 8 + len + pad;
	}
	fail_msg("no FCGI_END_REQUEST");
}

static void
round_trip(size_t head_len, size_t body_len)
{
	char *head = malloc(head_len + 1), *body = malloc(body_len + 1);
	struct kg_fcgiw w;
	struct kg_buf got = {0};

	assert_non_null(head);
	assert_non_null(body);
	for (size_t i = 0; i < head_len; i++)
		head[i] = (char)('A' + i % 26);
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)(i * 7 % 251);
	kg_fcgiw_init(&w, 0x1234, head_len + body_len / 2);
	kg_fcgiw_add(&w, head, head_len);
	kg_fcgiw_add(&w, body, body_len);
	assert_int_equal(kg_fcgiw_end(&w), 0);
	read_back(&w, 0x1234, &got);
	assert_int_equal(got.len, head_len + body_len);
	if (head_len)
		assert_memory_equal(got.data, head, head_len);
	if (body_len)
		assert_memory_equal(got.data + head_len, body, body_len);
	kg_buf_free(&got);
	kg_fcgiw_free(&w);
	free(head);
	free(body);
}

static void
test_sizes(void **state)
{
	(void)state;
	round_trip(0, 0);
	round_trip(150, 0);
	round_trip(150, 1);
	round_trip(150, 18679);		/* the bench's card */
	round_trip(0, KG_FCGIW_RECORD_MAX);	/* exactly one full record */
	round_trip(1, KG_FCGIW_RECORD_MAX);	/* one byte into a second */
	round_trip(200, 230000);		/* a 1,000-project batch */
}

/* One full record and nothing after it: no empty data record between
 * it and the stream's end (which would end the stream early). */
static void
test_full_record_then_end(void **state)
{
	struct kg_fcgiw w;
	char *body = calloc(1, KG_FCGIW_RECORD_MAX);

	(void)state;
	assert_non_null(body);
	kg_fcgiw_init(&w, 1, 0);
	kg_fcgiw_add(&w, body, KG_FCGIW_RECORD_MAX);
	assert_int_equal(kg_fcgiw_end(&w), 0);
	/* one data record, the empty one, FCGI_END_REQUEST */
	assert_int_equal(w.buf.len, 8 + KG_FCGIW_RECORD_MAX + 8 + 16);
	kg_fcgiw_free(&w);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_full_record_then_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
