#include "kg_sigv4.h"
#include "kg_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define AMZ_DATE_LEN 16		/* YYYYMMDDTHHMMSSZ */
#define SECRET_MAX 256		/* AWS secret keys are 40 characters */

/* One canonical header line before merging: `order` keeps the caller's
 * order of repeated names, which AWS preserves when it joins them. */
struct hdr {
	char *name;
	char *value;
	size_t order;
};

struct qparam {
	char *name;
	char *value;
};

static int
oom(struct kg_err *err)
{
	return kg_err_set(err, 500, "internal", "sigv4: out of memory");
}

static int
bad(struct kg_err *err, const char *what)
{
	return kg_err_set(err, 500, "internal", "sigv4: invalid %s", what);
}

static int
hmac256(const void *key, size_t keylen, const char *msg, unsigned char *out)
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
		  strlen(msg), out, &outlen) || outlen != 32)
		return -1;
	return 0;
}

static int
amz_date(time_t now, char out[AMZ_DATE_LEN + 1])
{
	struct tm tm;

	if (!now)
		now = time(NULL);
	if (!gmtime_r(&now, &tm) ||
	    strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) !=
		    AMZ_DATE_LEN)
		return -1;
	return 0;
}

/* A value we put into a header or the credential scope must not carry a
 * line break: it would let a config value inject headers. */
static int
has_ctl(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 1;
	return 0;
}

