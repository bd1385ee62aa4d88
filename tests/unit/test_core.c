/* Unit tests of the small core modules: kg_buf, kg_err, kg_password,
 * kg_user email normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kg_buf.h"
#include "kg_spool.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_dict.h"
#include "kg_hash.h"
#include "kg_password.h"
#include "kg_user.h"

/* COPY's text format: backslash, tab, newline and CR escaped, nothing
 * else; "\\N" (the NULL marker) and "\\." (the end marker) stay text. */
static void
test_db_copy_field(void **state)
{
	struct kg_buf b = {0};
	const char in[] = "a\\N\tb\nc\rd\\.e ó\"";

	(void)state;
	assert_int_equal(kg_db_copy_field(&b, in, sizeof(in) - 1), 0);
	assert_string_equal(kg_buf_str(&b),
			    "a\\\\N\\tb\\nc\\rd\\\\.e ó\"");
	kg_buf_reset(&b);
	assert_int_equal(kg_db_copy_field(&b, "\\", 1), 0);
	assert_string_equal(kg_buf_str(&b), "\\\\");
	kg_buf_reset(&b);
	assert_int_equal(kg_db_copy_field(&b, "", 0), 0);
	assert_int_equal((int)b.len, 0);
	kg_buf_free(&b);
}

/* The word-at-a-time scan against a byte-at-a-time reference: every
 * length 0..40 with each escaped byte (and bytes one off them, and
 * high bytes) at every position. */
static void
test_db_copy_field_words(void **state)
{
	static const char probe[] = {'\\', '\t', '\n', '\r', '[', '\x08',
				     '\x0b', '\x0c', '\x0e', '\xc5', '\x80'};
	struct kg_buf b = {0};
	char in[40], want[80];

	(void)state;
	for (size_t len = 0; len <= sizeof(in); len++)
		for (size_t at = 0; at < len; at++)
			for (size_t k = 0; k < sizeof(probe); k++) {
				size_t n = 0;

				memset(in, 'x', len);
				in[at] = probe[k];
				for (size_t i = 0; i < len; i++) {
					const char *e = strchr("\\\t\n\r",
							       in[i]);
					if (e && in[i]) {
						want[n++] = '\\';
						want[n++] = "\\tnr"[e - "\\\t\n\r"];
					} else {
						want[n++] = in[i];
					}
				}
				kg_buf_reset(&b);
				assert_int_equal(kg_db_copy_field(&b, in, len), 0);
				assert_int_equal(b.len, n);
				assert_memory_equal(b.data ? b.data : "", want, n);
			}
	kg_buf_free(&b);
}

static void
test_buf_grows_and_terminates(void **state)
{
	struct kg_buf b = {0};
	char *s;

	(void)state;
	assert_string_equal(kg_buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(kg_buf_printf(&b, "%03d,", i % 1000), 0);
	assert_int_equal(b.len, 4000);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data + 3996, "999,", 4);
	assert_int_equal(kg_buf_append(&b, "\0x", 2), 0);
	assert_int_equal(b.len, 4002);
	s = kg_buf_take(&b);
	assert_null(b.data);
	free(s);
	kg_buf_free(&b);
}

static void
test_err_set(void **state)
{
	struct kg_err err = {0};

	(void)state;
	assert_int_equal(kg_err_set(&err, 404, "not_found", "no %s", "x"), -1);
	assert_int_equal(err.status, 404);
	assert_string_equal(err.code, "not_found");
	assert_string_equal(err.message, "no x");
	assert_int_equal(kg_err_set(NULL, 500, "x", "y"), -1);
}

