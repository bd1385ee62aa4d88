#include "kg_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
reserve(struct kg_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra >= KG_BUF_MAX - b->len)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
kg_buf_reserve(struct kg_buf *b, size_t extra)
{
	return reserve(b, extra);
}

int
kg_buf_append(struct kg_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
kg_buf_puts(struct kg_buf *b, const char *s)
{
	return kg_buf_append(b, s, strlen(s));
}

int
kg_buf_printf(struct kg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *
kg_buf_str(const struct kg_buf *b)
{
	return b->data ? b->data : "";
}

char *
kg_buf_take(struct kg_buf *b)
{
	char *s = b->data ? b->data : strdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void
kg_buf_reset(struct kg_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
kg_buf_free(struct kg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
kg_buf_read_file(struct kg_buf *b, const char *path, size_t max)
{
	char chunk[65536];
	size_t n, total = 0;
	FILE *f = fopen(path, "rb");
	int rc = 0;

	if (!f)
		return -1;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		total += n;
		if (total > max) {
			errno = EFBIG;
			rc = -1;
		} else {
			rc = kg_buf_append(b, chunk, n);
		}
	}
	if (rc == 0 && ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

int
kg_buf_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
