#include "kg_auth.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_hash.h"
#include "kg_jwt.h"
#include "kg_log.h"
#include "kg_req.h"
#include "kg_resp.h"
#include "kg_route.h"
#include "kg_ticket.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
kg_auth_check_config(struct kg_err *err)
{
	if (strlen(kg_config_str("auth", "jwt_key")) < KG_AUTH_MIN_KEY)
		return kg_err_set(err, 500, "config_invalid",
				  "[auth] jwt_key is missing or shorter than "
				  "%d characters (generate one with: openssl "
				  "rand -hex 32)", KG_AUTH_MIN_KEY);
	return 0;
}

static const unsigned char *
signing_key(int *len)
{
	const char *key = kg_config_str("auth", "jwt_key");

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
	char jti[KG_AUTH_JTI_LEN + 1];

	*token = NULL;
	*expires = now + kg_config_int("auth", "token_ttl");
	if (kg_hash_random_hex(jti, KG_AUTH_JTI_LEN / 2) < 0 || jwt_new(&jwt) ||
	    jwt_add_grant(jwt, "sub", u->id) ||
	    jwt_add_grant(jwt, "role", u->role) ||
	    jwt_add_grant(jwt, "iss", kg_config_str("auth", "issuer")) ||
	    jwt_add_grant(jwt, "jti", jti) ||
	    jwt_add_grant_int(jwt, "epoch", u->token_epoch) ||
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

/* The token's signature and claims (no database): sub into user_id. */
static int
token_session(const char *token, char user_id[37], struct kg_session *s,
	      struct kg_err *err)
{
	struct kg_jwt_claims c;
	int keylen;
	const unsigned char *key = signing_key(&keylen);

	if (kg_jwt_verify(token, key, (size_t)keylen,
			  kg_config_str("auth", "issuer"), time(NULL), &c,
			  err) < 0)
		return -1;
	memcpy(user_id, c.sub, sizeof(c.sub));
	memcpy(s->jti, c.jti, sizeof(s->jti));
	s->epoch = c.epoch;
	s->expires = (time_t)c.exp;
	return 0;
}

int
kg_auth_verify(const char *token, struct kg_user *out, struct kg_session *s,
	       struct kg_err *err)
{
	struct kg_session local;
	char user_id[37];

	if (!s)
		s = &local;
	if (token_session(token, user_id, s, err) < 0)
		return -1;
	return kg_auth_session_check(user_id, s, out, err);
}

int
kg_auth_session_row(const PGresult *res, int row, int col,
		    const struct kg_session *s, struct kg_user *out,
		    struct kg_err *err)
{
	int revoked;

	if (time(NULL) >= s->expires)
		return kg_err_set(err, 401, "token_expired",
				  "session expired, please sign in again");
	if (row >= PQntuples(res))
		return kg_err_set(err, 401, "session_ended",
				  "account no longer exists");
	kg_user_from_row(res, row, col, out);
	revoked = *PQgetvalue(res, row, col + KG_USER_NCOLUMNS) == 't';
	if (revoked || out->token_epoch != s->epoch)
		return kg_err_set(err, 401, "session_ended",
				  "this session has ended, please sign in "
				  "again");
	return 0;
}

/*
 * The user and the state of the session in one statement: the same
 * round trip that re-reads the user (role, existence) tells whether the
 * token's jti was revoked.  The epoch comparison needs no query.
 */
int
kg_auth_session_check(const char *user_id, const struct kg_session *s,
		      struct kg_user *out, struct kg_err *err)
{
	PGresult *res;
	int rc;

	res = KG_DB_QUERY(err, "SELECT " KG_AUTH_SESSION_COLUMNS("$2")
			       " FROM users u WHERE u.id = $1::uuid",
			  user_id, s->jti);
	if (!res)
		return -1;
	rc = kg_auth_session_row(res, 0, 0, s, out, err);
	PQclear(res);
	return rc;
}

int
kg_auth_revoke(const char *user_id, const struct kg_session *s,
	       struct kg_err *err)
{
	char exp[24];

	snprintf(exp, sizeof(exp), "%lld", (long long)s->expires);
	if (kg_db_exec(err, "INSERT INTO revoked_tokens (jti, user_id, "
			    "expires_at) VALUES ($1, $2::uuid, to_timestamp($3"
			    "::bigint)) ON CONFLICT (jti) DO NOTHING", 3,
		       (const char *const[]){s->jti, user_id, exp}) < 0)
		return -1;
	/* Rows past their token's exp protect nothing any more. */
	if (kg_db_exec(NULL, "DELETE FROM revoked_tokens WHERE expires_at < "
			     "now() - interval '5 minutes'", 0, NULL) < 0)
		KG_WARN("could not prune revoked_tokens");
	KG_INFO("session %.8s… of user %s ended", s->jti, user_id);
	return 0;
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

/* The session a request names (Bearer header, or by route flags
 * ?ticket= or ?token=), checked as far as it can be without the
 * database: its user's id into user_id.  -2 when it names none (the
 * 401 then carries the plain "Bearer" challenge). */
static int
request_session(struct kg_req *req, unsigned route_flags,
		char user_id[37], struct kg_session *s, struct kg_err *err)
{
	const char *header = kg_req_env(req, "HTTP_AUTHORIZATION");
	const char *token = bearer_token(header), *ticket;

	if (header && strlen(header) > 8192)
		return kg_err_set(err, 431, "header_too_large",
				  "Authorization header too large");
	ticket = !header && (route_flags & KG_ROUTE_TICKET)
			 ? kg_req_query(req, "ticket") : NULL;
	if (!token && !header && !ticket &&
	    (route_flags & KG_ROUTE_QUERY_TOKEN) &&
	    kg_config_bool("auth", "query_token"))
		token = kg_req_query(req, "token");
	if (!token && !ticket) {
		kg_resp_header(req, "WWW-Authenticate", "Bearer");
		kg_err_set(err, 401, "unauthorized",
			   header ? "malformed Authorization header"
				  : "sign in required");
		return -2;
	}
	/* a ticket is made from a session whose token was checked then */
	return ticket ? kg_ticket_redeem(ticket, req->path, user_id, s, err)
		      : token_session(token, user_id, s, err);
}

void
kg_auth_challenge(struct kg_req *req, const struct kg_err *err)
{
	if (err && err->status == 401 && !req->status)
		kg_resp_header(req, "WWW-Authenticate",
			       "Bearer error=\"invalid_token\"");
}

int
kg_auth_request(struct kg_req *req, unsigned route_flags,
		struct kg_user *out, struct kg_session *s, struct kg_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = request_session(req, route_flags, out->id, s, err);
	if (rc == 0 && !(route_flags & KG_ROUTE_AUTH_INLINE))
		rc = kg_auth_session_check(out->id, s, out, err);
	if (rc < 0) {
		if (rc == -1)
			kg_auth_challenge(req, err);
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
