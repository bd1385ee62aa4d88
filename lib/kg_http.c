#include "kg_http.h"
#include "kg_auth.h"
#include "kg_cgi.h"
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_fcgiw.h"
#include "kg_hash.h"
#include "kg_log.h"
#include "kg_net.h"
#include "kg_redis.h"

#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

extern char **environ;

struct kg_alloc {
	struct kg_alloc *next;
	max_align_t data[];
};

static volatile sig_atomic_t app_stopping;
static int app_threaded;	/* request threads (struct kg_app.threads) */
static pthread_mutex_t app_mutex = PTHREAD_MUTEX_INITIALIZER;

void
kg_app_lock(void)
{
	pthread_mutex_lock(&app_mutex);
}

void
kg_app_unlock(void)
{
	pthread_mutex_unlock(&app_mutex);
}

int
kg_app_stopping(void)
{
	return app_stopping;
}

static void
on_stop_signal(int sig)
{
	(void)sig;
	app_stopping = 1;
	FCGX_ShutdownPending();
}

/*
 * No SA_RESTART: the signal must interrupt accept(2) so that, together
 * with FCGI_FAIL_ACCEPT_ON_INTR, FCGX_Accept_r returns and the loop
 * ends.  A request being served is finished first.
 */
static void
install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* ---- small helpers --------------------------------------------------- */

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

void *
kg_req_alloc(struct kg_req *req, size_t size)
{
	struct kg_alloc *a = malloc(sizeof(*a) + size);

	if (!a)
		return NULL;
	a->next = req->allocs;
	req->allocs = a;
	return a->data;
}

char *
kg_req_strdup(struct kg_req *req, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = kg_req_alloc(req, n);

	return p ? memcpy(p, s, n) : NULL;
}

const char *
kg_req_env(struct kg_req *req, const char *name)
{
	return FCGX_GetParam(name, req->fcgi.envp);
}

const char *
kg_req_client_addr(struct kg_req *req)
{
	char *addr = kg_req_alloc(req, KG_NET_ADDR_MAX);

	if (!addr)
		return "-";
	kg_net_client_addr(kg_req_env(req, "REMOTE_ADDR"),
			   kg_req_env(req, "HTTP_X_FORWARDED_FOR"),
			   kg_config_str("http", "trusted_proxies"), addr);
	return addr;
}

int
kg_fail(struct kg_req *req, int status, const char *code, const char *fmt,
	...)
{
	va_list ap;

	req->err.status = status;
	snprintf(req->err.code, sizeof(req->err.code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(req->err.message, sizeof(req->err.message), fmt, ap);
	va_end(ap);
	return -1;
}

/* An incoming X-Request-Id is reused only if it is short and plain, so
 * it cannot smuggle anything into our logs or headers. */
static void
set_request_id(struct kg_req *req)
{
	const char *in = kg_req_env(req, "HTTP_X_REQUEST_ID");
	size_t n = in ? strlen(in) : 0;
	int ok = n >= 8 && n < sizeof(req->request_id);

	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)in[i]) || in[i] == '-';
	if (ok)
		memcpy(req->request_id, in, n + 1);
	else if (kg_hash_random_hex(req->request_id, 8) < 0)
		snprintf(req->request_id, sizeof(req->request_id), "%016d", 0);
	kg_log_set_request_id(req->request_id);
}

/* ---- query string ------------------------------------------------------ */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Decodes %XX and '+' into `out` (at least len+1 bytes); -1 if a %
 * escape is malformed or decodes to NUL. */
static int
url_decode(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	out[o] = '\0';
	return 0;
}

const char *
kg_req_query(struct kg_req *req, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	while (p && *p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);

		if (eq && (size_t)(eq - p) == nlen && !strncmp(p, name, nlen)) {
			size_t vlen = len - nlen - 1;
			char *out = kg_req_alloc(req, vlen + 1);

			if (!out || url_decode(eq + 1, vlen, out) < 0)
				return NULL;
			return out;
		}
		p += len + (p[len] == '&');
	}
	return NULL;
}

int
kg_req_query_int(struct kg_req *req, const char *name, long long def,
		 long long min, long long max, long long *out)
{
	const char *s = kg_req_query(req, name);
	char *end;

	*out = def;
	if (!s)
		return 0;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || end == s || *end || *out < min || *out > max)
		return kg_fail(req, 400, "bad_request",
			       "parameter %s must be an integer %lld..%lld",
			       name, min, max);
	return 0;
}

