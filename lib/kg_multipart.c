#define _GNU_SOURCE	/* memmem, strcasestr */
#include "kg_multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { S_PREAMBLE, S_AFTER_DELIM, S_HEADERS, S_BODY, S_DONE, S_FAILED };

static int
fail(struct kg_multipart *mp, const char *msg)
{
	mp->state = S_FAILED;
	return kg_err_set(mp->err, 400, "bad_multipart", "%s", msg);
}

/* The boundary parameter, quoted or not (RFC 2046: 1-70 chars). */
static int
find_boundary(const char *ct, char *out, size_t *len)
{
	const char *p;
	size_t n = 0;

	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return -1;
	p = strcasestr(ct, "boundary=");
	if (!p)
		return -1;
	p += 9;
	if (*p == '"') {
		p++;
		while (p[n] && p[n] != '"')
			n++;
	} else {
		while (p[n] && p[n] != ';' && !isspace((unsigned char)p[n]))
			n++;
	}
	if (n == 0 || n > KG_MULTIPART_MAX_BOUNDARY)
		return -1;
	memcpy(out, p, n);
	*len = n;
	return 0;
}

int
kg_multipart_init(struct kg_multipart *mp, const char *content_type,
		  const struct kg_multipart_cb *cb, void *arg,
		  struct kg_err *err)
{
	size_t n;

	memset(mp, 0, sizeof(*mp));
	mp->cb = cb;
	mp->arg = arg;
	mp->err = err;
	memcpy(mp->delim, "\r\n--", 4);
	if (find_boundary(content_type, mp->delim + 4, &n) < 0)
		return fail(mp, "multipart/form-data without a valid boundary");
	mp->dlen = n + 4;
	mp->state = S_PREAMBLE;
	/* The first boundary has no CRLF before it; pretending it has one
	 * lets every boundary be found with the same delimiter. */
	return kg_buf_append(&mp->pending, "\r\n", 2);
}

/* Value of a Content-Disposition parameter (`name="..."`), unquoted. */
static void
disposition_param(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), n = 0;
	const char *p = line;

	out[0] = '\0';
	while ((p = strcasestr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ' || p[-1] == ';') &&
		    p[klen] == '=')
			break;
		p += klen;
	}
	if (!p)
		return;
	p += klen + 1;
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < size; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
	} else {
		while (*p && *p != ';' && *p != '\r' && n + 1 < size)
			out[n++] = *p++;
	}
	out[n] = '\0';
}

static void
parse_headers(struct kg_multipart *mp, const char *block)
{
	const char *line = block;

	memset(&mp->part, 0, sizeof(mp->part));
	while (*line) {
		size_t len = strcspn(line, "\r\n");
		char copy[KG_MULTIPART_MAX_HEADERS];

		snprintf(copy, sizeof(copy), "%.*s", (int)len, line);
		if (!strncasecmp(copy, "Content-Disposition:", 20)) {
			disposition_param(copy + 20, "name", mp->part.name,
					  sizeof(mp->part.name));
			disposition_param(copy + 20, "filename",
					  mp->part.filename,
					  sizeof(mp->part.filename));
		} else if (!strncasecmp(copy, "Content-Type:", 13)) {
			const char *v = copy + 13;

			while (*v == ' ')
				v++;
			size_t n = strlen(v);

			if (n >= sizeof(mp->part.content_type))
				n = sizeof(mp->part.content_type) - 1;
			memcpy(mp->part.content_type, v, n);
			mp->part.content_type[n] = '\0';
		}
		line += len;
		while (*line == '\r' || *line == '\n')
			line++;
	}
}

static int
emit(struct kg_multipart *mp, const char *data, size_t len)
{
	if (!len || !mp->cb->on_data)
		return 0;
	if (mp->cb->on_data(mp->arg, &mp->part, data, len, mp->err) < 0) {
		mp->state = S_FAILED;
		return -1;
	}
	return 0;
}

/*
 * Consumes what it can from data[0..len) in the current state and
 * returns the number of bytes used; 0 means "need more input".
 */
static long
step(struct kg_multipart *mp, const char *data, size_t len)
{
	const char *hit;
	size_t keep;

	switch (mp->state) {
	case S_PREAMBLE:
	case S_BODY:
		hit = memmem(data, len, mp->delim, mp->dlen);
		if (hit) {
			if (mp->state == S_BODY &&
			    emit(mp, data, (size_t)(hit - data)) < 0)
				return -1;
			mp->state = S_AFTER_DELIM;
			return (long)(hit - data + (long)mp->dlen);
		}
		/* Keep a tail that could be the start of a delimiter. */
		keep = len < mp->dlen - 1 ? len : mp->dlen - 1;
		if (mp->state == S_BODY && emit(mp, data, len - keep) < 0)
			return -1;
		return (long)(len - keep);
	case S_AFTER_DELIM:
		if (len < 2)
			return 0;
		if (!memcmp(data, "--", 2)) {
			mp->state = S_DONE;
			return (long)len;
		}
		if (memcmp(data, "\r\n", 2) != 0)
			return fail(mp, "malformed multipart boundary line");
		mp->state = S_HEADERS;
		return 2;
	case S_HEADERS:
		hit = memmem(data, len, "\r\n\r\n", 4);
		if (!hit && len > KG_MULTIPART_MAX_HEADERS)
			return fail(mp, "multipart part headers too large");
		if (!hit)
			return 0;
		if (hit - data >= KG_MULTIPART_MAX_HEADERS)
			return fail(mp, "multipart part headers too large");
		{
			char block[KG_MULTIPART_MAX_HEADERS + 1];

			memcpy(block, data, (size_t)(hit - data));
			block[hit - data] = '\0';
			parse_headers(mp, block);
		}
		if (mp->cb->on_part &&
		    mp->cb->on_part(mp->arg, &mp->part, mp->err) < 0) {
			mp->state = S_FAILED;
			return -1;
		}
		mp->state = S_BODY;
		return (long)(hit - data + 4);
	case S_DONE:
		return (long)len;	/* epilogue is ignored */
	default:
		return -1;
	}
}

int
kg_multipart_feed(struct kg_multipart *mp, const char *data, size_t len)
{
	size_t off = 0;
	long used;

	if (mp->state == S_FAILED)
		return -1;
	if (kg_buf_append(&mp->pending, data, len) < 0)
		return kg_err_set(mp->err, 500, "internal", "out of memory");
	while (off < mp->pending.len) {
		used = step(mp, mp->pending.data + off, mp->pending.len - off);
		if (used < 0)
			return -1;
		if (used == 0)
			break;
		off += (size_t)used;
	}
	memmove(mp->pending.data, mp->pending.data + off,
		mp->pending.len - off);
	mp->pending.len -= off;
	mp->pending.data[mp->pending.len] = '\0';
	return 0;
}

int
kg_multipart_finish(struct kg_multipart *mp)
{
	if (mp->state == S_FAILED)
		return -1;
	if (mp->state != S_DONE)
		return fail(mp, "multipart body ends before its closing "
				"boundary (upload interrupted?)");
	return 0;
}

void
kg_multipart_free(struct kg_multipart *mp)
{
	kg_buf_free(&mp->pending);
}
