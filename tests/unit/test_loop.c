/*
 * Unit tests of kg_loop's watched fds (kg_loop_watch): a loop waiting in
 * curl_multi_poll wakes at once for a readable fd, calls its function,
 * and stops calling it once unwatched; the number of watches is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <unistd.h>

#include "kg_loop.h"

struct seen {
	int fd;
	int calls;
};

static void
drain(void *arg)
{
	struct seen *s = arg;
	char buf[16];

	s->calls++;
	(void)!read(s->fd, buf, sizeof(buf));
}

static void
test_watch_wakes_the_loop(void **state)
{
	struct kg_err err = {0};
	struct kg_loop *loop = kg_loop_new(&err);
	int p[2];
	struct seen s = {0};
	int64_t t0;

	(void)state;
	assert_non_null(loop);
	assert_int_equal(pipe(p), 0);
	s.fd = p[0];
	assert_int_equal(kg_loop_watch(loop, p[0], drain, &s, &err), 0);
	/* nothing to read: the wait runs out, fn is not called */
	assert_int_equal(kg_loop_run_once(loop, 20), 0);
	assert_int_equal(s.calls, 0);
	/* readable: the loop wakes long before its 5 s, fn runs once */
	assert_int_equal(write(p[1], "x", 1), 1);
	t0 = kg_loop_now_ms();
	assert_int_equal(kg_loop_run_once(loop, 5000), 1);
	assert_true(kg_loop_now_ms() - t0 < 2000);
	assert_int_equal(s.calls, 1);
	/* unwatched: no call even when readable */
	kg_loop_unwatch(loop, p[0]);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(kg_loop_run_once(loop, 20), 0);
	assert_int_equal(s.calls, 1);
	close(p[0]);
	close(p[1]);
	kg_loop_free(loop);
}

static void
test_watches_are_bounded(void **state)
{
	struct kg_err err = {0};
	struct kg_loop *loop = kg_loop_new(&err);
	struct seen s = {0};

	(void)state;
	assert_non_null(loop);
	for (int i = 0; i < KG_LOOP_WATCHES; i++)
		assert_int_equal(kg_loop_watch(loop, 100 + i, drain, &s, &err),
				 0);
	assert_int_equal(kg_loop_watch(loop, 200, drain, &s, &err), -1);
	assert_int_equal(err.status, 500);
	kg_loop_unwatch(loop, 100);
	assert_int_equal(kg_loop_watch(loop, 200, drain, &s, &err), 0);
	kg_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_wakes_the_loop),
		cmocka_unit_test(test_watches_are_bounded),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