/* ---- routing --------------------------------------------------------- */

static int
fits_type(const char *type, size_t tlen, const char *s, size_t n)
{
	if (tlen == 4 && !strncmp(type, "uuid", 4))
		return kg_is_uuid(s, n);
	if (tlen == 3 && !strncmp(type, "int", 3)) {
		if (n < 1 || n > 18)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	if (tlen == 3 && !strncmp(type, "key", 3)) {
		if (n < 1 || n > 64)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!islower((unsigned char)s[i]) &&
			    !isdigit((unsigned char)s[i]) && s[i] != '_')
				return 0;
		return 1;
	}
	return 0;
}

/*
 * Matches `path` against `pattern` segment by segment.  On success the
 * parameters are recorded in req (names point into the pattern, values
 * are request-owned copies).  Returns 1 on match.
 */
static int
match_route(struct kg_req *req, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;

	req->nparams = 0;
	while (*p && *s) {
		size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");

		if (*p == '{') {
			const char *colon = memchr(p, ':', plen);
			size_t nlen = (size_t)(colon - p) - 1;
			char *name, *value;

			if (req->nparams == KG_MAX_PARAMS ||
			    !fits_type(colon + 1, plen - nlen - 3, s, slen))
				return 0;
			name = kg_req_alloc(req, nlen + 1);
			value = kg_req_alloc(req, slen + 1);
			if (!name || !value)
				return 0;
			memcpy(name, p + 1, nlen);
			name[nlen] = '\0';
			memcpy(value, s, slen);
			value[slen] = '\0';
			req->param_names[req->nparams] = name;
			req->param_values[req->nparams++] = value;
		} else if (plen != slen || strncmp(p, s, plen)) {
			return 0;
		}
		p += plen;
		s += slen;
		if (*p != *s)
			return 0;
		if (*p)
			p++, s++;
	}
	return !*p && !*s;
}

const char *
kg_req_param(struct kg_req *req, const char *name)
{
	for (int i = 0; i < req->nparams; i++)
		if (!strcmp(req->param_names[i], name))
			return req->param_values[i];
	return NULL;
}

/* Finds the route for method+path; on a path match with another method
 * fills `allow` for the 405 answer. */
static const struct kg_route *
find_route(struct kg_req *req, const struct kg_route *routes,
	   struct kg_buf *allow)
{
	for (const struct kg_route *r = routes; r->method; r++) {
		if (!match_route(req, r->pattern, req->path))
			continue;
		if (!strcmp(r->method, req->method))
			return r;
		if (!strstr(kg_buf_str(allow), r->method))
			kg_buf_printf(allow, "%s%s", allow->len ? ", " : "",
				      r->method);
	}
	return NULL;
}

static void
check_routes(const struct kg_app *app)
{
	for (const struct kg_route *r = app->routes; r->method; r++) {
		for (const char *p = strchr(r->pattern, '{'); p;
		     p = strchr(p + 1, '{')) {
			const char *colon = strchr(p, ':');
			const char *close = strchr(p, '}');
			size_t tlen = colon && close ? (size_t)(close - colon) - 1
						     : 0;

			if (!colon || !close || colon > close ||
			    !((tlen == 4 && !strncmp(colon + 1, "uuid", 4)) ||
			      (tlen == 3 && !strncmp(colon + 1, "int", 3)) ||
			      (tlen == 3 && !strncmp(colon + 1, "key", 3)))) {
				KG_ERROR("bad route pattern %s", r->pattern);
				abort();
			}
		}
	}
}

/* ---- body ------------------------------------------------------------ */

static long long
declared_length(struct kg_req *req)
{
	const char *cl = kg_req_env(req, "CONTENT_LENGTH");
	char *end;
	long long n;

	if (!cl || !*cl)
		return -1;
	errno = 0;
	n = strtoll(cl, &end, 10);
	return (errno || *end || n < 0) ? -2 : n;
}

/*
 * Reads the body up to the configured limit.  The declared length is
 * checked first (cheap early 413), but the bytes actually received are
 * counted too: the limit must hold even if a proxy sends no length.
 */
