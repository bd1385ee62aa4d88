/*
 * kg_req - what a handler reads from its request (kg_req.h): the CGI
 * parameters, path and query parameters, the body (whole, streamed,
 * as JSON), memory that ends with the request, and the request's
 * beginning and end around the handler (for kg_app).
 */
#include "kg_req.h"
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_hash.h"
#include "kg_log.h"
#include "kg_net.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct kg_req_block {
	struct kg_req_block *next;
	max_align_t data[];
};

void *
kg_req_alloc(struct kg_req *req, size_t size)
{
	struct kg_req_block *a = malloc(sizeof(*a) + size);

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
kg_req_fail(struct kg_req *req, int status, const char *code, const char *fmt,
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
		return kg_req_fail(req, 400, "bad_request",
				   "parameter %s must be an integer %lld..%lld",
				   name, min, max);
	return 0;
}

const char *
kg_req_param(struct kg_req *req, const char *name)
{
	for (int i = 0; i < req->nparams; i++)
		if (!strcmp(req->param_names[i], name))
			return req->param_values[i];
	return NULL;
}

/* ---- body ------------------------------------------------------------ */

long long
kg_req_content_length(struct kg_req *req)
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
	long long declared = kg_req_content_length(req);
	struct kg_buf b = {0};
	char chunk[16384];
	int n;

	if (req->body_read)
		goto done;
	if (declared == -2)
		return kg_req_fail(req, 400, "bad_request",
				   "bad Content-Length"),
		       NULL;
	if (declared > max)
		goto too_large;
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), req->fcgi.in)) > 0) {
		if ((long long)(b.len + (size_t)n) > max)
			goto too_large;
		if (kg_buf_append(&b, chunk, (size_t)n) < 0) {
			kg_buf_free(&b);
			return kg_req_fail(req, 500, "internal",
					   "out of memory"),
			       NULL;
		}
	}
	req->body_len = b.len;
	req->body = kg_req_alloc(req, b.len + 1);
	if (!req->body) {
		kg_buf_free(&b);
		return kg_req_fail(req, 500, "internal", "out of memory"), NULL;
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
	kg_req_fail(req, 413, "payload_too_large",
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
	long long declared = kg_req_content_length(req), total = 0;
	char chunk[16384];
	int n;

	if (req->body_read)
		return kg_req_fail(req, 500, "internal", "body already read");
	req->body_read = 1;
	if (declared == -2)
		return kg_req_fail(req, 400, "bad_request",
				   "bad Content-Length");
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
	req->body_read = 0;	/* let kg_req_end drain the rest */
	return kg_req_fail(req, 413, "payload_too_large",
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
		return kg_req_fail(req, 415, "unsupported_media_type",
				   "expected Content-Type: application/json"),
		       NULL;
	body = kg_req_body(req, &len);
	if (!body)
		return NULL;
	req->json = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(req->json)) {
		cJSON_Delete(req->json);
		req->json = NULL;
		return kg_req_fail(req, 400, "bad_request",
				   "request body is not a JSON object"),
		       NULL;
	}
	return req->json;
}

/* A plain CGI request (kg_cgi.c has no listening socket). */
int
kg_req_is_cgi(const struct kg_req *req)
{
	return req->fcgi.listen_sock < 0;
}

/* Under CGI stdin and stdout may be one socket (mod_cgid) that turns
 * readable once the request body is through: only a hang-up counts. */
int
kg_req_watch_fd(struct kg_req *req, short *events)
{
	*events = kg_req_is_cgi(req) ? 0 : POLLIN;
	return req->fcgi.ipcFd;
}

/* ---- beginning and end (kg_app, around the handler) ----------------- */

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

void
kg_req_begin(struct kg_req *req)
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
void
kg_req_end(struct kg_req *req, int64_t t0_us)
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
		struct kg_req_block *next = req->allocs->next;

		free(req->allocs);
		req->allocs = next;
	}
	kg_log_set_request_id(NULL);
}

int
kg_req_version(struct kg_req *req)
{
	return req->version;
}
