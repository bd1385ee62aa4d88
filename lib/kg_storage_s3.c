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
 * One blocking libcurl easy handle per call, bounded by [storage]
 * s3_timeout_ms: an export is one PUT in the worker and one GET in the
 * endpoint, and both are waiting for exactly that answer anyway.
 */
#include "kg_config.h"
#include "kg_log.h"
#include "kg_sigv4.h"
#include "kg_storage.h"
#include "kg_hash.h"

#include <curl/curl.h>
#include <stdio.h>
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
	const char *ep = kg_conf_str("storage", "s3_endpoint");
	const char *bucket = kg_conf_str("storage", "s3_bucket");
	const char *prefix = kg_conf_str("storage", "s3_prefix");
	int path_style = kg_conf_bool("storage", "s3_path_style");
	char def[128], authority[256], scheme[8];
	struct kg_buf objkey = {0}, path = {0};
	const char *p;
	size_t alen;
	int rc = -1;

	if (!*bucket)
		return not_configured(err, "s3_bucket");
	if (!*kg_conf_str("storage", "s3_access_key") ||
	    !*kg_conf_str("storage", "s3_secret_key"))
		return not_configured(err, "s3_access_key, s3_secret_key");
	if (*prefix && !kg_storage_key_valid(prefix))
		return not_configured(err, "s3_prefix is not a safe key");
	if (!*ep) {
		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com",
			 kg_conf_str("storage", "s3_region"));
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
 * One request.  `body` for PUT (may be empty), `out`/`max` for GET.
 * Returns the HTTP status, or -1 with err set (transport failure).
 */
static long
s3_request(const char *method, const char *key, const void *body,
	   size_t len, struct kg_buf *out, size_t max, struct kg_err *err)
{
	static const char ctype[] = "Content-Type: application/octet-stream";
	const char *const put_headers[] = {ctype, NULL};
	struct kg_sigv4_creds creds = {
		kg_conf_str("storage", "s3_access_key"),
		kg_conf_str("storage", "s3_secret_key"),
		kg_conf_str("storage", "s3_session_token")};
	int put = !strcmp(method, "PUT");
	struct kg_buf signed_hdrs = {0}, discard = {0};
	struct sink sink = {out ? out : &discard, out ? out->len : 0,
			    out ? max : 65536, 0};
	struct curl_slist *hl = NULL;
	struct s3_target t;
	char hash[65];
	CURL *c = NULL;
	CURLcode cc;
	long status = -1;

	if (target(key, &t, err) < 0)
		return -1;
	kg_sha256_hex(put ? body : "", put ? len : 0, hash);
	struct kg_sigv4_req r = {
		.method = method, .host = t.host, .path = t.path,
		.headers = put ? put_headers : NULL,
		.body = put ? body : "", .body_len = put ? len : 0,
		.payload_hash = hash,
		.region = kg_conf_str("storage", "s3_region"),
		.service = "s3", .s3 = 1};
	if (kg_sigv4_sign(&r, &creds, &signed_hdrs, err) < 0)
		goto out;
	hl = header_list(kg_buf_str(&signed_hdrs), put ? put_headers : NULL);
	c = curl_easy_init();
	if (!hl || !c) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, t.url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 (long)kg_conf_int("storage", "s3_timeout_ms"));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	if (!strcmp(method, "DELETE"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	if (put) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_WRITE_ERROR && sink.too_large) {
		kg_err_set(err, 413, "too_large", "stored file too large");
		goto out;
	}
	if (cc != CURLE_OK) {
		KG_ERROR("s3 %s %s: %s", method, key, curl_easy_strerror(cc));
		kg_err_set(err, 503, "storage_unavailable",
			   "S3 storage is not reachable (%s)",
			   curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
	if (status == 204)	/* DELETE's success */
		status = 200;
	if (status != 200 && out && sink.out->len > sink.start) {
		/* an error document is not the object */
		sink.out->len = sink.start;
		sink.out->data[sink.start] = '\0';
	}
	if (status > 0 && status != 200)
		KG_ERROR("s3 %s %s: HTTP %ld %.200s", method, key, status,
			 out ? "" : kg_buf_str(&discard));
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
	kg_buf_free(&signed_hdrs);
	kg_buf_free(&discard);
	return status;
}

static int
status_error(long status, struct kg_err *err)
{
	if (status == 404)
		return kg_err_set(err, 404, "not_found", "stored file not found");
	return kg_err_set(err, 503, "storage_unavailable",
			  "S3 storage refused the request (HTTP %ld)", status);
}

int
kg_storage_s3_put(const char *key, const void *data, size_t len,
		  struct kg_err *err)
{
	long status;

	if (!kg_storage_key_valid(key))
		return kg_err_set(err, 500, "bad_storage_key",
				  "refusing an unsafe storage key");
	status = s3_request("PUT", key, data, len, NULL, 0, err);
	if (status < 0)
		return -1;
	return status == 200 ? 0 : status_error(status, err);
}

int
kg_storage_s3_get(const char *key, struct kg_buf *out, size_t max,
		  struct kg_err *err)
{
	long status;

	if (!kg_storage_key_valid(key))
		return kg_err_set(err, 500, "bad_storage_key",
				  "refusing an unsafe storage key");
	status = s3_request("GET", key, NULL, 0, out, max, err);
	if (status < 0)
		return -1;
	return status == 200 ? 0 : status_error(status, err);
}

/* S3 answers 204 whether or not the key existed. */
int
kg_storage_s3_delete(const char *key, struct kg_err *err)
{
	long status;

	if (!kg_storage_key_valid(key))
		return kg_err_set(err, 500, "bad_storage_key",
				  "refusing an unsafe storage key");
	status = s3_request("DELETE", key, NULL, 0, NULL, 0, err);
	if (status < 0)
		return -1;
	return status == 200 || status == 404 ? 0 : status_error(status, err);
}
