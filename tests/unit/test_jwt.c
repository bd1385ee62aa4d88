/* Unit tests of kg_jwt: tokens issued by libjwt (what kg_auth_issue
 * makes) verify; hostile ones (alg none, wrong alg, bad base64,
 * expired, tampered, overlong, wrong key, malformed claims) do not.
 * Tokens are built here with OpenSSL's one-shot HMAC, independently of
 * the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kg_jwt.h"

#define KEY "0123456789abcdef0123456789abcdef-test-key"
#define ISS "kartograf"
#define SUB "6f1c0c7e-3b1a-4c55-9a39-0d7a7d2b9c10"
#define JTI "00112233445566778899aabbccddeeff"
#define NOW 1800000000LL
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* base64url of data, no padding, appended to out. */
static void
b64url(const void *data, size_t len, char *out)
{
	unsigned char tmp[8192];
	int n = EVP_EncodeBlock(tmp, data, (int)len);
	size_t o = strlen(out);

	for (int i = 0; i < n && tmp[i] != '='; i++)
		out[o++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_'
							      : (char)tmp[i];
	out[o] = 0;
}

/* header.payload.signature with HMAC-SHA256 under key into out. */
static void
sign(const char *header, const char *payload, const char *key, char *out)
{
	unsigned char mac[32];
	unsigned len = 0;

	out[0] = 0;
	b64url(header, strlen(header), out);
	strcat(out, ".");
	b64url(payload, strlen(payload), out);
	HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)out,
	     strlen(out), mac, &len);
	strcat(out, ".");
	b64url(mac, len, out);
}

static char *
claims(const char *extra, long long exp)
{
	static char p[2048];

	snprintf(p, sizeof(p),
		 "{\"sub\":\"" SUB "\",\"role\":\"user\",\"iss\":\"" ISS
		 "\",\"jti\":\"" JTI "\",\"epoch\":3,\"iat\":%lld,"
		 "\"exp\":%lld%s}",
		 NOW - 10, exp, extra);
	return p;
}

static int
verify(const char *token, struct kg_jwt_claims *c, struct kg_err *err)
{
	memset(err, 0, sizeof(*err));
	return kg_jwt_verify(token, KEY, strlen(KEY), ISS, (time_t)NOW, c,
			     err);
}

static void
refused(const char *token, const char *code)
{
	struct kg_jwt_claims c;
	struct kg_err err;

	assert_int_equal(verify(token, &c, &err), -1);
	assert_int_equal(err.status, 401);
	assert_string_equal(err.code, code);
}

static void
refused_claims(const char *header, const char *payload, const char *code)
{
	char t[8192];

	sign(header, payload, KEY, t);
	refused(t, code);
}

static void
test_libjwt_token(void **state)
{
	jwt_t *jwt = NULL;
	char *t;
	struct kg_jwt_claims c;
	struct kg_err err;

	(void)state;
	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grant(jwt, "sub", SUB), 0);
	assert_int_equal(jwt_add_grant(jwt, "role", "admin"), 0);
	assert_int_equal(jwt_add_grant(jwt, "iss", ISS), 0);
	assert_int_equal(jwt_add_grant(jwt, "jti", JTI), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "epoch", 7), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "iat", NOW), 0);
	assert_int_equal(jwt_add_grant_int(jwt, "exp", NOW + 3600), 0);
	assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256,
				     (const unsigned char *)KEY,
				     (int)strlen(KEY)), 0);
	t = jwt_encode_str(jwt);
	assert_non_null(t);
	/* twice: the second call re-uses the keyed context */
	for (int i = 0; i < 2; i++) {
		memset(&c, 0, sizeof(c));
		assert_int_equal(verify(t, &c, &err), 0);
		assert_string_equal(c.sub, SUB);
		assert_string_equal(c.jti, JTI);
		assert_int_equal(c.epoch, 7);
		assert_int_equal(c.exp, NOW + 3600);
	}
	/* another key re-keys the context, and back */
	assert_int_equal(kg_jwt_verify(t, "another key of the right length!!",
				       33, ISS, (time_t)NOW, &c, &err), -1);
	assert_int_equal(verify(t, &c, &err), 0);
	/* expired at exp exactly, a second earlier still valid */
	assert_int_equal(kg_jwt_verify(t, KEY, strlen(KEY), ISS,
				       (time_t)(NOW + 3600), &c, &err), -1);
	assert_string_equal(err.code, "token_expired");
	assert_int_equal(kg_jwt_verify(t, KEY, strlen(KEY), ISS,
				       (time_t)(NOW + 3599), &c, &err), 0);
	/* another issuer */
	assert_int_equal(kg_jwt_verify(t, KEY, strlen(KEY), "other",
				       (time_t)NOW, &c, &err), -1);
	free(t);
	jwt_free(jwt);
}

