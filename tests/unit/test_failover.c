/*
 * Unit tests of the retry policy of AI calls (kg_failover.h): the
 * provider chain, full-jitter back-off bounds, retry-or-next decisions
 * and which failures count against a breaker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "kg_failover.h"

static void
test_backoff_full_jitter_bounds(void **state)
{
	(void)state;
	srand(42);
	for (int failed = 1; failed <= 40; failed++) {
		long cap = 500L << (failed < 8 ? failed - 1 : 7);
		long hi = 0;

		if (cap > 20000)
			cap = 20000;
		for (int i = 0; i < 2000; i++) {
			long d = kg_failover_backoff_ms(500, 20000, failed,
							(unsigned)rand());

			assert_true(d >= 0 && d <= cap);
			if (d > hi)
				hi = d;
		}
		/* full jitter spreads over the whole range */
		assert_true(hi > cap * 9 / 10);
	}
	assert_int_equal(kg_failover_backoff_ms(500, 20000, 1, 0), 0);
	assert_int_equal(kg_failover_backoff_ms(500, 20000, 1, 500), 500);
	assert_int_equal(kg_failover_backoff_ms(500, 20000, 1, 501), 0);
	assert_int_equal(kg_failover_backoff_ms(500, 20000, 3, UINT_MAX),
			 (long)(UINT_MAX % 2001));
	assert_int_equal(kg_failover_backoff_ms(0, 20000, 3, 77), 0);
	assert_int_equal(kg_failover_backoff_ms(500, 0, 3, 77), 0);
}

static void
test_retry_decision(void **state)
{
	struct kg_failover_policy p = {3, 500, 20000, 60000};
	long d;

	(void)state;
	/* retryable, attempts left: back off within the attempt's range */
	assert_int_equal(kg_failover_retry(&p, 1, 1, -1, 400, &d), 1);
	assert_int_equal(d, 400);
	assert_int_equal(kg_failover_retry(&p, 2, 1, -1, 999, &d), 1);
	assert_int_equal(d, 999);
	/* Retry-After wins when longer */
	assert_int_equal(kg_failover_retry(&p, 1, 1, 2000, 400, &d), 1);
	assert_int_equal(d, 2000);
	assert_int_equal(kg_failover_retry(&p, 1, 1, 100, 400, &d), 1);
	assert_int_equal(d, 400);
	/* last attempt, non-retryable (400/401/403/404), or a Retry-After
	 * longer than we are willing to wait: next provider now */
	assert_int_equal(kg_failover_retry(&p, 3, 1, -1, 1, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(kg_failover_retry(&p, 1, 0, -1, 1, &d), 0);
	assert_int_equal(kg_failover_retry(&p, 1, 1, 60001, 1, &d), 0);
	p.max_attempts = 1;
	assert_int_equal(kg_failover_retry(&p, 1, 1, -1, 1, &d), 0);
}

static void
test_chain(void **state)
{
	char n[KG_FAILOVER_MAX][KG_FAILOVER_NAME], bad[64];

	(void)state;
	assert_int_equal(kg_failover_chain(" bedrock , azure", "offline", n,
					   KG_FAILOVER_MAX, bad, sizeof(bad)),
			 2);
	assert_string_equal(n[0], "bedrock");
	assert_string_equal(n[1], "azure");
	assert_int_equal(kg_failover_chain("", "offline", n, KG_FAILOVER_MAX,
					   bad, sizeof(bad)), 1);
	assert_string_equal(n[0], "offline");
	assert_int_equal(kg_failover_chain(NULL, "azure", n, KG_FAILOVER_MAX,
					   bad, sizeof(bad)), 1);
	assert_int_equal(kg_failover_chain("azure,azure,openai", "x", n,
					   KG_FAILOVER_MAX, bad, sizeof(bad)),
			 2);
	assert_string_equal(n[1], "openai");
	assert_int_equal(kg_failover_chain("bedrock,,azure", "x", n,
					   KG_FAILOVER_MAX, bad, sizeof(bad)),
			 -1);
	assert_int_equal(kg_failover_chain("bedrock, ", "x", n,
					   KG_FAILOVER_MAX, bad, sizeof(bad)),
			 -1);
	assert_int_equal(kg_failover_chain("a,b,c", "x", n, 2, bad,
					   sizeof(bad)), -1);
	assert_string_equal(bad, "c");
	assert_int_equal(kg_failover_chain(
		"a-provider-name-longer-than-thirty-two", "x", n,
		KG_FAILOVER_MAX, bad, sizeof(bad)), -1);
}

static void
test_breaker_counts(void **state)
{
	(void)state;
	assert_false(kg_failover_counts("ok"));
	assert_false(kg_failover_counts("invalid_output"));
	assert_true(kg_failover_counts("error"));
	assert_true(kg_failover_counts("timeout"));
	assert_true(kg_failover_counts("rate_limited"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_full_jitter_bounds),
		cmocka_unit_test(test_retry_decision),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_breaker_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
