/* libFuzzer target for kg_jwt_verify, the check of every request's token
 * (scripts/fuzz.sh builds and runs it): no crash, no leak, no UB.  The
 * first byte picks the mode: odd, the rest is the token as sent (what an
 * attacker controls: the path before the signature matches); even, the
 * rest is "header\0payload" that is base64url-encoded and correctly
 * signed here, so mutations reach the header and claims checks behind
 * the HMAC too.  Either way a success must name a well-formed session. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kg_jwt.h"

#define KEY "fuzzing key, thirty-two bytes at least"

static size_t
b64url(const uint8_t *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789-_";
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t k = len - i < 3 ? len - i : 3;

		if (k > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		for (size_t j = 0; j < k + 1; j++)
			out[n++] = a[(v >> (18 - 6 * j)) & 63];
	}
	return n;
}

static char *
signed_token(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t hlen = nul ? (size_t)(nul - data) : size;
	size_t plen = nul ? size - hlen - 1 : 0;
	char *t = malloc(2 * size + 64);
	unsigned char mac[32];
	unsigned maclen = 0;
	size_t n;

	n = b64url(data, hlen, t);
	t[n++] = '.';
	n += b64url(nul ? nul + 1 : data, plen, t + n);
	HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (unsigned char *)t, n, mac,
	     &maclen);
	t[n++] = '.';
	n += b64url(mac, maclen, t + n);
	t[n] = 0;
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_jwt_claims c;
	struct kg_err err;
	char *t;

	if (size < 1 || size > 3 * KG_JWT_MAX)
		return 0;
	if (data[0] & 1) {
		t = malloc(size);
		memcpy(t, data + 1, size - 1);
		t[size - 1] = 0;
	} else {
		t = signed_token(data + 1, size - 1);
	}
	if (kg_jwt_verify(t, KEY, strlen(KEY), "kartograf", 1800000000, &c,
			  &err) == 0 &&
	    (strlen(c.sub) != 36 || strlen(c.jti) != KG_JWT_JTI_LEN ||
	     c.epoch < 0 || c.exp <= 1800000000))
		abort();
	free(t);
	return 0;
}
