#include "kg_jwt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 32	/* HMAC-SHA256 */

/* ---- base64url (RFC 4648 section 5, no padding) ----------------------- */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	return c == '_' ? 63 : -1;
}

/*
 * Decode in[0..len) into out (room for len * 3 / 4 bytes): its length,
 * or -1 for a character outside the alphabet, a length that no encoding
 * has (len % 4 == 1) or non-zero unused bits in the last character (the
 * encoding is then not the canonical one of any byte string).
 */
static long
b64url_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t n = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((v = b64url_value((unsigned char)in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	return (long)n;
}

/* ---- HMAC-SHA256 with a context keyed once ----------------------------- */

/*
 * One keyed HMAC context per process, re-initialised per token with
 * EVP_MAC_init(ctx, NULL, ...) (OpenSSL keeps the key's padded state, so
 * no algorithm fetch and no key schedule per call).  A different key (a
 * unit test's) re-keys it.  The mutex makes it safe for the threaded
 * event relay; it is never contended for longer than one HMAC.
 */
static pthread_mutex_t mac_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MAC_CTX *mac_ctx;
static unsigned char *mac_key;
static size_t mac_keylen;

static int
mac_rekey(const void *key, size_t keylen)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac;
	unsigned char *copy = malloc(keylen ? keylen : 1);

	if (!copy)
		return -1;
	if (!mac_ctx) {
		mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		mac_ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
		EVP_MAC_free(mac);	/* the context holds its own ref */
	}
	if (!mac_ctx || !EVP_MAC_init(mac_ctx, key, keylen, params)) {
		free(copy);
		return -1;
	}
	memcpy(copy, key, keylen);
	OPENSSL_clear_free(mac_key, mac_keylen);
	mac_key = copy;
	mac_keylen = keylen;
	return 0;
}

static int
hmac_sha256(const void *key, size_t keylen, const char *data, size_t len,
	    unsigned char out[MAC_LEN])
{
	size_t outlen = 0;
	int ok;

	pthread_mutex_lock(&mac_lock);
	if (mac_key && keylen == mac_keylen && !memcmp(key, mac_key, keylen))
		ok = EVP_MAC_init(mac_ctx, NULL, 0, NULL);
	else
		ok = mac_rekey(key, keylen) == 0;
	ok = ok && EVP_MAC_update(mac_ctx, (const unsigned char *)data, len) &&
	     EVP_MAC_final(mac_ctx, out, &outlen, MAC_LEN) &&
	     outlen == MAC_LEN;
	pthread_mutex_unlock(&mac_lock);
	return ok ? 0 : -1;
}

/* ---- header and claims -------------------------------------------------- */

/* Segment [s, s + len) decoded and parsed as a JSON object, or NULL. */
static cJSON *
segment_json(const char *s, size_t len, unsigned char *buf)
{
	long n = b64url_decode(s, len, buf);
	cJSON *o;

	if (n < 0)
		return NULL;
	o = cJSON_ParseWithLength((const char *)buf, (size_t)n);
	if (o && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static int
header_ok(const cJSON *h)
{
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");

	return cJSON_IsString(alg) && !strcmp(alg->valuestring, "HS256") &&
	       (!typ || (cJSON_IsString(typ) &&
			 !strcmp(typ->valuestring, "JWT"))) &&
	       !cJSON_HasObjectItem(h, "crit");
}

/*
 * Integer claim `name` into *v: 1 present and an integer in [0, 2^53],
 * 0 absent, -1 anything else (a string, a fraction, a negative number).
 */
static int
claim_int(const cJSON *p, const char *name, long long *v)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, name);
	double d;

	if (!c)
		return 0;
	if (!cJSON_IsNumber(c))
		return -1;
	d = c->valuedouble;
	if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
		return -1;
	*v = (long long)d;
	return 1;
}

/* String claim `name` of exactly `len` characters of `set` (NULL: any
 * but empty) into out (len + 1 bytes); -1 otherwise. */
static int
claim_str(const cJSON *p, const char *name, size_t len, const char *set,
	  char *out)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, name);

	if (!cJSON_IsString(c) || strlen(c->valuestring) != len ||
	    (set && strspn(c->valuestring, set) != len))
		return -1;
	memcpy(out, c->valuestring, len + 1);
	return 0;
}

static int
invalid(struct kg_err *err)
{
	return kg_err_set(err, 401, "unauthorized", "invalid token");
}

static int
check_claims(const cJSON *p, const char *issuer, time_t now,
	     struct kg_jwt_claims *out, struct kg_err *err)
{
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(p, "iss");
	long long nbf = 0, iat = 0;
	int has_nbf = claim_int(p, "nbf", &nbf);
	int has_iat = claim_int(p, "iat", &iat);

	if (claim_int(p, "exp", &out->exp) != 1 || out->exp == 0 ||
	    has_nbf < 0 || has_iat < 0)
		return invalid(err);
	if ((long long)now >= out->exp)
		return kg_err_set(err, 401, "token_expired",
				  "session expired, please sign in again");
	if (nbf > (long long)now + KG_JWT_CLOCK_SKEW ||
	    iat > (long long)now + KG_JWT_CLOCK_SKEW)
		return kg_err_set(err, 401, "unauthorized",
				  "token not valid yet");
	if (!cJSON_IsString(iss) || strcmp(iss->valuestring, issuer) != 0 ||
	    claim_str(p, "sub", sizeof(out->sub) - 1, NULL, out->sub) < 0 ||
	    claim_str(p, "jti", KG_JWT_JTI_LEN, "0123456789abcdef",
		      out->jti) < 0 ||
	    claim_int(p, "epoch", &out->epoch) != 1)
		return invalid(err);
	return 0;
}

/* ---- the token ---------------------------------------------------------- */

int
kg_jwt_verify(const char *token, const void *key, size_t keylen,
	      const char *issuer, time_t now, struct kg_jwt_claims *out,
	      struct kg_err *err)
{
	unsigned char buf[KG_JWT_MAX * 3 / 4 + 4], mac[MAC_LEN];
	size_t len = strnlen(token, KG_JWT_MAX + 1);
	const char *dot1 = memchr(token, '.', len), *dot2;
	cJSON *header = NULL, *payload = NULL;
	int rc = -1;

	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))
		    : NULL;
	if (len > KG_JWT_MAX || !dot2 || dot1 == token || dot2 == dot1 + 1 ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) ||
	    b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), buf) !=
		    MAC_LEN)
		return invalid(err);
	if (hmac_sha256(key, keylen, token, (size_t)(dot2 - token), mac) < 0)
		return kg_err_set(err, 500, "internal", "HMAC failed");
	if (CRYPTO_memcmp(mac, buf, MAC_LEN) != 0 ||
	    !(header = segment_json(token, (size_t)(dot1 - token), buf)) ||
	    !header_ok(header) ||
	    !(payload = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1),
				     buf))) {
		invalid(err);
		goto out;
	}
	rc = check_claims(payload, issuer, now, out, err);
out:
	cJSON_Delete(header);
	cJSON_Delete(payload);
	return rc;
}
