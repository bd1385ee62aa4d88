/*
 * kg_resp - what a handler writes (kg_resp.h): the status line and the
 * headers every answer carries, whole JSON answers in one write, the
 * JSON error shape, and streamed answers.
 */
#include "kg_resp.h"
#include "kg_fcgiw.h"
#include "kg_log.h"
#include "kg_route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

void
kg_resp_header(struct kg_req *req, const char *name, const char *value)
{
	/* Header injection guard: a value never spans lines. */
	if (strpbrk(value, "\r\n") || strpbrk(name, "\r\n: "))
		return;
	kg_buf_puts(&req->headers, name);
	kg_buf_append(&req->headers, ": ", 2);
	kg_buf_puts(&req->headers, value);
	kg_buf_append(&req->headers, "\r\n", 2);
}

/* "Status: 200 OK\r\n" without printf-style formatting (every request
 * sends one; the status is three digits, anything else is sent as 500). */
static void
put_status(struct kg_buf *out, int status)
{
	char num[5];

	if (status < 100 || status > 999)
		status = 500;
	num[0] = (char)('0' + status / 100);
	num[1] = (char)('0' + status / 10 % 10);
	num[2] = (char)('0' + status % 10);
	num[3] = ' ';
	num[4] = 0;
	kg_buf_puts(out, "Status: ");
	kg_buf_puts(out, num);
	kg_buf_puts(out, status_text(status));
	kg_buf_puts(out, "\r\n");
}

/* "Content-Length: N\r\n" (an answer held whole in memory) */
static void
put_length(struct kg_buf *out, size_t len)
{
	char num[24];
	size_t i = sizeof(num);

	do {
		num[--i] = (char)('0' + len % 10);
		len /= 10;
	} while (len);
	kg_buf_puts(out, "Content-Length: ");
	kg_buf_append(out, num + i, sizeof(num) - i);
	kg_buf_puts(out, "\r\n");
}

/*
 * The status line and headers into `head` (body_len < 0: length not
 * known, no Content-Length); -1 when the answer cannot start (already
 * started, or the bug below).
 */
static int
resp_head(struct kg_req *req, int status, const char *content_type,
	  long long body_len, struct kg_buf *head)
{
	if (req->status)
		return -1;
	if (status < 400 && req->route &&
	    (req->route->flags & KG_ROUTE_AUTH_INLINE) && !req->user.role[0]) {
		/* a bug: the handler answered without re-reading the user */
		KG_ERROR("%s %s answered before its user was re-read",
			 req->method, req->path);
		kg_req_fail(req, 500, "internal", "internal error");
		return -1;
	}
	req->status = status;
	put_status(head, status);
	kg_buf_puts(head, "Content-Type: ");
	kg_buf_puts(head, content_type);
	kg_buf_puts(head, "\r\nX-Content-Type-Options: nosniff\r\n"
		    "X-Request-Id: ");
	kg_buf_puts(head, req->request_id);
	kg_buf_puts(head, "\r\n");
	if (!strstr(kg_buf_str(&req->headers), "Cache-Control:"))
		kg_buf_puts(head, "Cache-Control: no-store\r\n");
	if (body_len >= 0)
		put_length(head, (size_t)body_len);
	kg_buf_append(head, kg_buf_str(&req->headers), req->headers.len);
	kg_buf_puts(head, "\r\n");
	return 0;
}

int
kg_resp_start(struct kg_req *req, int status, const char *content_type)
{
	struct kg_buf head = {0};
	int rc = resp_head(req, status, content_type, -1, &head);

	if (rc == 0)
		FCGX_PutStr(kg_buf_str(&head), (int)head.len, req->fcgi.out);
	kg_buf_free(&head);
	return rc;
}

/*
 * A whole answer in one write (kg_fcgiw.h): FastCGI only (plain CGI has
 * no records), and only while libfcgi's stream is untouched.  Then the
 * stream is marked closed, so that FCGX_Finish_r writes nothing more:
 * it ends the stdout stream and sends FCGI_END_REQUEST when it closes
 * the last open writer, stdout, which we did here; stderr, never
 * written, adds nothing.  A failed write closes the connection (the
 * stream's error, as libfcgi's own write would set it).
 */
static int
send_whole(struct kg_req *req, const struct kg_buf *head, const char *body,
	   size_t len)
{
	FCGX_Stream *out = req->fcgi.out;
	struct kg_fcgiw w;
	int rc = -1;

	kg_fcgiw_init(&w, req->fcgi.requestId, head->len + len);
	kg_fcgiw_add(&w, head->data, head->len);
	kg_fcgiw_add(&w, body, len);
	if (kg_fcgiw_end(&w) < 0)
		goto out;
	rc = kg_buf_write_all(req->fcgi.ipcFd, w.buf.data, w.buf.len);
	out->FCGI_errno = rc < 0 ? errno : 0;
	out->wasFCloseCalled = 1;
	out->isClosed = 1;
out:
	kg_fcgiw_free(&w);
	return rc;
}

int
kg_resp_write(struct kg_req *req, const void *data, size_t len)
{
	while (len > 0) {
		int chunk = len > 1 << 20 ? 1 << 20 : (int)len;

		if (FCGX_PutStr(data, chunk, req->fcgi.out) != chunk)
			return -1;
		data = (const char *)data + chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

int
kg_resp_flush(struct kg_req *req)
{
	return FCGX_FFlush(req->fcgi.out);
}

int
kg_resp_json(struct kg_req *req, int status, cJSON *body)
{
	char *text;
	int rc;

	if (!body)
		body = cJSON_CreateObject();
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text) {
		kg_req_fail(req, 500, "internal", "out of memory");
		return -1;
	}
	rc = kg_resp_json_text(req, status, text, strlen(text));
	free(text);
	return rc;
}

int
kg_resp_json_text(struct kg_req *req, int status, const char *json,
		  size_t len)
{
	struct kg_buf head = {0};
	int rc;

	kg_buf_reserve(&head, 256);	/* the head at once (appends check) */
	rc = resp_head(req, status, "application/json; charset=utf-8",
		       (long long)len, &head);
	if (rc < 0)
		goto out;
	/* FastCGI (plain CGI has no records); the stream is untouched, as
	 * every answer starts with the head (req->status was 0) */
	if (!kg_req_is_cgi(req) && !req->fcgi.out->isClosed)
		rc = send_whole(req, &head, json, len);
	else if (FCGX_PutStr(kg_buf_str(&head), (int)head.len,
			     req->fcgi.out) != (int)head.len)
		rc = -1;
	else
		rc = kg_resp_write(req, json, len);
out:
	kg_buf_free(&head);
	return rc;
}

int
kg_resp_error(struct kg_req *req, const struct kg_err *err)
{
	cJSON *o = cJSON_CreateObject();
	int status = err->status ? err->status : 500;

	cJSON_AddStringToObject(o, "error",
				err->code[0] ? err->code : "internal");
	cJSON_AddStringToObject(o, "message", err->message[0]
					      ? err->message
					      : status_text(status));
	cJSON_AddStringToObject(o, "request_id", req->request_id);
	return kg_resp_json(req, status, o);
}

