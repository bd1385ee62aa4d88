#include "kg_auth.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_hash.h"
#include "kg_http.h"
#include "kg_jwt.h"
#include "kg_log.h"
#include "kg_ticket.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	char jti[KG_AUTH_JTI_LEN + 1];

	*token = NULL;
	*expires = now + kg_conf_int("auth", "token_ttl");
	if (kg_random_hex(jti, KG_AUTH_JTI_LEN / 2) < 0 || jwt_new(&jwt) ||
	    jwt_add_grant(jwt, "sub", u->id) ||
	    jwt_add_grant(jwt, "role", u->role) ||
	    jwt_add_grant(jwt, "iss", kg_conf_str("auth", "issuer")) ||
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

int
kg_auth_verify(const char *token, struct kg_user *out, struct kg_session *s,
	       struct kg_err *err)
{
	struct kg_jwt_claims c;
	struct kg_session local;
	int keylen;
	const unsigned char *key = signing_key(&keylen);

	if (!s)
		s = &local;
	if (kg_jwt_verify(token, key, (size_t)keylen,
			  kg_conf_str("auth", "issuer"), time(NULL), &c,
			  err) < 0)
		return -1;
	memcpy(s->jti, c.jti, sizeof(s->jti));
	s->epoch = c.epoch;
	s->expires = (time_t)c.exp;
	return kg_auth_session_check(c.sub, s, out, err);
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
	int found, revoked = 0;

	if (time(NULL) >= s->expires)
		return kg_err_set(err, 401, "token_expired",
				  "session expired, please sign in again");
	res = KG_DB_QUERY(err, "SELECT " KG_USER_COLUMNS ", EXISTS (SELECT 1"
			       " FROM revoked_tokens r WHERE r.jti = $2)"
			       " FROM users WHERE id = $1::uuid",
			  user_id, s->jti);
	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		kg_user_from_row(res, 0, out);
		revoked = *PQgetvalue(res, 0, KG_USER_NCOLUMNS) == 't';
	}
	PQclear(res);
	if (!found)
		return kg_err_set(err, 401, "session_ended",
				  "account no longer exists");
	if (revoked || out->token_epoch != s->epoch)
		return kg_err_set(err, 401, "session_ended",
				  "this session has ended, please sign in "
				  "again");
	return 0;
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

/* ?ticket= (KG_ROUTE_TICKET): the ticket names the user and the
 * session it was made from; that session must still be alive. */
static int
ticket_auth(struct kg_req *req, const char *ticket, struct kg_user *out,
	    struct kg_session *s, struct kg_err *err)
{
	char user_id[37];

	if (kg_ticket_redeem(ticket, req->path, user_id, s, err) < 0)
		return -1;
	return kg_auth_session_check(user_id, s, out, err);
}

int
kg_auth_request(struct kg_req *req, unsigned route_flags,
		struct kg_user *out, struct kg_session *s, struct kg_err *err)
{
	const char *header = kg_req_env(req, "HTTP_AUTHORIZATION");
	const char *token = bearer_token(header), *ticket;
	int rc;

	if (header && strlen(header) > 8192)
		return kg_err_set(err, 431, "header_too_large",
				  "Authorization header too large");
	ticket = !header && (route_flags & KG_ROUTE_TICKET)
			 ? kg_req_query(req, "ticket") : NULL;
	if (!token && !header && !ticket &&
	    (route_flags & KG_ROUTE_QUERY_TOKEN) &&
	    kg_conf_bool("auth", "query_token"))
		token = kg_req_query(req, "token");
	if (!token && !ticket) {
		kg_resp_header(req, "WWW-Authenticate", "Bearer");
		return kg_err_set(err, 401, "unauthorized",
				  header ? "malformed Authorization header"
					 : "sign in required");
	}
	rc = ticket ? ticket_auth(req, ticket, out, s, err)
		    : kg_auth_verify(token, out, s, err);
	if (rc < 0) {
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