static void
test_own_token(void **state)
{
	char t[8192];
	struct kg_jwt_claims c;
	struct kg_err err;

	(void)state;
	sign(HS256, claims("", NOW + 60), KEY, t);
	assert_int_equal(verify(t, &c, &err), 0);
	/* no typ, and nbf in the past: still fine */
	sign("{\"alg\":\"HS256\"}", claims(",\"nbf\":1", NOW + 60), KEY, t);
	assert_int_equal(verify(t, &c, &err), 0);
	/* nbf / iat within the clock skew */
	sign(HS256, claims(",\"nbf\":1800000059", NOW + 60), KEY, t);
	assert_int_equal(verify(t, &c, &err), 0);
}

static void
test_alg(void **state)
{
	char t[8192], p[8192];

	(void)state;
	/* alg none, no signature / empty signature */
	p[0] = 0;
	b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, p);
	strcat(p, ".");
	b64url(claims("", NOW + 60), strlen(claims("", NOW + 60)), p);
	strcat(p, ".");
	refused(p, "unauthorized");
	p[strlen(p) - 1] = 0;
	refused(p, "unauthorized");
	/* alg none with our valid HMAC over it */
	refused_claims("{\"alg\":\"none\"}", claims("", NOW + 60),
		       "unauthorized");
	/* other algorithms, correctly HMAC-SHA256-signed with our key */
	refused_claims("{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
		       claims("", NOW + 60), "unauthorized");
	refused_claims("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
		       claims("", NOW + 60), "unauthorized");
	refused_claims("{\"alg\":\"hs256\"}", claims("", NOW + 60),
		       "unauthorized");
	refused_claims("{\"typ\":\"JWT\"}", claims("", NOW + 60),
		       "unauthorized");
	refused_claims("{\"alg\":[\"HS256\"]}", claims("", NOW + 60),
		       "unauthorized");
	refused_claims("{\"alg\":\"HS256\",\"typ\":\"JWE\"}",
		       claims("", NOW + 60), "unauthorized");
	refused_claims("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
		       claims("", NOW + 60), "unauthorized");
	refused_claims("[\"HS256\"]", claims("", NOW + 60), "unauthorized");
	refused_claims("not json", claims("", NOW + 60), "unauthorized");
	/* the right token signed with another key */
	sign(HS256, claims("", NOW + 60), "another key entirely, 32 bytes!", t);
	refused(t, "unauthorized");
}

static void
test_tampered(void **state)
{
	char t[8192], u[8192];
	char *dot;

	(void)state;
	sign(HS256, claims("", NOW + 60), KEY, t);
	/* payload swapped for another user's, signature kept */
	u[0] = 0;
	b64url(HS256, strlen(HS256), u);
	strcat(u, ".");
	b64url("{\"sub\":\"ffffffff-3b1a-4c55-9a39-0d7a7d2b9c10\"}", 45, u);
	strcat(u, strrchr(t, '.'));
	refused(u, "unauthorized");
	/* one bit of the payload, one of the signature */
	strcpy(u, t);
	dot = strchr(u, '.');
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	refused(u, "unauthorized");
	strcpy(u, t);
	u[strlen(u) - 2] = u[strlen(u) - 2] == 'A' ? 'B' : 'A';
	refused(u, "unauthorized");
	/* a signature one byte short, one byte long */
	strcpy(u, t);
	u[strlen(u) - 3] = 0;
	refused(u, "unauthorized");
	strcpy(u, t);
	strcat(u, "AA");
	refused(u, "unauthorized");
}

