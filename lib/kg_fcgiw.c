#include "kg_fcgiw.h"

#include <string.h>

#include <fastcgi.h>

#define HEADER_LEN 8

static void
put_header(unsigned char *h, int type, int id, size_t len, size_t pad)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = (unsigned char)pad;
	h[7] = 0;
}

static void
open_record(struct kg_fcgiw *w)
{
	static const unsigned char zero[HEADER_LEN];

	w->rec = w->buf.len;
	if (kg_buf_append(&w->buf, zero, HEADER_LEN) < 0)
		w->oom = 1;
}

/* Fill in the open record's header and pad its content to 8 bytes. */
static void
close_record(struct kg_fcgiw *w)
{
	static const unsigned char zero[HEADER_LEN];
	size_t len = w->buf.len - w->rec - HEADER_LEN;
	size_t pad = (HEADER_LEN - len % HEADER_LEN) % HEADER_LEN;

	put_header((unsigned char *)w->buf.data + w->rec, FCGI_STDOUT, w->id,
		   len, pad);
	if (pad && kg_buf_append(&w->buf, zero, pad) < 0)
		w->oom = 1;
}

void
kg_fcgiw_init(struct kg_fcgiw *w, int request_id, size_t expect)
{
	memset(w, 0, sizeof(*w));
	w->id = request_id;
	/* each record's header and padding, the stream's end, the end record */
	if (kg_buf_reserve(&w->buf, expect + (expect / KG_FCGIW_RECORD_MAX + 1) *
				       2 * HEADER_LEN + 3 * HEADER_LEN) < 0)
		w->oom = 1;
	open_record(w);
}

void
kg_fcgiw_add(struct kg_fcgiw *w, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0 && !w->oom) {
		size_t room = KG_FCGIW_RECORD_MAX -
			      (w->buf.len - w->rec - HEADER_LEN);
		size_t n = len < room ? len : room;

		if (n == 0) {
			close_record(w);
			open_record(w);
			continue;
		}
		if (kg_buf_append(&w->buf, p, n) < 0)
			w->oom = 1;
		p += n;
		len -= n;
	}
}

int
kg_fcgiw_end(struct kg_fcgiw *w)
{
	unsigned char tail[3 * HEADER_LEN] = {0};

	if (w->oom)
		return -1;
	if (w->buf.len - w->rec > HEADER_LEN)
		close_record(w);
	else
		w->buf.len = w->rec;	/* no empty record before the end */
	/* the stream's end: an empty FCGI_STDOUT record */
	put_header(tail, FCGI_STDOUT, w->id, 0, 0);
	/* FCGI_END_REQUEST: appStatus 0, protocolStatus 0 (complete) */
	put_header(tail + HEADER_LEN, FCGI_END_REQUEST, w->id,
		   sizeof(FCGI_EndRequestBody), 0);
	if (kg_buf_append(&w->buf, tail, sizeof(tail)) < 0)
		w->oom = 1;
	return w->oom ? -1 : 0;
}

void
kg_fcgiw_free(struct kg_fcgiw *w)
{
	kg_buf_free(&w->buf);
}
