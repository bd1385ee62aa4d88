/*
 * Unit tests of the circuit breaker's state machine (kg_breaker.h):
 * pure functions, no Redis.  The
 * Redis half (shared by workers, SET NX probe) is tested by
 * tests/integration/test_providers.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kg_breaker.h"

static const struct kg_breaker_conf conf = {3, 30000};

static void
test_closed_opens_after_threshold(void **state)
{
	struct kg_breaker b = {0};

	(void)state;
	assert_int_equal(kg_breaker_decide(&b, 1000, &conf, 0),
			 KG_BREAKER_ALLOW);
	assert_int_equal(kg_breaker_apply(&b, 0, 1000, &conf), 0);
	assert_int_equal(kg_breaker_apply(&b, 0, 1001, &conf), 0);
	assert_int_equal(b.state, KG_BREAKER_CLOSED);
	assert_int_equal(b.failures, 2);
	/* a success in between resets the count: failures are consecutive */
	assert_int_equal(kg_breaker_apply(&b, 1, 1002, &conf), 0);
	assert_int_equal(b.failures, 0);
	kg_breaker_apply(&b, 0, 2000, &conf);
	kg_breaker_apply(&b, 0, 2001, &conf);
	assert_int_equal(kg_breaker_apply(&b, 0, 2002, &conf), 1);
	assert_int_equal(b.state, KG_BREAKER_OPEN);
	assert_int_equal(b.failures, 3);
	assert_true(b.opened_at == 2002);
}

static void
test_open_denies_until_cooldown(void **state)
{
	struct kg_breaker b = {KG_BREAKER_OPEN, 3, 10000};

	(void)state;
	assert_int_equal(kg_breaker_decide(&b, 10000, &conf, 0),
			 KG_BREAKER_DENY);
	assert_int_equal(kg_breaker_decide(&b, 39999, &conf, 0),
			 KG_BREAKER_DENY);
	assert_int_equal(kg_breaker_decide(&b, 40000, &conf, 0),
			 KG_BREAKER_PROBE);
	/* somebody already probes */
	assert_int_equal(kg_breaker_decide(&b, 40000, &conf, 1),
			 KG_BREAKER_DENY);
	/* a late failure of an older call does not extend the cool-down */
	assert_int_equal(kg_breaker_apply(&b, 0, 20000, &conf), 0);
	assert_int_equal(b.state, KG_BREAKER_OPEN);
	assert_true(b.opened_at == 10000);
}

static void
test_half_open_probe(void **state)
{
	struct kg_breaker b = {KG_BREAKER_HALF_OPEN, 3, 10000};

	(void)state;
	assert_int_equal(kg_breaker_decide(&b, 50000, &conf, 1),
			 KG_BREAKER_DENY);
	/* the prober died: its key expired, the next worker probes */
	assert_int_equal(kg_breaker_decide(&b, 50000, &conf, 0),
			 KG_BREAKER_PROBE);
	/* the probe fails: open again, a new cool-down from now */
	assert_int_equal(kg_breaker_apply(&b, 0, 50000, &conf), 1);
	assert_int_equal(b.state, KG_BREAKER_OPEN);
	assert_true(b.opened_at == 50000);
	assert_int_equal(kg_breaker_decide(&b, 60000, &conf, 0),
			 KG_BREAKER_DENY);
	/* the next probe succeeds: closed, count reset */
	b.state = KG_BREAKER_HALF_OPEN;
	assert_int_equal(kg_breaker_apply(&b, 1, 80000, &conf), 1);
	assert_int_equal(b.state, KG_BREAKER_CLOSED);
	assert_int_equal(b.failures, 0);
	assert_int_equal(kg_breaker_decide(&b, 80001, &conf, 0),
			 KG_BREAKER_ALLOW);
}

static void
test_state_names(void **state)
{
	(void)state;
	for (int s = KG_BREAKER_CLOSED; s <= KG_BREAKER_HALF_OPEN; s++)
		assert_int_equal(kg_breaker_state_parse(
					 kg_breaker_state_name(s)), s);
	assert_string_equal(kg_breaker_state_name(KG_BREAKER_HALF_OPEN),
			    "half-open");
	assert_int_equal(kg_breaker_state_parse(NULL), KG_BREAKER_CLOSED);
	assert_int_equal(kg_breaker_state_parse("bogus"), KG_BREAKER_CLOSED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_opens_after_threshold),
		cmocka_unit_test(test_open_denies_until_cooldown),
		cmocka_unit_test(test_half_open_probe),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
