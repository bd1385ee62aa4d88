#include "kg_storage.h"
#include "kg_config.h"

#include <string.h>

const char *
kg_storage_backend(void)
{
	return kg_config_str("storage", "backend");
}

static int
key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
kg_storage_key_valid(const char *key)
{
	size_t len, seg = 0;

	if (!key)
		return 0;
	len = strlen(key);
	if (!len || len > KG_STORAGE_KEY_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = key[i];

		if (c == '/' || c == '\0') {
			/* segment key[seg..i): not empty, not dotted */
			if (i == seg || key[seg] == '.')
				return 0;
			seg = i + 1;
			continue;
		}
		if (!key_char_ok(c))
			return 0;
	}
	return 1;
}

static int
check_key(const char *key, struct kg_err *err)
{
	if (!kg_storage_key_valid(key))
		return kg_err_set(err, 500, "bad_storage_key",
				  "refusing an unsafe storage key");
	return 0;
}

int
kg_storage_put(const char *key, const void *data, size_t len,
	       struct kg_err *err)
{
	if (check_key(key, err) < 0)
		return -1;
	if (!strcmp(kg_storage_backend(), "s3"))
		return kg_storage_s3_put(key, data, len, err);
	return kg_storage_local_put(kg_config_str("storage", "local_dir"), key,
				    data, len, err);
}

int
kg_storage_put_start(struct kg_loop *loop, const char *key, const void *data,
		     size_t len, kg_storage_done_fn done, void *arg,
		     struct kg_storage_put **put, struct kg_err *err)
{
	*put = NULL;
	if (check_key(key, err) < 0)
		return -1;
	if (strcmp(kg_storage_backend(), "s3"))
		return kg_storage_local_put(kg_config_str("storage",
							  "local_dir"),
					    key, data, len, err) < 0 ? -1 : 1;
	*put = kg_storage_s3_put_start(loop, key, data, len, done, arg, err);
	return *put ? 0 : -1;
}

int
kg_storage_get(const char *key, struct kg_buf *out, size_t max,
	       struct kg_err *err)
{
	if (check_key(key, err) < 0)
		return -1;
	if (!strcmp(kg_storage_backend(), "s3"))
		return kg_storage_s3_get(key, out, max, err);
	return kg_storage_local_get(kg_config_str("storage", "local_dir"), key,
				    out, max, err);
}

int
kg_storage_delete(const char *key, struct kg_err *err)
{
	if (check_key(key, err) < 0)
		return -1;
	if (!strcmp(kg_storage_backend(), "s3"))
		return kg_storage_s3_delete(key, err);
	return kg_storage_local_delete(kg_config_str("storage", "local_dir"),
				       key, err);
}
