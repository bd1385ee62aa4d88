/*
 * kg_jwt - checking the HS256 tokens kg_auth issues, on every request.
 *
 * Issuing stays with libjwt (kg_auth_issue, once per sign-in, next to an
 * argon2 hash that costs a thousand times more).  Verifying is here, in
 * our own code, because it runs on every authenticated request and
 * libjwt's path costs 6.6-7.1 us of CPU per token on this machine
 * against 1.5-1.7 us for this one (tests/bench/bench_jwt.c, README
 * "The token check"):
 * libjwt 1.10 computes the HMAC with OpenSSL 3's one-shot HMAC(), which
 * fetches the algorithm from the provider on every call, decodes base64
 * through BIO chains and builds jansson trees of header and claims.
 * Here the HMAC-SHA256 context is keyed once per process and re-used,
 * base64url is decoded by a strict 30-line decoder, and the claims are
 * read with cJSON (already linked) only after the signature matched.
 *
 * What is checked, in this order (anything else -> 401):
 *   - at most KG_JWT_MAX bytes, exactly three base64url segments (no
 *     padding, no stray characters, canonical trailing bits);
 *   - the signature is HMAC-SHA256 of "header.payload" under the key,
 *     32 bytes, compared in constant time.  Nothing of the header or
 *     the payload is parsed before that (so no attacker-made JSON ever
 *     reaches a parser);
 *   - the header is an object whose "alg" is exactly "HS256" (pinned:
 *     "none", HS512 or RS256 fail even with a matching HMAC), "typ"
 *     absent or "JWT", and no "crit" (we implement no extension);
 *   - the payload: exp (required, now < exp: 401 token_expired), nbf and
 *     iat if present not beyond now + KG_JWT_CLOCK_SKEW, iss equal to the
 *     configured issuer, sub a 36-character id, jti 32 lower-case hex
 *     digits, epoch an integer >= 0.  Time claims and epoch must be
 *     integers (a fraction or a string is refused, as libjwt did).
 *
 * There is one signing key ([auth] jwt_key), no key rotation: changing
 * the key ends every session, which is what its README section says.
 */
#ifndef KG_JWT_H
#define KG_JWT_H

#include <stddef.h>
#include <time.h>

#include "kg_err.h"

#define KG_JWT_MAX 4096		/* bytes of a token */
#define KG_JWT_JTI_LEN 32	/* hex characters */
#define KG_JWT_CLOCK_SKEW 60	/* seconds tolerated between web hosts */

/* What a verified token says. */
struct kg_jwt_claims {
	char sub[37];
	char jti[KG_JWT_JTI_LEN + 1];
	long long epoch;
	long long exp;
};

/*
 * Verify `token` under `key` (keylen bytes) at time `now` for `issuer`:
 * 0 with `out` filled, or -1 with a 401 in err ("unauthorized", or
 * "token_expired" for a genuine token past its exp), or a 500 if
 * OpenSSL fails.  Thread-safe (the keyed context is behind a mutex).
 */
int kg_jwt_verify(const char *token, const void *key, size_t keylen,
		  const char *issuer, time_t now, struct kg_jwt_claims *out,
		  struct kg_err *err);

#endif