static void
test_email_normalisation(void **state)
{
	char out[KG_EMAIL_MAX + 1];
	char longmail[300];

	(void)state;
	assert_int_equal(kg_user_normalize_email("  Ala@Example.PL ", out,
						 NULL), 0);
	assert_string_equal(out, "ala@example.pl");
	assert_int_equal(kg_user_normalize_email("no-at-sign", out, NULL), -1);
	assert_int_equal(kg_user_normalize_email("a@b@c", out, NULL), -1);
	assert_int_equal(kg_user_normalize_email("@b", out, NULL), -1);
	assert_int_equal(kg_user_normalize_email("a@", out, NULL), -1);
	assert_int_equal(kg_user_normalize_email("a b@c", out, NULL), -1);
	assert_int_equal(kg_user_normalize_email("\xff\xfe@x.pl", out, NULL),
			 -1);
	assert_int_equal(kg_user_normalize_email("x'; DROP TABLE users;--@x",
						 out, NULL), -1);
	memset(longmail, 'a', sizeof(longmail));
	longmail[10] = '@';
	longmail[sizeof(longmail) - 1] = '\0';
	assert_int_equal(kg_user_normalize_email(longmail, out, NULL), -1);
}

/* kg_spool: in memory up to 64 KiB, then in a temporary file that has
 * no name (nothing left in $TMPDIR) and holds every byte; without a
 * usable $TMPDIR the bytes stay in memory. */
static void
test_spool(void **state)
{
	char chunk[10000], back[10000], dir[] = "/tmp/kg-spool-XXXXXX";
	struct kg_spool s = {0};
	DIR *d;
	struct dirent *e;
	int names = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	for (int i = 0; i < 10; i++) {
		memset(chunk, 'a' + i, sizeof(chunk));
		assert_int_equal(kg_spool_write(&s, chunk, sizeof(chunk)), 0);
		assert_int_equal(s.in_file, (i + 1) * sizeof(chunk) >
						    KG_SPOOL_MEM_MAX);
	}
	assert_int_equal(s.len, 100000);
	assert_null(s.mem.data);
	assert_int_equal(pread(s.fd, back, sizeof(back), 70000),
			 (ssize_t)sizeof(back));
	assert_int_equal(back[0], 'h');
	assert_int_equal(back[9999], 'h');
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)))
		names += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(names, 0);
	kg_spool_free(&s);
	assert_int_equal(rmdir(dir), 0);
	setenv("TMPDIR", "/nonexistent/kg", 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(kg_spool_write(&s, chunk, sizeof(chunk)), 0);
	assert_false(s.in_file);
	assert_int_equal(s.mem.len, 100000);
	kg_spool_free(&s);
	unsetenv("TMPDIR");
}

static void
test_dict(void **state)
{
	struct kg_dict d = {0};
	char key[32];

	(void)state;
	assert_null(kg_dict_get(&d, "x"));
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(kg_dict_set(&d, key, i), 0);
	}
	assert_int_equal(kg_dict_set(&d, "k5", -5), 0);
	assert_int_equal(d.n, 10000);
	assert_true(d.n * 4 <= d.cap * 3);	/* at most 3/4 full */
	assert_int_equal(*kg_dict_get(&d, "k5"), -5);
	assert_int_equal(*kg_dict_get(&d, "k9999"), 9999);
	assert_null(kg_dict_get(&d, "k10000"));
	assert_null(kg_dict_get(&d, ""));
	kg_dict_free(&d);
	assert_null(kg_dict_get(&d, "k1"));
}

