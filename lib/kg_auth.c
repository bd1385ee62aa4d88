#include "kg_auth.h"
#include "kg_config.h"
#include "kg_http.h"
#include "kg_log.h"

#include <errno.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Tolerated clock difference between web hosts for iat/nbf. */
#define CLOCK_SKEW 60

int
kg_auth_check_config(struct kg_err *err)
{
	if (strlen(kg_conf_str("auth", "jwt_key")) < KG_AUTH_MIN_KEY)
		return kg_err_set(err, 500, "config_invalid",
				  "[auth] jwt_key is missing or shorter than "
				  "%d characters (generate one with: openssl "
				  "rand -hex 32)", KG_AUTH_MIN_KEY);
	return 0;
}

static const unsigned char *
signing_key(int *len)
{
	const char *key = kg_conf_str("auth", "jwt_key");

	*len = (int)strlen(key);
	return (const unsigned char *)key;
}

int
kg_auth_issue(const struct kg_user *u, char **token, time_t *expires,
	      struct kg_err *err)
{
	time_t now = time(NULL);
	jwt_t *jwt = NULL;
	int keylen, rc = -1;
	const unsigned char *key = signing_key(&keylen);

	*token = NULL;
	*expires = now + kg_conf_int("auth", "token_ttl");
	if (jwt_new(&jwt) || jwt_add_grant(jwt, "sub", u->id) ||
	    jwt_add_grant(jwt, "role", u->role) ||
	    jwt_add_grant(jwt, "iss", kg_conf_str("auth", "issuer")) ||
	    jwt_add_grant_int(jwt, "iat", now) ||
	    jwt_add_grant_int(jwt, "exp", *expires) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, key, keylen))
		goto out;
	*token = jwt_encode_str(jwt);
	rc = *token ? 0 : -1;
out:
	jwt_free(jwt);
	if (rc < 0)
		kg_err_set(err, 500, "internal", "cannot issue token");
	return rc;
}

/* A numeric claim; absent gives `def`.  libjwt returns 0 and sets errno
 * when the claim is missing or not a number. */
static long
claim_int(jwt_t *jwt, const char *name, long def)
{
	long v;

	errno = 0;
	v = jwt_get_grant_int(jwt, name);
	return errno ? def : v;
}

static int
check_claims(jwt_t *jwt, struct kg_err *err)
{
	time_t now = time(NULL);
	const char *iss = jwt_get_grant(jwt, "iss");
	long exp = claim_int(jwt, "exp", 0);

	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		return kg_err_set(err, 401, "unauthorized", "invalid token");
	if (exp <= 0 || now >= exp)
		return kg_err_set(err, 401, "token_expired",
				  "session expired, please sign in again");
	if (claim_int(jwt, "nbf", 0) > now + CLOCK_SKEW ||
	    claim_int(jwt, "iat", 0) > now + CLOCK_SKEW)
		return kg_err_set(err, 401, "unauthorized",
				  "token not valid yet");
	if (!iss || strcmp(iss, kg_conf_str("auth", "issuer")) != 0)
		return kg_err_set(err, 401, "unauthorized", "invalid token");
	return 0;
}

int
kg_auth_verify(const char *token, struct kg_user *out, time_t *expires,
	       struct kg_err *err)
{
	jwt_t *jwt = NULL;
	const char *sub;
	int keylen, rc = -1;
	const unsigned char *key = signing_key(&keylen);
	struct kg_err lookup = {0};

	if (strlen(token) > KG_AUTH_MAX_TOKEN ||
	    jwt_decode(&jwt, token, key, keylen) != 0 || !jwt) {
		kg_err_set(err, 401, "unauthorized", "invalid token");
		goto out;
	}
	if (check_claims(jwt, err) < 0)
		goto out;
	if (expires)
		*expires = (time_t)claim_int(jwt, "exp", 0);
	sub = jwt_get_grant(jwt, "sub");
	if (!sub || strlen(sub) != 36) {
		kg_err_set(err, 401, "unauthorized", "invalid token");
		goto out;
	}
	if (kg_user_by_id(sub, out, &lookup) < 0) {
		if (lookup.status == 404)
			kg_err_set(err, 401, "unauthorized",
				   "account no longer exists");
		else if (err)
			*err = lookup;
		goto out;
	}
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}

/* "Bearer <token>" with the scheme case-insensitive (RFC 7235). */
static const char *
bearer_token(const char *header)
{
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	return *header ? header : NULL;
}

int
kg_auth_request(struct kg_req *req, int allow_query_token,
		struct kg_user *out, time_t *expires, struct kg_err *err)
{
	const char *header = kg_req_env(req, "HTTP_AUTHORIZATION");
	const char *token = bearer_token(header);

	if (header && strlen(header) > 8192)
		return kg_err_set(err, 431, "header_too_large",
				  "Authorization header too large");
	if (!token && !header && allow_query_token)
		token = kg_req_query(req, "token");
	if (!token) {
		kg_resp_header(req, "WWW-Authenticate", "Bearer");
		return kg_err_set(err, 401, "unauthorized",
				  header ? "malformed Authorization header"
					 : "sign in required");
	}
	if (kg_auth_verify(token, out, expires, err) < 0) {
		if (err && err->status == 401)
			kg_resp_header(req, "WWW-Authenticate",
				       "Bearer error=\"invalid_token\"");
		return -1;
	}
	KG_DEBUG("authenticated user %s", out->id);
	return 0;
}

const char *
kg_auth_admin_param(const struct kg_user *u)
{
	return strcmp(u->role, "admin") == 0 ? "t" : "f";
}
