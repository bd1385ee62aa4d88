/* Unit tests of kg_storage: key safety, and the local backend (atomic
 * write, read back, limits, refusals) in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kg_array.h"
#include "kg_storage.h"

static void
test_key_valid(void **state)
{
	static const char *const good[] = {
		"a", "exports/0b0e3f6a-1c1d-4e7e-9a5b-2f7a0c1d2e3f/v1-0123abcd.docx",
		"exports/batches/x/20260315T120000Z-ab.zip", "A-Z_0.9", "a/b/c",
		"a..b", "x.",
	};
	static const char *const bad[] = {
		"", "/abs", "a/", "a//b", "..", "../x", "a/../b", "a/..", ".",
		"./a", "a/./b", ".hidden", "a/.tmp-123456", "a\\b", "a b",
		"a\nb", "a\tb", "ä", "a:b", "a?b", "a%2Fb", "a\x7f",
	};
	char longkey[KG_STORAGE_KEY_MAX + 2];

	(void)state;
	for (size_t i = 0; i < KG_COUNT(good); i++)
		assert_true(kg_storage_key_valid(good[i]));
	for (size_t i = 0; i < KG_COUNT(bad); i++)
		if (kg_storage_key_valid(bad[i]))
			fail_msg("accepted unsafe key \"%s\"", bad[i]);
	assert_false(kg_storage_key_valid(NULL));
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[KG_STORAGE_KEY_MAX] = '\0';
	assert_true(kg_storage_key_valid(longkey));
	longkey[KG_STORAGE_KEY_MAX] = 'a';
	longkey[KG_STORAGE_KEY_MAX + 1] = '\0';
	assert_false(kg_storage_key_valid(longkey));
}

static int
make_dir(void **state)
{
	char *dir = strdup("/tmp/kg-test-storage-XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int
remove_dir(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	free(*state);
	return system(cmd) == 0 ? 0 : -1;
}

/* Entries in dir/sub (temporary files included). */
static int
count_entries(const char *dir, const char *sub)
{
	char path[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void
test_local_round_trip(void **state)
{
	const char *dir = *state;
	struct kg_err err = {0};
	struct kg_buf b = {0};
	static const char data[] = "PK\x03\x04 binary \0 with NUL";

	assert_int_equal(kg_storage_local_put(dir, "exports/p1/v1-aa.docx", data,
					      sizeof(data), &err), 0);
	assert_int_equal(kg_storage_local_get(dir, "exports/p1/v1-aa.docx", &b,
					      1024, &err), 0);
	assert_int_equal(b.len, sizeof(data));
	assert_memory_equal(b.data, data, sizeof(data));
	/* replaced atomically, no temporary file left behind */
	assert_int_equal(kg_storage_local_put(dir, "exports/p1/v1-aa.docx", "new",
					      3, &err), 0);
	kg_buf_reset(&b);
	assert_int_equal(kg_storage_local_get(dir, "exports/p1/v1-aa.docx", &b,
					      1024, &err), 0);
	assert_string_equal(b.data, "new");
	assert_int_equal(count_entries(dir, "exports/p1"), 1);
	/* an empty file is a file */
	assert_int_equal(kg_storage_local_put(dir, "empty", "", 0, &err), 0);
	kg_buf_reset(&b);
	assert_int_equal(kg_storage_local_get(dir, "empty", &b, 10, &err), 0);
	assert_int_equal(b.len, 0);
	kg_buf_free(&b);
}

static void
test_local_refusals(void **state)
{
	const char *dir = *state;
	struct kg_err err = {0};
	struct kg_buf b = {0};
	char path[512];

	assert_int_equal(kg_storage_local_get(dir, "nope/x.docx", &b, 10, &err),
			 -1);
	assert_int_equal(err.status, 404);
	assert_int_equal(kg_storage_local_put(dir, "big", "0123456789", 10, &err),
			 0);
	assert_int_equal(kg_storage_local_get(dir, "big", &b, 9, &err), -1);
	assert_int_equal(err.status, 413);
	assert_int_equal(b.len, 0);
	/* unsafe keys: refused, nothing created anywhere */
	assert_int_equal(kg_storage_local_put(dir, "../escape", "x", 1, &err),
			 -1);
	assert_int_equal(err.status, 500);
	assert_string_equal(err.code, "bad_storage_key");
	snprintf(path, sizeof(path), "%s/../escape", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(kg_storage_local_get(dir, "/etc/passwd", &b, 1 << 20,
					      &err), -1);
	assert_int_equal(err.status, 500);
	/* storage directory missing or not a directory: 503 */
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(kg_storage_local_put(path, "k", "x", 1, &err), -1);
	assert_int_equal(err.status, 503);
	assert_string_equal(err.code, "storage_unavailable");
	snprintf(path, sizeof(path), "%s/big", dir);
	assert_int_equal(kg_storage_local_put(path, "k", "x", 1, &err), -1);
	assert_int_equal(err.status, 503);
	/* a key whose directory part is an existing file: 503, not a crash */
	assert_int_equal(kg_storage_local_put(dir, "big/inner", "x", 1, &err),
			 -1);
	assert_int_equal(err.status, 503);
	kg_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test_setup_teardown(test_local_round_trip, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_local_refusals, make_dir,
						remove_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
