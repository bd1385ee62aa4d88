/*
 * The s3 backend of kg_storage: PUT Object / GET Object on Amazon S3 or
 * any S3-compatible store, signed by kg_sigv4 with S3's rules (s3 = 1:
 * the path is encoded once, x-amz-content-sha256 is signed).
 *
 * Addressing: virtual-hosted style (https://<bucket>.<endpoint host>/<key>)
 * is what AWS wants; MinIO and most self-hosted stores want path style
 * (http://<endpoint host>/<bucket>/<key>): [storage] s3_path_style.  An
 * empty s3_endpoint means AWS itself, https://s3.<region>.amazonaws.com.
 *
 * One libcurl easy handle per request, bounded by [storage]
 * s3_timeout_ms, built, signed and read by the same code (struct
 * s3_xfer) whichever way it is driven: curl_easy_perform in the API
 * programs (blocking FastCGI processes that wait for exactly that
 * answer), or the worker's curl multi (kg_storage_put_start), where an
 * export's PUT is one more transfer beside the AI calls and nothing
 * waits behind it.
 */
#include "kg_config.h"
#include "kg_log.h"
#include "kg_loop.h"
#include "kg_sigv4.h"
#include "kg_storage.h"
#include "kg_hash.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct s3_target {
	char url[3200];
	char host[512];		/* Host header as curl sends it */
	char path[2560];	/* wire path, encoded once */
};

struct sink {
	struct kg_buf *out;
	size_t start, max;
	int too_large;
};

static int
not_configured(struct kg_err *err, const char *what)
{
	return kg_err_set(err, 503, "storage_unavailable",
			  "S3 storage is not configured ([storage] %s)", what);
}

/*
 * Endpoint "scheme://authority" (anything after the authority is
 * refused: a path prefix belongs in s3_prefix).  The Host header is the
 * authority without a default port, which is what curl sends.
 */
static int
target(const char *key, struct s3_target *t, struct kg_err *err)
{
	const char *ep = kg_config_str("storage", "s3_endpoint");
	const char *bucket = kg_config_str("storage", "s3_bucket");
	const char *prefix = kg_config_str("storage", "s3_prefix");
	int path_style = kg_config_bool("storage", "s3_path_style");
	char def[128], authority[256], scheme[8];
	struct kg_buf objkey = {0}, path = {0};
	const char *p;
	size_t alen;
	int rc = -1;

	if (!*bucket)
		return not_configured(err, "s3_bucket");
	if (!*kg_config_str("storage", "s3_access_key") ||
	    !*kg_config_str("storage", "s3_secret_key"))
		return not_configured(err, "s3_access_key, s3_secret_key");
	if (*prefix && !kg_storage_key_valid(prefix))
		return not_configured(err, "s3_prefix is not a safe key");
	if (!*ep) {
		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com",
			 kg_config_str("storage", "s3_region"));
		ep = def;
	}
	if (!strncmp(ep, "https://", 8))
		snprintf(scheme, sizeof(scheme), "https");
	else if (!strncmp(ep, "http://", 7))
		snprintf(scheme, sizeof(scheme), "http");
	else
		return not_configured(err, "s3_endpoint must be http(s)://host");
	p = strstr(ep, "://") + 3;
	alen = strcspn(p, "/");
	if (!alen || alen >= sizeof(authority) ||
	    (p[alen] && strcmp(p + alen, "/")))
		return not_configured(err, "s3_endpoint must be http(s)://host");
	memcpy(authority, p, alen);
	authority[alen] = '\0';
	alen = strlen(authority);
	if (!strcmp(scheme, "http") && alen > 3 &&
	    !strcmp(authority + alen - 3, ":80"))
		authority[alen - 3] = '\0';
	if (!strcmp(scheme, "https") && alen > 4 &&
	    !strcmp(authority + alen - 4, ":443"))
		authority[alen - 4] = '\0';

	if (kg_buf_printf(&objkey, "%s%s%s", prefix, *prefix ? "/" : "",
			  key) < 0 ||
	    kg_buf_puts(&path, "/") < 0)
		goto oom;
	if (path_style && (kg_sigv4_uri_encode(&path, bucket, strlen(bucket),
					       0) < 0 ||
			   kg_buf_puts(&path, "/") < 0))
		goto oom;
	if (kg_sigv4_uri_encode(&path, objkey.data, objkey.len, 1) < 0)
		goto oom;
	if (path_style)
		snprintf(t->host, sizeof(t->host), "%s", authority);
	else
		snprintf(t->host, sizeof(t->host), "%s.%s", bucket, authority);
	if (path.len >= sizeof(t->path))
		goto oom;
	memcpy(t->path, path.data, path.len + 1);
	snprintf(t->url, sizeof(t->url), "%s://%s%s", scheme, t->host,
		 t->path);
	rc = 0;
	goto out;
oom:
	kg_err_set(err, 500, "internal", "S3 request too large");
out:
	kg_buf_free(&objkey);
	kg_buf_free(&path);
	return rc;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->out->len - s->start + len > s->max) {
		s->too_large = 1;
		return 0;
	}
	return kg_buf_append(s->out, data, len) < 0 ? 0 : len;
}

