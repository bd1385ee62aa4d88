/*
 * kg_multipart - a streaming multipart/form-data parser (RFC 7578).
 *
 * Input arrives in chunks of any size (as read from FastCGI stdin) and
 * part contents are handed out as they are recognised, so memory use is
 * bounded by the chunk size plus the boundary, plus at most
 * KG_MULTIPART_MAX_HEADERS of one part's header block - whatever the
 * size of the upload.  Anything malformed (no boundary, an oversized
 * header block, a body that ends before the closing boundary) is a 400.
 *
 *   struct kg_multipart mp;
 *   kg_multipart_init(&mp, content_type, &callbacks, arg, &err);
 *   while (read chunk) kg_multipart_feed(&mp, chunk, n);
 *   kg_multipart_finish(&mp);   // -1 if truncated
 *   kg_multipart_free(&mp);
 */
#ifndef KG_MULTIPART_H
#define KG_MULTIPART_H

#include <stddef.h>

#include "kg_buf.h"
#include "kg_err.h"

#define KG_MULTIPART_MAX_HEADERS 8192
#define KG_MULTIPART_MAX_BOUNDARY 70

struct kg_multipart_part {
	char name[128];		/* form field name */
	char filename[256];	/* "" when the part is not a file */
	char content_type[128];
};

struct kg_multipart_cb {
	/* A part starts; return -1 (with err set) to abort. */
	int (*on_part)(void *arg, const struct kg_multipart_part *part,
		       struct kg_err *err);
	/* Bytes of the current part. */
	int (*on_data)(void *arg, const struct kg_multipart_part *part,
		       const char *data, size_t len, struct kg_err *err);
};

struct kg_multipart {
	char delim[KG_MULTIPART_MAX_BOUNDARY + 5];	/* "\r\n--" boundary */
	size_t dlen;
	int state;
	struct kg_buf pending;
	struct kg_multipart_part part;
	const struct kg_multipart_cb *cb;
	void *arg;
	struct kg_err *err;
};

/* Takes the boundary from a Content-Type header value. */
int kg_multipart_init(struct kg_multipart *mp, const char *content_type,
		      const struct kg_multipart_cb *cb, void *arg,
		      struct kg_err *err);
int kg_multipart_feed(struct kg_multipart *mp, const char *data, size_t len);
/* -1 unless the closing boundary was seen. */
int kg_multipart_finish(struct kg_multipart *mp);
void kg_multipart_free(struct kg_multipart *mp);

#endif
