/*
 * kg_buf - a growable byte buffer, always NUL-terminated.
 *
 * The one primitive for building strings and binary blobs of unknown
 * length (HTTP headers, SQL parameter text, XML, zip data), so callers
 * never juggle realloc and lengths by hand.  A zeroed struct is a valid
 * empty buffer; kg_buf_free() releases it.  Appends return -1 only when
 * memory runs out or the buffer would pass KG_BUF_MAX.
 */
#ifndef KG_BUF_H
#define KG_BUF_H

#include <stddef.h>
#include <string.h>

#define KG_BUF_MAX ((size_t)1 << 31)

struct kg_buf {
	char *data;	/* NULL while empty; else len bytes + '\0' */
	size_t len;
	size_t cap;
};

int kg_buf_append(struct kg_buf *b, const void *data, size_t len);
/* kg_buf_append() for hot loops (a cell's text, a JSON token): the copy
 * inline when it fits, the call only when the buffer must grow. */
static inline int
kg_buf_add(struct kg_buf *b, const void *data, size_t len)
{
	if (b->cap - b->len <= len)	/* also while empty: cap 0 */
		return kg_buf_append(b, data, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}
/* Make room for `extra` more bytes (+ the NUL) without changing len, so
 * a hot loop can write into data + len directly and set len after. */
int kg_buf_reserve(struct kg_buf *b, size_t extra);
int kg_buf_puts(struct kg_buf *b, const char *s);
int kg_buf_printf(struct kg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Contents as a C string ("" when empty); valid until the next append. */
const char *kg_buf_str(const struct kg_buf *b);
/* Hand the heap string to the caller (who free()s it); buffer empties. */
char *kg_buf_take(struct kg_buf *b);
/* Append a whole file (at most `max` bytes, else -1 with errno EFBIG). */
int kg_buf_read_file(struct kg_buf *b, const char *path, size_t max);
void kg_buf_reset(struct kg_buf *b);
void kg_buf_free(struct kg_buf *b);

/* write(2) all of data to fd, again after EINTR and short writes; 0, or
 * -1 with errno set. */
int kg_buf_write_all(int fd, const void *data, size_t len);

#endif