/* Signed headers ("Name: value\n" lines) plus `extra` into a curl list. */
static struct curl_slist *
header_list(const char *signed_lines, const char *const *extra)
{
	struct curl_slist *l = NULL, *n;
	const char *p = signed_lines;

	for (; extra && *extra; extra++) {
		n = curl_slist_append(l, *extra);
		if (!n)
			goto fail;
		l = n;
	}
	while (*p) {
		size_t len = strcspn(p, "\n");
		char line[8192];

		if (len && len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			n = curl_slist_append(l, line);
			if (!n)
				goto fail;
			l = n;
		}
		p += len + (p[len] == '\n');
	}
	/* no "Expect: 100-continue" round trip for PUT */
	n = curl_slist_append(l, "Expect:");
	if (!n)
		goto fail;
	return n;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/*
 * One request, whichever way it is driven: built, signed and set up by
 * xfer_begin, then performed by curl_easy_perform (the blocking API of
 * the endpoint programs) or by the worker's curl multi (kg_loop), and
 * read by xfer_end.  `body` for PUT (may be empty), `out`/`max` for GET.
 */
struct s3_xfer {
	CURL *c;
	struct curl_slist *hl;
	struct kg_buf signed_hdrs, discard;
	struct sink sink;
	char method[8];
	char key[KG_STORAGE_KEY_MAX + 1];
};

static void
xfer_free(struct s3_xfer *x)
{
	curl_easy_cleanup(x->c);
	curl_slist_free_all(x->hl);
	kg_buf_free(&x->signed_hdrs);
	kg_buf_free(&x->discard);
	x->c = NULL;
	x->hl = NULL;
}

static int
xfer_begin(struct s3_xfer *x, const char *method, const char *key,
	   const void *body, size_t len, struct kg_buf *out, size_t max,
	   struct kg_err *err)
{
	static const char ctype[] = "Content-Type: application/octet-stream";
	const char *const put_headers[] = {ctype, NULL};
	struct kg_sigv4_creds creds = {
		kg_config_str("storage", "s3_access_key"),
		kg_config_str("storage", "s3_secret_key"),
		kg_config_str("storage", "s3_session_token")};
	int put = !strcmp(method, "PUT");
	struct s3_target t;
	char hash[65];
	CURL *c;

	memset(x, 0, sizeof(*x));
	snprintf(x->method, sizeof(x->method), "%s", method);
	snprintf(x->key, sizeof(x->key), "%s", key);
	x->sink = (struct sink){out ? out : &x->discard, out ? out->len : 0,
				out ? max : 65536, 0};
	if (target(key, &t, err) < 0)
		return -1;
	kg_hash_sha256_hex(put ? body : "", put ? len : 0, hash);
	struct kg_sigv4_req r = {
		.method = method, .host = t.host, .path = t.path,
		.headers = put ? put_headers : NULL,
		.body = put ? body : "", .body_len = put ? len : 0,
		.payload_hash = hash,
		.region = kg_config_str("storage", "s3_region"),
		.service = "s3", .s3 = 1};
	if (kg_sigv4_sign(&r, &creds, &x->signed_hdrs, err) < 0)
		goto fail;
	x->hl = header_list(kg_buf_str(&x->signed_hdrs),
			    put ? put_headers : NULL);
	c = x->c = curl_easy_init();
	if (!x->hl || !c) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto fail;
	}
	curl_easy_setopt(c, CURLOPT_URL, t.url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 (long)kg_config_int("storage", "s3_timeout_ms"));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->sink);
	if (!strcmp(method, "DELETE"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	if (put) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	return 0;
fail:
	xfer_free(x);
	return -1;
}

/* The <Code> of an S3 error document ("SignatureDoesNotMatch"), or "". */
static void
error_code(const char *doc, char *code, size_t size)
{
	const char *p = strstr(doc, "<Code>"), *e;

	code[0] = '\0';
	if (!p)
		return;
	p += 6;
	e = strstr(p, "</Code>");
	if (e && (size_t)(e - p) < size && strspn(p, "ABCDEFGHIJKLMNOPQRSTUV"
						   "WXYZabcdefghijklmnopqrstu"
						   "vwxyz0123456789.") ==
						   (size_t)(e - p)) {
		memcpy(code, p, (size_t)(e - p));
		code[e - p] = '\0';
	}
}

/*
 * The transfer ended with cc: the HTTP status, or -1 with err set
 * (transport failure: *again, a later try may do).  An HTTP error
 * leaves its S3 error code in x->discard's place (`code`).
 */
static long
xfer_end(struct s3_xfer *x, CURLcode cc, char *code, size_t size,
	 int *again, struct kg_err *err)
{
	long status = -1;

	*again = 0;
	code[0] = '\0';
	if (cc == CURLE_WRITE_ERROR && x->sink.too_large)
		return kg_err_set(err, 413, "too_large",
				  "stored file too large");
	if (cc != CURLE_OK) {
		KG_ERROR("s3 %s %s: %s", x->method, x->key,
			 curl_easy_strerror(cc));
		*again = 1;
		return kg_err_set(err, 503, "storage_unavailable",
				  "S3 storage is not reachable (%s)",
				  curl_easy_strerror(cc));
	}
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 204)	/* DELETE's success */
		status = 200;
	if (status != 200) {
		struct kg_buf *o = x->sink.out;

		error_code(kg_buf_str(o) + x->sink.start, code, size);
		if (o != &x->discard && o->len > x->sink.start) {
			/* an error document is not the object */
			o->len = x->sink.start;
			o->data[x->sink.start] = '\0';
		}
		KG_ERROR("s3 %s %s: HTTP %ld %s", x->method, x->key, status,
			 code);
		*again = status >= 500 || status == 429;
	}
	return status;
}