static void
test_encoding(void **state)
{
	char t[8192], u[8192];
	size_t n;

	(void)state;
	sign(HS256, claims("", NOW + 60), KEY, t);
	refused("", "unauthorized");
	refused("...", "unauthorized");
	refused("a.b", "unauthorized");
	refused("a.b.c.d", "unauthorized");
	strcpy(u, t);					/* a fourth segment */
	strcat(u, ".");
	refused(u, "unauthorized");
	strcpy(u, strchr(t, '.'));			/* no header */
	refused(u, "unauthorized");
	/* standard base64 characters and padding are not base64url */
	strcpy(u, t);
	u[2] = '+';
	refused(u, "unauthorized");
	strcpy(u, t);
	strcat(u, "=");
	refused(u, "unauthorized");
	strcpy(u, t);
	u[1] = ' ';
	refused(u, "unauthorized");
	/* a signature whose last character has unused bits set (43 chars:
	 * the last carries 2 spare bits) decodes to the same MAC but is not
	 * the canonical encoding */
	strcpy(u, t);
	n = strlen(u);
	assert_true(strchr("AEIMQUYcgkosw048", u[n - 1]) != NULL);
	u[n - 1] = (char)(u[n - 1] + 1);
	refused(u, "unauthorized");
	/* a length no base64 has (4k + 1) */
	strcpy(u, t);
	strcpy(strchr(u, '.'), "A");
	strcat(u, strchr(t, '.'));
	refused(u, "unauthorized");
}

static void
test_overlong(void **state)
{
	char *p = malloc(KG_JWT_MAX + 2), *t = malloc(4 * KG_JWT_MAX);
	size_t n;

	(void)state;
	/* a genuine signature over a payload that makes the token too long */
	n = (size_t)snprintf(p, KG_JWT_MAX, "%s", claims(",\"pad\":\"", NOW + 60));
	p[n - 1] = 0;	/* drop the closing brace */
	memset(p + strlen(p), 'x', KG_JWT_MAX - strlen(p) - 2);
	strcpy(p + KG_JWT_MAX - 2, "\"}");
	sign(HS256, p, KEY, t);
	assert_true(strlen(t) > KG_JWT_MAX);
	refused(t, "unauthorized");
	/* and a megabyte of junk: refused without reading past the limit */
	free(t);
	t = malloc(1 << 20);
	memset(t, 'A', (1 << 20) - 1);
	t[(1 << 20) - 1] = 0;
	refused(t, "unauthorized");
	free(t);
	free(p);
}

static void
test_claims(void **state)
{
	(void)state;
	refused_claims(HS256, claims("", NOW), "token_expired");
	refused_claims(HS256, claims("", NOW - 1), "token_expired");
	/* exp missing, zero, a string, a fraction, negative */
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"" ISS
		       "\",\"jti\":\"" JTI "\",\"epoch\":1}", "unauthorized");
	refused_claims(HS256, claims("", 0), "unauthorized");
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"" ISS
		       "\",\"jti\":\"" JTI "\",\"epoch\":1,"
		       "\"exp\":\"1900000000\"}", "unauthorized");
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"" ISS
		       "\",\"jti\":\"" JTI "\",\"epoch\":1,"
		       "\"exp\":1900000000.5}", "unauthorized");
	refused_claims(HS256, claims("", -5), "unauthorized");
	/* not yet valid beyond the skew */
	refused_claims(HS256, claims(",\"nbf\":1800000061", NOW + 600),
		       "unauthorized");
	refused_claims(HS256, claims(",\"nbf\":\"soon\"", NOW + 600),
		       "unauthorized");
	/* iss, sub, jti, epoch */
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"evil\",\"jti\":\""
		       JTI "\",\"epoch\":1,\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"jti\":\"" JTI
		       "\",\"epoch\":1,\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "{\"sub\":\"short\",\"iss\":\"" ISS "\",\"jti\":\""
		       JTI "\",\"epoch\":1,\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "{\"sub\":42,\"iss\":\"" ISS "\",\"jti\":\""
		       JTI "\",\"epoch\":1,\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"" ISS "\","
		       "\"jti\":\"00112233445566778899AABBCCDDEEFF\",\"epoch\":1,"
		       "\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"" ISS "\",\"jti\":\""
		       JTI "\",\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "{\"sub\":\"" SUB "\",\"iss\":\"" ISS "\",\"jti\":\""
		       JTI "\",\"epoch\":-1,\"exp\":1900000000}", "unauthorized");
	refused_claims(HS256, "[1,2,3]", "unauthorized");
	refused_claims(HS256, "{\"sub\":", "unauthorized");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libjwt_token),
		cmocka_unit_test(test_own_token),
		cmocka_unit_test(test_alg),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
