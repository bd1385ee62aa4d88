/*
 * kg_sigv4 - AWS Signature Version 4 (AWS4-HMAC-SHA256, header form).
 *
 * Signs one HTTP request for any AWS service: Bedrock (InvokeModel) and
 * S3 (export storage).  The caller describes the request exactly as it
 * will go on the wire; kg_sigv4_sign() returns the headers to add.  With
 * libcurl: append each returned line to the request's curl_slist, send
 * the same method, path, query, body and extra headers, and let curl
 * send `Host` from the URL (it must equal `host` below).
 *
 * Why not CURLOPT_AWS_SIGV4: libcurl before 8.9 (Debian 12 ships 7.88)
 * builds the canonical URI from the wire path without encoding it again.
 * Outside S3, AWS encodes every path segment of the wire path once more,
 * so a Bedrock model path `/model/...-v1%3A0/invoke` is signed by AWS as
 * `/model/...-v1%253A0/invoke` and by old curl as `...-v1%3A0...`; every
 * Bedrock model id ends in `:0`, so every call got 403
 * InvalidSignatureException (gptel PR #918, LiteLLM #15788).  Owning
 * the signer also lets us sign a session token and S3's
 * x-amz-content-sha256 the same way on every curl version, and test it
 * against AWS's published vectors.
 *
 * The path rule, precisely (it is the one AWS's servers apply):
 *   non-S3: canonical URI = the wire path, `.`/`..` and empty segments
 *           removed, each segment URI-encoded (RFC 3986 unreserved set
 *           kept) once more: `%3A` -> `%253A`, a raw `:` -> `%3A`.
 *   S3:     canonical URI = the wire path percent-decoded and encoded
 *           once, not normalised (object keys may contain `//` and `.`).
 * So a client must put a Bedrock model id on the wire already encoded
 * (kg_sigv4_uri_encode(..., 0) turns `v1:0` into `v1%3A0`).  If it sent
 * a raw `:`, AWS would expect `%3A` in the canonical URI (its own 403
 * message says so), and so does this signer: the signer always signs
 * what is really sent.
 *
 * Secrets: the secret key is used only as HMAC key material and wiped
 * from our stack afterwards; no error message ever contains it.
 */
#ifndef KG_SIGV4_H
#define KG_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "kg_buf.h"
#include "kg_err.h"

#define KG_SIGV4_HEX_LEN 64	/* a SHA-256 or signature in hex */

struct kg_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *session_token;	/* NULL or "" when not temporary */
};

struct kg_sigv4_req {
	const char *method;	/* "GET", "POST", "PUT", ... */
	const char *host;	/* host[:port] exactly as sent in Host */
	const char *path;	/* wire path, already URI-encoded once */
	const char *query;	/* wire query without '?', or NULL */
	/* Extra headers to send and sign, "Name: value", NULL-terminated;
	 * may be NULL.  Host, X-Amz-Date, X-Amz-Security-Token,
	 * x-amz-content-sha256 and Authorization are added by the signer
	 * and refused here.  A name given twice is signed as AWS does:
	 * values joined with ',' in the order given. */
	const char *const *headers;
	const void *body;
	size_t body_len;
	/* Hex SHA-256 of the body if the caller already has it, or
	 * "UNSIGNED-PAYLOAD" (S3 only); NULL = hash body/body_len. */
	const char *payload_hash;
	const char *region;	/* "us-east-1" */
	const char *service;	/* "bedrock", "s3", ... */
	time_t now;		/* signing time; 0 = time(NULL) */
	int s3;			/* 1 = S3 path rules + x-amz-content-sha256 */
};

/*
 * Sign `r` with `c`.  Appends to `out_headers` the headers to add to the
 * request, one "Name: value\n" line each: X-Amz-Date, X-Amz-Security-
 * Token (if any), x-amz-content-sha256 (S3), Authorization.  Returns 0,
 * or -1 with `err` set (500 "internal": a malformed request description
 * or out of memory; the message never contains the secret).
 */
int kg_sigv4_sign(const struct kg_sigv4_req *r,
		  const struct kg_sigv4_creds *c, struct kg_buf *out_headers,
		  struct kg_err *err);

/*
 * The three steps of kg_sigv4_sign(), public so that tests can compare
 * each with AWS's published test suite.  Call them with a fixed `now`
 * (0 reads the clock on every call).  `c` may be NULL here; only its
 * session token takes part in the canonical request.
 */
int kg_sigv4_canonical_request(const struct kg_sigv4_req *r,
			       const struct kg_sigv4_creds *c,
			       struct kg_buf *out,
			       struct kg_buf *signed_headers,
			       struct kg_err *err);
int kg_sigv4_string_to_sign(const struct kg_sigv4_req *r,
			    const char *canonical_request, struct kg_buf *out,
			    struct kg_err *err);
int kg_sigv4_signature(const struct kg_sigv4_req *r, const char *secret_key,
		       const char *string_to_sign,
		       char out[KG_SIGV4_HEX_LEN + 1], struct kg_err *err);

/*
 * Append `s[0..len)` URI-encoded the SigV4 way: RFC 3986 unreserved
 * characters (A-Z a-z 0-9 - . _ ~) kept, every other byte as %XY with
 * upper-case hex; '/' kept only if `keep_slash`.  This is also how a
 * client puts a path segment such as a Bedrock model id on the wire.
 * Returns -1 only when memory runs out.
 */
int kg_sigv4_uri_encode(struct kg_buf *b, const char *s, size_t len,
			int keep_slash);

#endif