/* A refusal in words: which S3 error, and what to check for the ones an
 * operator can fix. */
static int
status_error(long status, const char *code, struct kg_err *err)
{
	const char *hint = "";

	if (status == 404 && strcmp(code, "NoSuchBucket"))
		return kg_err_set(err, 404, "not_found", "stored file not found");
	if (!strcmp(code, "SignatureDoesNotMatch") ||
	    !strcmp(code, "InvalidAccessKeyId"))
		hint = ": check [storage] s3_access_key and s3_secret_key";
	else if (!strcmp(code, "NoSuchBucket"))
		hint = ": check [storage] s3_bucket";
	else if (!strcmp(code, "AccessDenied"))
		hint = ": the key needs s3:PutObject and s3:GetObject";
	return kg_err_set(err, 503, "storage_unavailable",
			  "S3 storage refused the request (HTTP %ld%s%s)%s",
			  status, *code ? " " : "", code, hint);
}

/* The blocking request of the API programs (and tools): 0, or -1 with
 * err.  `gone_ok`: a 404 is success (DELETE). */
static int
s3_call(const char *method, const char *key, const void *body, size_t len,
	struct kg_buf *out, size_t max, int gone_ok, struct kg_err *err)
{
	struct s3_xfer x;
	char code[64];
	long status;
	int again;

	if (!kg_storage_key_valid(key))
		return kg_err_set(err, 500, "bad_storage_key",
				  "refusing an unsafe storage key");
	if (xfer_begin(&x, method, key, body, len, out, max, err) < 0)
		return -1;
	status = xfer_end(&x, curl_easy_perform(x.c), code, sizeof(code),
			  &again, err);
	xfer_free(&x);
	if (status < 0)
		return -1;
	if (status == 200 || (gone_ok && status == 404))
		return 0;
	return status_error(status, code, err);
}

int
kg_storage_s3_put(const char *key, const void *data, size_t len,
		  struct kg_err *err)
{
	return s3_call("PUT", key, data, len, NULL, 0, 0, err);
}

int
kg_storage_s3_get(const char *key, struct kg_buf *out, size_t max,
		  struct kg_err *err)
{
	return s3_call("GET", key, NULL, 0, out, max, 0, err);
}

/* S3 answers 204 whether or not the key existed. */
int
kg_storage_s3_delete(const char *key, struct kg_err *err)
{
	return s3_call("DELETE", key, NULL, 0, NULL, 0, 1, err);
}

/* ---- the worker's PUT on its curl multi ---------------------------------- */

struct kg_storage_put {
	struct kg_loop *loop;
	struct s3_xfer x;
	kg_storage_done_fn done;
	void *arg;
};

static void
put_done(void *arg, CURL *easy, CURLcode cc)
{
	struct kg_storage_put *p = arg;
	struct kg_err err = {0};
	kg_storage_done_fn done = p->done;
	void *darg = p->arg;
	char code[64];
	int again;
	long status = xfer_end(&p->x, cc, code, sizeof(code), &again, &err);

	(void)easy;
	if (status > 0 && status != 200)
		status_error(status, code, &err);
	xfer_free(&p->x);
	free(p);
	done(darg, status == 200 ? NULL : &err, again);
}

struct kg_storage_put *
kg_storage_s3_put_start(struct kg_loop *loop, const char *key,
			const void *data, size_t len, kg_storage_done_fn done,
			void *arg, struct kg_err *err)
{
	struct kg_storage_put *p = calloc(1, sizeof(*p));

	if (!p)
		return kg_err_set(err, 500, "internal", "out of memory"), NULL;
	p->loop = loop;
	p->done = done;
	p->arg = arg;
	if (xfer_begin(&p->x, "PUT", key, data, len, NULL, 0, err) < 0)
		goto fail;
	if (kg_loop_add_easy(loop, p->x.c, put_done, p, err) < 0) {
		xfer_free(&p->x);
		goto fail;
	}
	return p;
fail:
	free(p);
	return NULL;
}

void
kg_storage_put_cancel(struct kg_storage_put *p)
{
	if (!p)
		return;
	kg_loop_remove_easy(p->loop, p->x.c);
	xfer_free(&p->x);
	free(p);
}
