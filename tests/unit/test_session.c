/* Unit tests of issue 16's pure parts: kg_net (client address behind
 * trusted proxies), kg_password_strength, kg_redis_version_ok. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kg_err.h"
#include "kg_net.h"
#include "kg_password.h"
#include "kg_redis.h"

static void
test_cidr_lists(void **state)
{
	char bad[64];

	(void)state;
	assert_true(kg_net_in_list("10.1.2.3", "10.0.0.0/8"));
	assert_false(kg_net_in_list("11.1.2.3", "10.0.0.0/8"));
	assert_true(kg_net_in_list("192.0.2.7", "10.0.0.0/8, 192.0.2.7"));
	assert_false(kg_net_in_list("192.0.2.8", "10.0.0.0/8 192.0.2.7"));
	assert_true(kg_net_in_list("::1", "::1"));
	assert_true(kg_net_in_list("2001:db8::5", "2001:db8::/32"));
	assert_false(kg_net_in_list("2001:db9::5", "2001:db8::/32"));
	/* IPv4-mapped IPv6 is the IPv4 address */
	assert_true(kg_net_in_list("::ffff:127.0.0.1", "127.0.0.0/8"));
	assert_true(kg_net_in_list("127.0.0.1", "::ffff:127.0.0.1"));
	assert_true(kg_net_in_list("172.16.5.4", "172.16.0.0/12"));
	assert_false(kg_net_in_list("172.32.0.1", "172.16.0.0/12"));
	assert_true(kg_net_in_list("1.2.3.4", "0.0.0.0/0"));
	assert_false(kg_net_in_list("1.2.3.4", ""));
	assert_false(kg_net_in_list("junk", "0.0.0.0/0"));
	assert_false(kg_net_in_list(NULL, "0.0.0.0/0"));
	assert_int_equal(kg_net_check_list("10.0.0.0/8, ::1 192.0.2.0/24",
					   bad, sizeof(bad)), 0);
	assert_int_equal(kg_net_check_list("", bad, sizeof(bad)), 0);
	assert_int_equal(kg_net_check_list("10.0.0.0/8, 10.0.0.0/33", bad,
					   sizeof(bad)), -1);
	assert_string_equal(bad, "10.0.0.0/33");
	assert_int_equal(kg_net_check_list("proxy.example.org", bad,
					   sizeof(bad)), -1);
	assert_int_equal(kg_net_check_list("10.0.0.1/", bad, sizeof(bad)), -1);
}

static void
check_client(const char *remote, const char *xff, const char *trusted,
	     const char *want)
{
	char out[KG_NET_ADDR_MAX];

	kg_net_client_addr(remote, xff, trusted, out);
	assert_string_equal(out, want);
}

static void
test_client_address(void **state)
{
	(void)state;
	/* untrusted peer: the header is ignored */
	check_client("203.0.113.9", "1.2.3.4", "", "203.0.113.9");
	check_client("203.0.113.9", "1.2.3.4", "10.0.0.0/8", "203.0.113.9");
	/* trusted peer: the right-most untrusted entry */
	check_client("10.0.0.1", "1.2.3.4", "10.0.0.0/8", "1.2.3.4");
	check_client("10.0.0.1", "6.6.6.6, 1.2.3.4", "10.0.0.0/8", "1.2.3.4");
	check_client("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", "10.0.0.0/8",
		     "1.2.3.4");
	check_client("10.0.0.1", " 1.2.3.4 ,10.9.9.9 ", "10.0.0.0/8",
		     "1.2.3.4");
	/* all trusted: the left-most one */
	check_client("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.0/8",
		     "10.0.0.3");
	/* garbage stops the walk: the last address vouched for */
	check_client("10.0.0.1", "1.2.3.4, evil", "10.0.0.0/8", "10.0.0.1");
	check_client("10.0.0.1", "evil, 10.0.0.2, 5.6.7.8", "10.0.0.0/8",
		     "5.6.7.8");
	check_client("10.0.0.1", "", "10.0.0.0/8", "10.0.0.1");
	check_client("10.0.0.1", NULL, "10.0.0.0/8", "10.0.0.1");
	check_client("::1", "2001:db8::1", "::1", "2001:db8::1");
	check_client("::ffff:10.0.0.1", "1.2.3.4", "10.0.0.0/8", "1.2.3.4");
	check_client(NULL, "1.2.3.4", "0.0.0.0/0", "-");
}

static void
weak(const char *pw, const char *email)
{
	struct kg_err err = {0};

	assert_int_equal(kg_password_strength(pw, email, &err), -1);
	assert_int_equal(err.status, 422);
	assert_string_equal(err.code, "weak_password");
}

static void
test_password_strength(void **state)
{
	struct kg_err err = {0};
	char big[KG_PASSWORD_MAX_LEN + 2];

	(void)state;
	weak("short", NULL);
	weak("elevenchars", NULL);		/* 11 */
	weak("zażółćgęśl", NULL);		/* 10 code points, 17 bytes */
	weak("password1234", NULL);
	weak("PASSWORD1234", NULL);		/* case-insensitive */
	weak("Kartograf2026", NULL);
	weak("aaaaaaaaaaaa", NULL);
	weak("abcabcabcabcabc", NULL);
	weak("123456789012", NULL);
	weak("987654321098", NULL);
	weak("abcdefghijklm", NULL);
	weak("anna.kowalska@example.pl", "Anna.Kowalska@example.pl");
	weak("anna.kowalska", "anna.kowalska@example.pl");
	weak("\xff\xfe invalid utf8", NULL);
	weak("overlong \xc0\xaf slash 1", NULL);	/* strict, as kg_utf8 */
	weak("surrogate \xed\xa0\x80 here", NULL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = 'y';
	weak(big, NULL);
	assert_int_equal(kg_password_strength("correct horse 42", NULL, &err),
			 0);
	assert_int_equal(kg_password_strength("zażółć gęślą jaźń", NULL,
					      &err), 0);
	assert_int_equal(kg_password_strength("anna.kowalska 2026!",
					      "anna.kowalska@example.pl",
					      &err), 0);
}

static void
test_redis_version(void **state)
{
	(void)state;
	assert_true(kg_redis_version_ok("6.2.0"));
	assert_true(kg_redis_version_ok("6.2.14"));
	assert_true(kg_redis_version_ok("7.0.15"));
	assert_true(kg_redis_version_ok("10.0.0"));
	assert_false(kg_redis_version_ok("6.0.16"));
	assert_false(kg_redis_version_ok("5.0.7"));
	assert_false(kg_redis_version_ok(""));
	assert_false(kg_redis_version_ok("x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_lists),
		cmocka_unit_test(test_client_address),
		cmocka_unit_test(test_password_strength),
		cmocka_unit_test(test_redis_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