const char *
kg_req_body(struct kg_req *req, size_t *len)
{
	long long max = kg_config_int("http", "max_body");
	long long declared = declared_length(req);
	struct kg_buf b = {0};
	char chunk[16384];
	int n;

	if (req->body_read)
		goto done;
	if (declared == -2)
		return kg_fail(req, 400, "bad_request", "bad Content-Length"),
		       NULL;
	if (declared > max)
		goto too_large;
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), req->fcgi.in)) > 0) {
		if ((long long)(b.len + (size_t)n) > max)
			goto too_large;
		if (kg_buf_append(&b, chunk, (size_t)n) < 0) {
			kg_buf_free(&b);
			return kg_fail(req, 500, "internal", "out of memory"),
			       NULL;
		}
	}
	req->body_len = b.len;
	req->body = kg_req_alloc(req, b.len + 1);
	if (!req->body) {
		kg_buf_free(&b);
		return kg_fail(req, 500, "internal", "out of memory"), NULL;
	}
	memcpy(req->body, kg_buf_str(&b), b.len + 1);
	kg_buf_free(&b);
	req->body_read = 1;
done:
	if (len)
		*len = req->body_len;
	return req->body;
too_large:
	kg_buf_free(&b);
	kg_fail(req, 413, "payload_too_large",
		"request body exceeds the limit of %lld bytes", max);
	return NULL;
}

int
kg_req_body_each(struct kg_req *req,
		 int (*fn)(void *arg, const char *data, size_t len,
			   struct kg_err *err),
		 void *arg)
{
	long long max = kg_config_int("http", "max_body");
	long long declared = declared_length(req), total = 0;
	char chunk[16384];
	int n;

	if (req->body_read)
		return kg_fail(req, 500, "internal", "body already read");
	req->body_read = 1;
	if (declared == -2)
		return kg_fail(req, 400, "bad_request", "bad Content-Length");
	if (declared > max)
		goto too_large;
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), req->fcgi.in)) > 0) {
		total += n;
		if (total > max)
			goto too_large;
		if (fn(arg, chunk, (size_t)n, &req->err) < 0)
			return -1;
	}
	return 0;
too_large:
	req->body_read = 0;	/* let request_end drain the rest */
	return kg_fail(req, 413, "payload_too_large",
		       "request body exceeds the limit of %lld bytes", max);
}

int
kg_req_is_type(struct kg_req *req, const char *type)
{
	const char *ct = kg_req_env(req, "CONTENT_TYPE");
	size_t n = strlen(type);

	return ct && !strncasecmp(ct, type, n) &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

cJSON *
kg_req_json(struct kg_req *req)
{
	const char *body;
	size_t len;

	if (req->json)
		return req->json;
	if (!kg_req_is_type(req, "application/json"))
		return kg_fail(req, 415, "unsupported_media_type",
			       "expected Content-Type: application/json"),
		       NULL;
	body = kg_req_body(req, &len);
	if (!body)
		return NULL;
	req->json = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(req->json)) {
		cJSON_Delete(req->json);
		req->json = NULL;
		return kg_fail(req, 400, "bad_request",
			       "request body is not a JSON object"),
		       NULL;
	}
	return req->json;
}

/* ---- responses -------------------------------------------------------- */

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
		kg_fail(req, 500, "internal", "internal error");
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

/* A plain CGI request (kg_cgi.c has no listening socket). */
static int
req_is_cgi(const struct kg_req *req)
{
	return req->fcgi.listen_sock < 0;
}

/* Under CGI stdin and stdout may be one socket (mod_cgid) that turns
 * readable once the request body is through: only a hang-up counts. */
