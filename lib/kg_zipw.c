#include "kg_zipw.h"

#include <stdlib.h>
#include <string.h>

int
kg_zipw_open(struct kg_zipw *z, struct kg_err *err)
{
	zip_error_t ze;

	memset(z, 0, sizeof(*z));
	zip_error_init(&ze);
	z->src = zip_source_buffer_create(NULL, 0, 0, &ze);
	if (z->src)
		z->za = zip_open_from_source(z->src, ZIP_TRUNCATE, &ze);
	if (!z->za) {
		kg_err_set(err, 500, "zip_failed", "cannot start a zip: %s",
			   zip_error_strerror(&ze));
		zip_error_fini(&ze);
		kg_zipw_discard(z);
		return -1;
	}
	zip_error_fini(&ze);
	zip_source_keep(z->src);
	return 0;
}

/*
 * DOS time (what zip headers hold) in UTC.  It starts in 1980, so
 * earlier (unset) times are clamped there.
 */
static void
dos_time(time_t t, zip_uint16_t *dtime, zip_uint16_t *ddate)
{
	struct tm tm;

	if (t < 315532800 || !gmtime_r(&t, &tm) || tm.tm_year > 2107 - 1900) {
		*dtime = 0;
		*ddate = 1 << 5 | 1;	/* 1980-01-01 */
		return;
	}
	*dtime = (zip_uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 |
				tm.tm_sec / 2);
	*ddate = (zip_uint16_t)((tm.tm_year - 80) << 9 |
				(tm.tm_mon + 1) << 5 | tm.tm_mday);
}

int
kg_zipw_add(struct kg_zipw *z, const char *name, struct kg_buf *data,
	    int store, time_t mtime)
{
	zip_uint16_t dtime, ddate;
	size_t len = data->len;
	char *bytes = kg_buf_take(data);
	zip_source_t *src;
	zip_int64_t idx;

	if (!bytes)
		return -1;
	src = zip_source_buffer(z->za, bytes, len, 1);
	if (!src) {
		free(bytes);
		return -1;
	}
	idx = zip_file_add(z->za, name, src, ZIP_FL_ENC_UTF_8);
	if (idx < 0) {
		zip_source_free(src);
		return -1;
	}
	dos_time(mtime, &dtime, &ddate);
	if (zip_set_file_compression(z->za, (zip_uint64_t)idx,
				     store ? ZIP_CM_STORE : ZIP_CM_DEFLATE,
				     0) < 0 ||
	    zip_file_set_dostime(z->za, (zip_uint64_t)idx, dtime, ddate, 0) < 0)
		return -1;
	return 0;
}

static int
read_source(zip_source_t *src, struct kg_buf *out)
{
	char chunk[65536];
	zip_int64_t n;
	int rc = 0;

	if (zip_source_open(src) < 0)
		return -1;
	while ((n = zip_source_read(src, chunk, sizeof(chunk))) > 0)
		if (kg_buf_append(out, chunk, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	zip_source_close(src);
	return rc;
}

int
kg_zipw_close(struct kg_zipw *z, struct kg_buf *out)
{
	struct kg_buf bytes = {0};
	int rc;

	if (zip_close(z->za) < 0)
		return -1;
	z->za = NULL;
	rc = read_source(z->src, &bytes) < 0 ||
			     kg_buf_append(out, bytes.data, bytes.len) < 0
		     ? -1
		     : 0;
	kg_buf_free(&bytes);
	kg_zipw_discard(z);
	return rc;
}

void
kg_zipw_discard(struct kg_zipw *z)
{
	if (z->za)
		zip_discard(z->za);
	if (z->src)
		zip_source_free(z->src);
	z->za = NULL;
	z->src = NULL;
}

const char *
kg_zipw_error(struct kg_zipw *z)
{
	return z->za ? zip_strerror(z->za) : "zip failed";
}