static int
nonempty(const char *s)
{
	return s && *s && !has_ctl(s);
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int
kg_sigv4_uri_encode(struct kg_buf *b, const char *s, size_t len,
		    int keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	size_t i, run;
	char esc[3];

	for (i = 0; i < len; i += run) {
		unsigned char c = (unsigned char)s[i];

		/* Copy runs of safe bytes in one append. */
		for (run = 0; i + run < len; run++) {
			c = (unsigned char)s[i + run];
			if (!unreserved(c) && !(keep_slash && c == '/'))
				break;
		}
		if (run) {
			if (kg_buf_append(b, s + i, run) < 0)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = upper[c >> 4];
		esc[2] = upper[c & 15];
		if (kg_buf_append(b, esc, 3) < 0)
			return -1;
		run = 1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode; a '%' not followed by two hex digits stays literal (and
 * is then encoded as %25), which is what AWS does with it.  '+' is not a
 * space here: SigV4 knows only %20. */
static int
pct_decode(struct kg_buf *b, const char *s, size_t len)
{
	size_t i;
	char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (kg_buf_append(b, &c, 1) < 0)
			return -1;
	}
	return 0;
}

/*
 * Non-S3 canonical URI: remove empty, `.` and `..` segments (AWS
 * normalises the path for every service but S3), then encode each
 * segment of the wire path once more.  A path ending in '/', `.` or `..`
 * keeps its trailing slash, as RFC 3986 5.2.4 does.
 */
static int
canonical_uri_normalized(struct kg_buf *out, const char *path)
{
	struct {
		const char *p;
		size_t len;
	} *segs;
	size_t max = 1, n = 0, i, len;
	const char *p;
	int trailing = 0, rc = -1;

	for (p = path; *p; p++)
		max += *p == '/';
	segs = calloc(max, sizeof(*segs));
	if (!segs)
		return -1;
	for (p = path; *p; p += len) {
		if (*p == '/') {
			trailing = 1;
			len = 1;
			continue;
		}
		len = strcspn(p, "/");
		trailing = 0;
		if (len == 1 && p[0] == '.') {
			trailing = 1;
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (n)
				n--;
			trailing = 1;
		} else {
			segs[n].p = p;
			segs[n].len = len;
			n++;
		}
	}
	if (kg_buf_puts(out, "/") < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if ((i && kg_buf_puts(out, "/") < 0) ||
		    kg_sigv4_uri_encode(out, segs[i].p, segs[i].len, 0) < 0)
			goto out;
	}
	if (n && trailing && kg_buf_puts(out, "/") < 0)
		goto out;
	rc = 0;
out:
	free(segs);
	return rc;
}

static int
canonical_uri(struct kg_buf *out, const char *path, int s3)
{
	struct kg_buf tmp = {0};
	int rc;

	if (!path || !*path)
		path = "/";
	if (!s3)
		return canonical_uri_normalized(out, path);
	/* S3 signs the key encoded exactly once: decode what is on the wire
	 * and encode it again, so `%24`, `%2a` and a raw `$` all sign as
	 * the `%24`/`%2A` S3 computes. */
	rc = pct_decode(&tmp, path, strlen(path));
	if (rc == 0)
		rc = kg_sigv4_uri_encode(out, kg_buf_str(&tmp), tmp.len, 1);
	kg_buf_free(&tmp);
	return rc;
}

static char *
reencode(const char *s, size_t len)
{
	struct kg_buf dec = {0}, enc = {0};
	char *res = NULL;

	if (pct_decode(&dec, s, len) == 0 &&
	    kg_sigv4_uri_encode(&enc, kg_buf_str(&dec), dec.len, 0) == 0)
		res = kg_buf_take(&enc);
	kg_buf_free(&dec);
	kg_buf_free(&enc);
	return res;
}

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* Canonical query: every name and value decoded and re-encoded with the
 * unreserved set, pairs sorted by name then value (byte order), a name
 * without '=' signed as "name=". */
static int
canonical_query(struct kg_buf *out, const char *query)
{
	struct qparam *qs = NULL;
	size_t max = 1, n = 0, i, len;
	const char *p, *eq;
	int rc = -1;

	if (!query || !*query)
		return 0;
	for (p = query; *p; p++)
		max += *p == '&';
	qs = calloc(max, sizeof(*qs));
	if (!qs)
		return -1;
	for (p = query; *p; p += len + (p[len] == '&')) {
		len = strcspn(p, "&");
		if (!len)
			continue;
		eq = memchr(p, '=', len);
		qs[n].name = reencode(p, eq ? (size_t)(eq - p) : len);
		qs[n].value = eq ? reencode(eq + 1, len - (size_t)(eq - p) - 1)
				 : strdup("");
		n++;
		if (!qs[n - 1].name || !qs[n - 1].value)
			goto out;
	}
	qsort(qs, n, sizeof(*qs), qparam_cmp);
	for (i = 0; i < n; i++)
		if (kg_buf_printf(out, "%s%s=%s", i ? "&" : "", qs[i].name,
				  qs[i].value) < 0)
			goto out;
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(qs[i].name);
		free(qs[i].value);
	}
	free(qs);
	return rc;
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Lower-cased name; value trimmed with inner runs of blanks collapsed to
 * one space ("Trimall"), as AWS canonicalises them. */
static int
hdr_set(struct hdr *h, const char *name, size_t nlen, const char *value,
	size_t order)
{
	size_t i, o = 0;
	int blank = 0;

	h->order = order;
	h->name = malloc(nlen + 1);
	h->value = malloc(strlen(value) + 1);
	if (!h->name || !h->value)
		return -1;
	for (i = 0; i < nlen; i++)
		h->name[i] = (name[i] >= 'A' && name[i] <= 'Z')
				     ? (char)(name[i] - 'A' + 'a')
				     : name[i];
	h->name[nlen] = '\0';
	for (; *value; value++) {
		if (*value == ' ' || *value == '\t') {
			blank = 1;
			continue;
		}
		if (blank && o)
			h->value[o++] = ' ';
		blank = 0;
		h->value[o++] = *value;
	}
	h->value[o] = '\0';
	return 0;
}

static int
reserved_header(const char *name, size_t len)
{
	static const char *const names[] = {
		"host", "x-amz-date", "x-amz-security-token",
		"x-amz-content-sha256", "authorization", NULL};
	size_t i;

	for (i = 0; names[i]; i++)
		if (strlen(names[i]) == len && !strncasecmp(name, names[i], len))
			return 1;
	return 0;
}

static int
token_char(unsigned char c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Collect the caller's headers plus ours into `hs` (calloc'ed by the
 * caller, big enough).  `*n` counts every entry touched, even one that
 * failed half-way, so the caller frees exactly what was allocated. */
static int
collect_headers(const struct kg_sigv4_req *r, const struct kg_sigv4_creds *c,
		const char *date, const char *phash, struct hdr *hs,
		size_t *n, struct kg_err *err)
{
	const char *line, *colon;
	size_t i, j, nlen;

	for (i = 0; r->headers && r->headers[i]; i++) {
		line = r->headers[i];
		colon = strchr(line, ':');
		nlen = colon ? (size_t)(colon - line) : 0;
		if (!nlen || has_ctl(line))
			return bad(err, "header line");
		for (j = 0; j < nlen; j++)
			if (!token_char((unsigned char)line[j]))
				return bad(err, "header name");
		if (reserved_header(line, nlen))
			return kg_err_set(err, 500, "internal",
					  "sigv4: header %.*s is set by the "
					  "signer",
					  (int)nlen, line);
		if (hdr_set(&hs[*n], line, nlen, colon + 1, *n) < 0)
			goto nomem;
		(*n)++;
	}
	if (hdr_set(&hs[*n], "host", 4, r->host, *n) < 0)
		goto nomem;
	(*n)++;
	if (hdr_set(&hs[*n], "x-amz-date", 10, date, *n) < 0)
		goto nomem;
	(*n)++;
	if (c && c->session_token && *c->session_token) {
		if (hdr_set(&hs[*n], "x-amz-security-token", 20,
			    c->session_token, *n) < 0)
			goto nomem;
		(*n)++;
	}
	if (r->s3) {
		if (hdr_set(&hs[*n], "x-amz-content-sha256", 20, phash,
			    *n) < 0)
			goto nomem;
		(*n)++;
	}
	return 0;
nomem:
	(*n)++;
	return oom(err);
}

static int
validate(const struct kg_sigv4_req *r, const struct kg_sigv4_creds *c,
	 struct kg_err *err)
{
	if (!r)
		return bad(err, "request");
	if (!nonempty(r->method))
		return bad(err, "method");
	if (!nonempty(r->host))
		return bad(err, "host");
	if (!nonempty(r->region) || strchr(r->region, '/'))
		return bad(err, "region");
	if (!nonempty(r->service) || strchr(r->service, '/'))
		return bad(err, "service");
	if ((r->path && has_ctl(r->path)) || (r->query && has_ctl(r->query)))
		return bad(err, "path or query");
	if (r->payload_hash && (!nonempty(r->payload_hash) ||
				strlen(r->payload_hash) > KG_SIGV4_HEX_LEN))
		return bad(err, "payload hash");
	if (c && c->session_token && has_ctl(c->session_token))
		return bad(err, "session token");
	return 0;
}

static int
payload_hash(const struct kg_sigv4_req *r, char out[KG_SIGV4_HEX_LEN + 1])
{
	if (r->payload_hash) {
		snprintf(out, KG_SIGV4_HEX_LEN + 1, "%s", r->payload_hash);
		return 0;
	}
	return kg_hash_sha256_hex(r->body, r->body ? r->body_len : 0, out);
}

int
kg_sigv4_canonical_request(const struct kg_sigv4_req *r,
			   const struct kg_sigv4_creds *c, struct kg_buf *out,
			   struct kg_buf *signed_headers, struct kg_err *err)
{
	char date[AMZ_DATE_LEN + 1], hash[KG_SIGV4_HEX_LEN + 1];
	struct hdr *hs = NULL;
	size_t nh = 0, max = 4, i;
	int rc = -1;

	if (validate(r, c, err) < 0)
		return -1;
	if (amz_date(r->now, date) < 0)
		return bad(err, "time");
	if (payload_hash(r, hash) < 0)
		return kg_err_set(err, 500, "internal", "sigv4: sha256 failed");
	for (i = 0; r->headers && r->headers[i]; i++)
		max++;
	hs = calloc(max, sizeof(*hs));
	if (!hs)
		return oom(err);
	if (collect_headers(r, c, date, hash, hs, &nh, err) < 0)
		goto out;
	qsort(hs, nh, sizeof(*hs), hdr_cmp);

	if (kg_buf_printf(out, "%s\n", r->method) < 0 ||
	    canonical_uri(out, r->path, r->s3) < 0 ||
	    kg_buf_puts(out, "\n") < 0 || canonical_query(out, r->query) < 0 ||
	    kg_buf_puts(out, "\n") < 0) {
		oom(err);
		goto out;
	}
	/* Repeated names become one line, values joined by ','. */
	for (i = 0; i < nh; i++) {
		int same = i && !strcmp(hs[i].name, hs[i - 1].name);
		int last = i + 1 == nh || strcmp(hs[i].name, hs[i + 1].name);

		if ((same ? kg_buf_printf(out, ",%s", hs[i].value)
			  : kg_buf_printf(out, "%s:%s", hs[i].name,
					  hs[i].value)) < 0 ||
		    (last && kg_buf_puts(out, "\n") < 0)) {
			oom(err);
			goto out;
		}
	}
	if (kg_buf_puts(out, "\n") < 0) {
		oom(err);
		goto out;
	}
	for (i = 0; i < nh; i++) {
		if (i && !strcmp(hs[i].name, hs[i - 1].name))
			continue;
		if (kg_buf_printf(out, "%s%s", i ? ";" : "", hs[i].name) < 0 ||
		    (signed_headers &&
		     kg_buf_printf(signed_headers, "%s%s", i ? ";" : "",
				   hs[i].name) < 0)) {
			oom(err);
			goto out;
		}
	}
	if (kg_buf_printf(out, "\n%s", hash) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < nh; i++) {
		free(hs[i].name);
		free(hs[i].value);
	}
	free(hs);
	return rc;
}

static int
scope(struct kg_buf *out, const struct kg_sigv4_req *r, const char *date)
{
	return kg_buf_printf(out, "%.8s/%s/%s/aws4_request", date, r->region,
			     r->service);
}

int
kg_sigv4_string_to_sign(const struct kg_sigv4_req *r,
			const char *canonical_request, struct kg_buf *out,
			struct kg_err *err)
{
	char date[AMZ_DATE_LEN + 1], hash[KG_SIGV4_HEX_LEN + 1];

	if (validate(r, NULL, err) < 0)
		return -1;
	if (amz_date(r->now, date) < 0)
		return bad(err, "time");
	if (kg_hash_sha256_hex(canonical_request, strlen(canonical_request),
			       hash) < 0)
		return kg_err_set(err, 500, "internal", "sigv4: sha256 failed");
	if (kg_buf_printf(out, ALGORITHM "\n%s\n", date) < 0 ||
	    scope(out, r, date) < 0 || kg_buf_printf(out, "\n%s", hash) < 0)
		return oom(err);
	return 0;
}

/*
 * Signing key = HMAC chain over date, region, service, "aws4_request"
 * starting from "AWS4" + secret; the signature is HMAC(key, string to
 * sign).  Every intermediate key is secret material, so it lives on our
 * stack only and is wiped before returning.
 */
int
kg_sigv4_signature(const struct kg_sigv4_req *r, const char *secret_key,
		   const char *string_to_sign, char out[KG_SIGV4_HEX_LEN + 1],
		   struct kg_err *err)
{
	char date[AMZ_DATE_LEN + 1], day[9], k0[4 + SECRET_MAX + 1];
	unsigned char k1[32], k2[32], mac[32];
	size_t slen;
	int rc = -1;

	if (validate(r, NULL, err) < 0)
		return -1;
	slen = secret_key ? strlen(secret_key) : 0;
	if (!slen || slen > SECRET_MAX)
		return bad(err, "secret key length");
	if (amz_date(r->now, date) < 0)
		return bad(err, "time");
	memcpy(day, date, 8);
	day[8] = '\0';
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret_key, slen + 1);
	/* Separate buffers: HMAC's key and output must not alias. */
	if (hmac256(k0, 4 + slen, day, k1) < 0 ||
	    hmac256(k1, 32, r->region, k2) < 0 ||
	    hmac256(k2, 32, r->service, k1) < 0 ||
	    hmac256(k1, 32, "aws4_request", k2) < 0 ||
	    hmac256(k2, 32, string_to_sign, mac) < 0) {
		kg_err_set(err, 500, "internal", "sigv4: hmac failed");
		goto out;
	}
	kg_hash_hex(mac, 32, out);
	rc = 0;
out:
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	return rc;
}

int
kg_sigv4_sign(const struct kg_sigv4_req *req, const struct kg_sigv4_creds *c,
	      struct kg_buf *out_headers, struct kg_err *err)
{
	struct kg_sigv4_req r;
	struct kg_buf creq = {0}, sts = {0}, signed_h = {0};
	char date[AMZ_DATE_LEN + 1], sig[KG_SIGV4_HEX_LEN + 1];
	char hash[KG_SIGV4_HEX_LEN + 1];
	int rc = -1;

	if (!req)
		return bad(err, "request");
	/* The access key goes into the Credential field verbatim. */
	if (!c || !nonempty(c->access_key) || strpbrk(c->access_key, "/, ") ||
	    !c->secret_key || !*c->secret_key)
		return kg_err_set(err, 500, "internal",
				  "sigv4: missing AWS credentials");
	/* Read the clock once: every step must see the same second. */
	r = *req;
	if (!r.now)
		r.now = time(NULL);
	if (amz_date(r.now, date) < 0)
		return bad(err, "time");
	if (kg_sigv4_canonical_request(&r, c, &creq, &signed_h, err) < 0 ||
	    kg_sigv4_string_to_sign(&r, kg_buf_str(&creq), &sts, err) < 0 ||
	    kg_sigv4_signature(&r, c->secret_key, kg_buf_str(&sts), sig,
			       err) < 0)
		goto out;
	if (payload_hash(&r, hash) < 0) {
		kg_err_set(err, 500, "internal", "sigv4: sha256 failed");
		goto out;
	}
	if (kg_buf_printf(out_headers, "X-Amz-Date: %s\n", date) < 0 ||
	    (c->session_token && *c->session_token &&
	     kg_buf_printf(out_headers, "X-Amz-Security-Token: %s\n",
			   c->session_token) < 0) ||
	    (r.s3 && kg_buf_printf(out_headers, "x-amz-content-sha256: %s\n",
				   hash) < 0) ||
	    kg_buf_printf(out_headers,
			  "Authorization: " ALGORITHM " Credential=%s/",
			  c->access_key) < 0 ||
	    scope(out_headers, &r, date) < 0 ||
	    kg_buf_printf(out_headers, ", SignedHeaders=%s, Signature=%s\n",
			  kg_buf_str(&signed_h), sig) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	kg_buf_free(&creq);
	kg_buf_free(&sts);
	kg_buf_free(&signed_h);
	return rc;
}
