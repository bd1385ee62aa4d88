/*
 * kg_fcgiw - a whole FastCGI answer as records in one buffer, for the
 * answers a program holds in memory before it sends them (every JSON
 * answer).  libfcgi writes its stream in records of at most 8 KB, one
 * write(2) each as its buffer fills, and the web server wakes for each:
 * an 18.7 KB card was three writes, and Apache's mod_proxy_fcgi polled
 * and passed each on by itself.  Here the status line, headers and body
 * go into FCGI_STDOUT records of up to 64 KB, followed by the stream's
 * end and FCGI_END_REQUEST, so that kg_resp sends an answer with one
 * write (the FastCGI specification, sections 3.3 and 5.5).
 *
 *   struct kg_fcgiw w;
 *   kg_fcgiw_init(&w, request_id, head_len + body_len);
 *   kg_fcgiw_add(&w, head, head_len); kg_fcgiw_add(&w, body, body_len);
 *   if (kg_fcgiw_end(&w) == 0) write w.buf.data, w.buf.len
 *   kg_fcgiw_free(&w);
 */
#ifndef KG_FCGIW_H
#define KG_FCGIW_H

#include <stddef.h>

#include "kg_buf.h"

/* content bytes in one record: the largest multiple of 8 a record's
 * 16-bit length holds, so only the last record needs padding */
#define KG_FCGIW_RECORD_MAX 65528

struct kg_fcgiw {
	struct kg_buf buf;	/* the records */
	size_t rec;		/* offset of the open record's header */
	int id;			/* the FastCGI request id */
	int oom;
};

/* `expect`: the bytes that will be added (room for them and the record
 * headers is made at once; more may still be added). */
void kg_fcgiw_init(struct kg_fcgiw *w, int request_id, size_t expect);
/* Append bytes of FCGI_STDOUT (split into records as they fill). */
void kg_fcgiw_add(struct kg_fcgiw *w, const void *data, size_t len);
/* Close the last record, end the stream, add FCGI_END_REQUEST (status
 * 0, FCGI_REQUEST_COMPLETE); 0, or -1 when memory ran out. */
int kg_fcgiw_end(struct kg_fcgiw *w);
void kg_fcgiw_free(struct kg_fcgiw *w);

#endif