/* kg_dict_add: the first value stays; keys longer than a block fit. */
static void
test_dict_add(void **state)
{
	struct kg_dict d = {0};
	char big[40000];
	int *v;
	int added;

	(void)state;
	v = kg_dict_add(&d, "a", 1, &added);
	assert_non_null(v);
	assert_true(added);
	v = kg_dict_add(&d, "a", 2, &added);
	assert_non_null(v);
	assert_false(added);
	assert_int_equal(*v, 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_non_null(kg_dict_add(&d, big, 3, &added));
	assert_true(added);
	assert_non_null(kg_dict_add(&d, "b", 4, &added));
	assert_true(added);
	assert_int_equal(*kg_dict_get(&d, big), 3);
	assert_int_equal(*kg_dict_get(&d, "a"), 1);
	assert_int_equal(*kg_dict_get(&d, "b"), 4);
	assert_int_equal(d.n, 3);
	kg_dict_free(&d);
}

static int
low_cost_config(void **state)
{
	struct kg_err err = {0};

	(void)state;
	setenv("KARTOGRAF_AUTH_ARGON2_MEMORY_KIB", "1024", 1);
	setenv("KARTOGRAF_AUTH_ARGON2_ITERATIONS", "1", 1);
	return kg_config_load("/dev/null", &err);
}

static void
test_password_roundtrip(void **state)
{
	char hash[KG_PASSWORD_HASH_MAX], hash2[KG_PASSWORD_HASH_MAX];
	struct kg_err err = {0};
	int rehash = -1;

	(void)state;
	assert_int_equal(kg_password_hash("zażółć gęślą", hash, &err), 0);
	assert_true(strncmp(hash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	assert_int_equal(kg_password_verify(hash, "zażółć gęślą", &rehash), 1);
	assert_int_equal(rehash, 0);
	assert_int_equal(kg_password_verify(hash, "zazolc gesla", NULL), 0);
	assert_int_equal(kg_password_verify("plaintext", "plaintext", NULL), 0);
	/* per-user salt: same password, different hash */
	assert_int_equal(kg_password_hash("zażółć gęślą", hash2, &err), 0);
	assert_string_not_equal(hash, hash2);
}

static void
test_password_rehash_when_cost_rises(void **state)
{
	char hash[KG_PASSWORD_HASH_MAX];
	struct kg_err err = {0};
	int rehash = 0;

	(void)state;
	assert_int_equal(kg_password_hash("secret-pass", hash, &err), 0);
	setenv("KARTOGRAF_AUTH_ARGON2_ITERATIONS", "2", 1);
	assert_int_equal(kg_config_load("/dev/null", &err), 0);
	assert_int_equal(kg_password_verify(hash, "secret-pass", &rehash), 1);
	assert_int_equal(rehash, 1);
	setenv("KARTOGRAF_AUTH_ARGON2_ITERATIONS", "1", 1);
	assert_int_equal(kg_config_load("/dev/null", &err), 0);
}

static int
free_config(void **state)
{
	(void)state;
	kg_config_free();
	return 0;
}

/* kg_hash_hex and the pooled kg_hash_random_hex: lower-case hex of the right
 * length, no two draws alike across refills of the pool, more than 64
 * bytes refused, and a forked child does not repeat the parent's next
 * bytes (its pool starts empty). */
static void
test_random_hex(void **state)
{
	static const unsigned char raw[] = {0x00, 0x9f, 0xa0, 0xff};
	char seen[100][17], hex[129], mine[17], child[17];
	int fds[2], status;
	pid_t pid;

	(void)state;
	kg_hash_hex(raw, sizeof(raw), hex);
	assert_string_equal(hex, "009fa0ff");
	for (int i = 0; i < 100; i++) {	/* 800 bytes: three refills */
		assert_int_equal(kg_hash_random_hex(seen[i], 8), 0);
		assert_int_equal(strlen(seen[i]), 16);
		assert_int_equal(strspn(seen[i], "0123456789abcdef"), 16);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
	assert_int_equal(kg_hash_random_hex(hex, 64), 0);
	assert_int_equal(strlen(hex), 128);
	assert_int_equal(kg_hash_random_hex(hex, 65), -1);

	assert_int_equal(kg_hash_random_hex(mine, 1), 0); /* the pool is not empty */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = kg_hash_random_hex(child, 8) == 0 &&
			 write(fds[1], child, 17) == 17;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(read(fds[0], child, 17), 17);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(kg_hash_random_hex(mine, 8), 0);
	assert_string_not_equal(mine, child);
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows_and_terminates),
		cmocka_unit_test(test_spool),
		cmocka_unit_test(test_db_copy_field),
		cmocka_unit_test(test_db_copy_field_words),
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_dict),
		cmocka_unit_test(test_random_hex),
		cmocka_unit_test(test_dict_add),
		cmocka_unit_test(test_email_normalisation),
		cmocka_unit_test(test_password_roundtrip),
		cmocka_unit_test(test_password_rehash_when_cost_rises),
	};

	return cmocka_run_group_tests(tests, low_cost_config, free_config);
}
