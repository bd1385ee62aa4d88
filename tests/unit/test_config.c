/* Unit tests of kg_config: file + environment, validation messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kg_config.h"

static char path[64];

static void
write_config(const char *text)
{
	int fd;
	FILE *f;

	if (path[0])
		unlink(path);
	snprintf(path, sizeof(path), "/tmp/kg-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	path[0] = '\0';
	kg_config_free();
	unsetenv("KARTOGRAF_HTTP_MAX_BODY");
	return 0;
}

static void
test_defaults_and_file(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[redis]\nport = 6390\n[log]\nlevel = warn\n");
	assert_int_equal(kg_config_load(path, &err), 0);
	assert_int_equal(kg_config_int("redis", "port"), 6390);
	assert_int_equal(kg_config_int("http", "max_body"), 10485760);
	assert_string_equal(kg_config_str("log", "level"), "warn");
	assert_string_equal(kg_config_str("ai", "provider"), "offline");
}

static void
test_env_overrides_file(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[http]\nmax_body = 2048\n");
	setenv("KARTOGRAF_HTTP_MAX_BODY", "4096", 1);
	assert_int_equal(kg_config_load(path, &err), 0);
	assert_int_equal(kg_config_int("http", "max_body"), 4096);
}

static void
test_bad_integer_names_key(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[http]\nmax_body = abc\n");
	assert_int_equal(kg_config_load(path, &err), -1);
	assert_non_null(strstr(err.message, "max_body"));
	assert_non_null(strstr(err.message, "not an integer"));
}

static void
test_out_of_range(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[redis]\nport = 70000\n");
	assert_int_equal(kg_config_load(path, &err), -1);
	assert_non_null(strstr(err.message, "[redis] port"));
}

static void
test_unknown_key_and_enum(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[redis]\nprot = 1\n");
	assert_int_equal(kg_config_load(path, &err), -1);
	assert_non_null(strstr(err.message, "unknown key [redis] prot"));
	write_config("[ai]\nprovider = skynet\n");
	assert_int_equal(kg_config_load(path, &err), -1);
	assert_non_null(strstr(err.message, "provider"));
}

static int problems;

static void
count_problem(const char *msg)
{
	(void)msg;
	problems++;
}

static void
test_check_reports_every_problem(void **state)
{
	(void)state;
	write_config("[redis]\nport = x\n[http]\nmax_body = 1\n[x]\ny = 1\n");
	problems = 0;
	assert_int_equal(kg_config_check(path, count_problem), 3);
	assert_int_equal(problems, 3);
}

static void
test_missing_explicit_file(void **state)
{
	struct kg_err err = {0};

	(void)state;
	assert_int_equal(kg_config_load("/nonexistent/kartograf.conf", &err),
			 -1);
	assert_non_null(strstr(err.message, "cannot read config file"));
}

static void
test_failed_reload_keeps_old(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[redis]\nport = 6391\n");
	assert_int_equal(kg_config_load(path, &err), 0);
	write_config("[redis]\nport = nope\n");
	assert_int_equal(kg_config_load(path, &err), -1);
	assert_int_equal(kg_config_int("redis", "port"), 6391);
}

static void
secret_line(const char *line)
{
	assert_null(strstr(line, "supersecretvalue"));
}

static void
test_print_hides_secrets(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[auth]\njwt_key = supersecretvalue-supersecretvalue\n");
	assert_int_equal(kg_config_load(path, &err), 0);
	kg_config_print(secret_line);
}

static void
conninfo_line(const char *line)
{
	assert_null(strstr(line, "pg-secret"));
	if (!strncmp(line, "[database] conninfo", 19))
		assert_non_null(strstr(line, "user=kartograf"));
}

static void
test_print_masks_conninfo_password(void **state)
{
	struct kg_err err = {0};

	(void)state;
	write_config("[database]\nconninfo = host=127.0.0.1 password=pg-secret "
		     "user=kartograf\n");
	assert_int_equal(kg_config_load(path, &err), 0);
	kg_config_print(conninfo_line);
}

static void
check_mask(const char *in, const char *want)
{
	char out[256];

	kg_config_mask_conninfo(in, out, sizeof(out));
	assert_string_equal(out, want);
}

static void
test_mask_conninfo_forms(void **state)
{
	char tiny[8];

	(void)state;
	check_mask("host=h password=s3cret dbname=k",
		   "host=h password=*** dbname=k");
	check_mask("password = 's3 \\' cret' user=k",
		   "password = *** user=k");
	check_mask("PASSWORD=x", "PASSWORD=***");
	check_mask("dbname=kartograf", "dbname=kartograf");
	check_mask("passwordless=1 user=k", "passwordless=1 user=k");
	check_mask("postgresql://kg:s3cret@db:5432/k?sslmode=require",
		   "postgresql://kg:***@db:5432/k?sslmode=require");
	check_mask("postgres://db/k?user=kg&password=s3cret&sslmode=disable",
		   "postgres://db/k?user=kg&password=***&sslmode=disable");
	check_mask("postgresql://kg@db/k", "postgresql://kg@db/k");
	check_mask("host=h broken", "host=h broken");
	check_mask("", "");
	kg_config_mask_conninfo("password=s3cret", tiny, sizeof(tiny));
	assert_null(strstr(tiny, "s3c"));
	assert_int_equal(strlen(tiny), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults_and_file, teardown),
		cmocka_unit_test_teardown(test_env_overrides_file, teardown),
		cmocka_unit_test_teardown(test_bad_integer_names_key, teardown),
		cmocka_unit_test_teardown(test_out_of_range, teardown),
		cmocka_unit_test_teardown(test_unknown_key_and_enum, teardown),
		cmocka_unit_test_teardown(test_check_reports_every_problem,
					  teardown),
		cmocka_unit_test_teardown(test_missing_explicit_file, teardown),
		cmocka_unit_test_teardown(test_failed_reload_keeps_old,
					  teardown),
		cmocka_unit_test_teardown(test_print_hides_secrets, teardown),
		cmocka_unit_test_teardown(test_print_masks_conninfo_password,
					  teardown),
		cmocka_unit_test(test_mask_conninfo_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