int
kg_req_watch_fd(struct kg_req *req, short *events)
{
	*events = req_is_cgi(req) ? 0 : POLLIN;
	return req->fcgi.ipcFd;
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
		kg_fail(req, 500, "internal", "out of memory");
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
	if (!req_is_cgi(req) && !req->fcgi.out->isClosed)
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

/* ---- the loop -------------------------------------------------------- */

/* Authentication reads the user through the process's one database
 * connection, which request threads share. */
static int
authenticate(struct kg_req *req)
{
	int rc;

	if (app_threaded)
		kg_app_lock();
	rc = kg_auth_request(req, req->route->flags, &req->user,
			     &req->session, &req->err);
	req->auth_expires = req->session.expires;
	if (app_threaded)
		kg_app_unlock();
	return rc;
}

static void
dispatch(const struct kg_app *app, struct kg_req *req)
{
	struct kg_buf allow = {0};
	long long declared = declared_length(req);

	if (declared > kg_config_int("http", "max_body")) {
		kg_req_body(req, NULL);	/* fills the 413 */
		goto out;
	}
	req->route = find_route(req, app->routes, &allow);
	if (!req->route && allow.len) {
		kg_resp_header(req, "Allow", kg_buf_str(&allow));
		kg_fail(req, 405, "method_not_allowed",
			"method %s not allowed here", req->method);
	} else if (!req->route) {
		kg_fail(req, 404, "not_found", "no such resource");
	} else if ((req->route->flags & KG_ROUTE_AUTH) &&
		   authenticate(req) < 0) {
		/* req->err holds the 401 */
	} else if (kg_req_check(req) < 0) {
		/* req->err holds the 4xx of the body or version */
	} else if (req->route->handler(req) == 0 && !req->status) {
		kg_fail(req, 500, "internal", "handler sent no response");
	} else if (req->route->flags & KG_ROUTE_AUTH_INLINE) {
		kg_auth_challenge(req, &req->err);	/* its session ended */
	}
out:
	kg_buf_free(&allow);
	if (!req->status)
		kg_resp_error(req, &req->err);
}

/* One character of base at uri (as is or %XX-encoded): its length, or 0. */
static size_t
base_char(const char *uri, size_t n, char c)
{
	unsigned v;

	if (n && *uri == c)
		return 1;
	if (n >= 3 && uri[0] == '%' && isxdigit((unsigned char)uri[1]) &&
	    isxdigit((unsigned char)uri[2]) &&
	    sscanf(uri + 1, "%2x", &v) == 1 && v == (unsigned char)c)
		return 3;
	return 0;
}

/*
 * A shared-hosting site in a subdirectory (README "Shared hosting"): its
 * .htaccess passes the directory's URL path, decoded, as KARTOGRAF_BASE
 * (REDIRECT_KARTOGRAF_BASE after mod_rewrite's internal redirect), and routes
 * are matched on what follows it.  Returns how much of uri (n bytes) is that
 * base, ending at a '/'; 0 without one (every other server).
 */
static size_t
base_len(struct kg_req *req, const char *uri, size_t n)
{
	const char *b = kg_req_env(req, "KARTOGRAF_BASE");
	size_t i = 0, blen, k, step;

	if (!b || !*b)
		b = kg_req_env(req, "REDIRECT_KARTOGRAF_BASE");
	if (!b || *b != '/')
		return 0;
	for (blen = strlen(b); blen && b[blen - 1] == '/'; blen--)
		;
	for (k = 0; k < blen; k++, i += step)
		if (!(step = base_char(uri + i, n - i, b[k])))
			return 0;
	return i < n && uri[i] == '/' ? i : 0;
}

static void
request_begin(struct kg_req *req)
{
	const char *uri = kg_req_env(req, "REQUEST_URI");
	const char *q;

	req->method = kg_req_env(req, "REQUEST_METHOD");
	if (!req->method)
		req->method = "GET";
	if (!uri)
		uri = "/";
	q = strchr(uri, '?');
	uri += base_len(req, uri, q ? (size_t)(q - uri) : strlen(uri));
	req->path = kg_req_alloc(req, (q ? (size_t)(q - uri) : strlen(uri)) + 1);
	if (req->path) {
		size_t n = q ? (size_t)(q - uri) : strlen(uri);

		memcpy(req->path, uri, n);
		req->path[n] = '\0';
	}
	req->query = q ? q + 1 : "";
	set_request_id(req);
}

/*
 * Frees everything the request owned and drains an unread body: the web
 * server is still sending it, and closing on it mid-way makes some
 * servers report a backend error instead of our answer.
 */
static void
request_end(struct kg_req *req, int64_t t0_us)
{
	char sink[16384];

	/* The query string is never logged: it may carry ?token=. */
	KG_INFO("%s %s %d %.1fms", req->method, req->path ? req->path : "?",
		req->status, kg_clock_ms_since(t0_us));
	if (!req->body_read)
		while (FCGX_GetStr(sink, sizeof(sink), req->fcgi.in) > 0)
			;
	cJSON_Delete(req->json);
	kg_buf_free(&req->headers);
	while (req->allocs) {
		struct kg_alloc *next = req->allocs->next;

		free(req->allocs);
		req->allocs = next;
	}
	kg_log_set_request_id(NULL);
}

static void
reset_request(struct kg_req *req)
{
	FCGX_Request keep = req->fcgi;

	memset(req, 0, sizeof(*req));
	req->fcgi = keep;
}

/* One request, start to finish, whatever brought it (FastCGI or CGI). */
static void
handle(const struct kg_app *app, struct kg_req *req)
{
	int64_t t0;

	reset_request(req);
	t0 = kg_clock_us();
	request_begin(req);
	dispatch(app, req);
	request_end(req, t0);
}

/*
 * One accepted FastCGI request.  libfcgi closes the connection with a
 * "lingering close" (shutdown, then wait up to 2 s until the web server
 * has closed its end), so that data still coming from the web server
 * cannot turn the close into a reset that loses the answer.  Once the
 * whole request, FCGI_STDIN up to its end, has been read (request_end
 * drains what the handler left) nothing more is coming, and waiting for
 * the web server's close only keeps this process from its next request:
 * then the connection is closed at once (FCGX_Detach: close without the
 * shutdown).  A request whose input was not read to the end keeps the
 * lingering close.
 */
static void
serve(const struct kg_app *app, struct kg_req *req)
{
	handle(app, req);
	if (req->fcgi.in && FCGX_HasSeenEOF(req->fcgi.in) == EOF)
		FCGX_Detach(&req->fcgi);
	FCGX_Finish_r(&req->fcgi);
}

/* ---- request threads (struct kg_app.threads) ------------------------- */

#define THREAD_STACK ((size_t)1 << 20)

struct req_thread {
	pthread_t tid;
	const struct kg_app *app;
	atomic_int done;
};

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * The libfcgi threading model: every thread has its own FCGX_Request
 * and accepts on the shared listening socket.  An accept error that is
 * not a stop request (EMFILE under load, say) must not end the thread,
 * or the process would silently lose capacity: wait a little, retry.
 */
static void *
request_thread(void *arg)
{
	struct req_thread *t = arg;
	struct kg_req *req = calloc(1, sizeof(*req));

	if (req) {
		FCGX_InitRequest(&req->fcgi, 0, FCGI_FAIL_ACCEPT_ON_INTR);
		while (!app_stopping) {
			if (FCGX_Accept_r(&req->fcgi) < 0) {
				if (!app_stopping) {
					KG_WARN("accept failed, retrying");
					nap_ms(100);
				}
				continue;
			}
			serve(t->app, req);
		}
		FCGX_Free(&req->fcgi, 1);
		free(req);
	}
	atomic_store(&t->done, 1);
	return NULL;
}

/*
 * SIGTERM reaches one thread of the process; the others sit in
 * accept(2) or poll(2) and would never notice.  So once the flag is set
 * every thread still running gets the signal itself (its EINTR ends the
 * wait), again and again until it is gone: a thread that was between
 * checking the flag and entering accept() misses the first one.
 */
static void
run_threads(const struct kg_app *app, int n)
{
	struct req_thread *t = calloc((size_t)n, sizeof(*t));
	pthread_attr_t attr;
	int started = 0, alive;

	if (!t) {
		KG_ERROR("out of memory for %d threads", n);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (; started < n; started++) {
		t[started].app = app;
		if (pthread_create(&t[started].tid, &attr, request_thread,
				   &t[started]) != 0) {
			KG_ERROR("could only start %d of %d threads", started,
				 n);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	KG_INFO("ready (config %s, %d threads)", kg_config_path(), started);
	while (!app_stopping && started > 0)
		nap_ms(100);
	do {
		alive = 0;
		for (int i = 0; i < started; i++) {
			if (atomic_load(&t[i].done))
				continue;
			alive++;
			pthread_kill(t[i].tid, SIGTERM);
		}
		if (alive)
			nap_ms(50);
	} while (alive);
	for (int i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	free(t);
}

/* A malformed CONTENT_LENGTH reads nothing: dispatch answers it 400. */
static long long
cgi_body_length(struct kg_req *req)
{
	long long n = declared_length(req);

	return n == -2 ? 0 : n;
}

/*
 * Plain CGI: one request from the environment and stdin, the answer on
 * stdout, then the process ends (kg_cgi).  A program that cannot start
 * (bad configuration, database down) still answers in JSON: the web
 * server would otherwise turn the empty output into its own HTML 500.
 * The reason goes to the log (the server's error log), not the client.
 */
static int
run_cgi(const struct kg_app *app, int started)
{
	struct kg_req req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.fcgi.envp = environ;
	if (kg_cgi_begin(&req.fcgi, cgi_body_length(&req)) < 0) {
		KG_ERROR("out of memory");
		return 1;
	}
	if (started) {
		app_threaded = app->threads != NULL;
		handle(app, &req);
	} else {
		int64_t t0 = kg_clock_us();

		request_begin(&req);
		kg_fail(&req, 503, "unavailable",
			"the service cannot start, see the server's error log");
		kg_resp_error(&req, &req.err);
		request_end(&req, t0);
	}
	rc = kg_cgi_finish(&req.fcgi);
	return started && rc == 0 ? 0 : 1;
}

static void
run_fastcgi(const struct kg_app *app)
{
	struct kg_req req;
	int threads = app->threads ? app->threads() : 0;

	if (threads > 0) {
		app_threaded = 1;
		run_threads(app, threads);
	} else {
		memset(&req, 0, sizeof(req));
		FCGX_InitRequest(&req.fcgi, 0, FCGI_FAIL_ACCEPT_ON_INTR);
		KG_INFO("ready (config %s)", kg_config_path());
		while (!app_stopping && FCGX_Accept_r(&req.fcgi) >= 0)
			serve(app, &req);
		FCGX_Free(&req.fcgi, 1);
	}
	KG_INFO("stopping");
}

int
kg_http_check_config(struct kg_err *err)
{
	char bad[80];

	if (kg_net_check_list(kg_config_str("http", "trusted_proxies"), bad,
			      sizeof(bad)) < 0)
		return kg_err_set(err, 500, "config_invalid",
				  "[http] trusted_proxies: \"%s\" is not an "
				  "address or CIDR", bad);
	return 0;
}

/*
 * A program answers the same kind of request over and over, so its
 * largest answer (a 1,000-project batch is 230 KB, a .docx more) comes
 * again.  glibc's defaults hand such blocks back to the kernel when they
 * are freed (mmap above 128 KB, heap trimmed above 128 KB free) and the
 * next request faults every page in again: measured, that was 60% of
 * the CPU of GET /api/batches/{id} (issue 15).  Keep them: the process
 * holds on to about its largest answer, nothing more.
 */
static void
tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

static int
app_start(const struct kg_app *app, struct kg_err *err)
{
	tune_malloc();
	kg_log_init(app->name);
	if (kg_config_load(NULL, err) < 0 || kg_http_check_config(err) < 0)
		return -1;
	check_routes(app);
	for (const struct kg_route *r = app->routes; r->method; r++)
		if ((r->flags & KG_ROUTE_AUTH) && kg_auth_check_config(err) < 0)
			return -1;
	if (app->init && app->init(err) < 0)
		return -1;
	return 0;
}

/*
 * The same binary runs in every mode libfcgi can tell apart: FastCGI on
 * the listening socket it was handed on fd 0 (spawn-fcgi, systemd,
 * lighttpd, mod_fcgid, which all start it that way), or plain CGI when
 * fd 0 is no socket and the environment holds a CGI request.  Started by
 * hand with neither, it refuses.
 */
int
kg_app_main(const struct kg_app *app, int argc, char **argv)
{
	struct kg_err err = {0};
	int cgi, started, rc = 0;

	if (argc == 2 && !strcmp(argv[1], "--openapi"))
		return kg_app_print_openapi(app);
	if (FCGX_Init() != 0) {
		kg_log_init(app->name);
		KG_ERROR("cannot initialise libfcgi");
		return 2;
	}
	cgi = FCGX_IsCGI();
	started = app_start(app, &err) == 0;
	if (!started)
		KG_ERROR("cannot start: %s", err.message);
	/* Started by hand: a bad configuration is reported first (exit 1),
	 * as a FastCGI program would. */
	if (cgi && !kg_cgi_detected()) {
		if (started)
			KG_ERROR("not started as a FastCGI or CGI program: run "
				 "it under spawn-fcgi, systemd socket "
				 "activation, the web server's FastCGI process "
				 "manager, or as a CGI script");
		rc = started ? 2 : 1;
		goto out;
	}
	install_signals();
	if (cgi)
		rc = run_cgi(app, started);
	else if (!started)
		rc = 1;
	else
		run_fastcgi(app);
out:
	if (started && app->fini)
		app->fini();
	kg_db_close();
	kg_redis_close();
	kg_config_free();
	return rc;
}
