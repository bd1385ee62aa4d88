/*
 * kg_auth - who is making this request.
 *
 * Tokens are JWTs signed with HS256 (libjwt) using [auth] jwt_key, with
 * claims sub (user id), role, iat, exp and iss.  Verification accepts
 * nothing but HS256 with our key (so "alg":"none" and RS256-with-our-
 * secret-as-public-key tricks fail), checks exp, nbf, iat and iss, and
 * then loads the user from the database on every request: a deleted
 * user's tokens stop working at once, and a changed role takes effect
 * without waiting for the token to expire.
 *
 * Endpoint programs do not call this directly: a route declared with
 * KG_ROUTE_AUTH is authenticated by kg_http before its handler runs,
 * and the handler finds the user in req->user.  KG_ROUTE_QUERY_TOKEN
 * additionally accepts ?token= (EventSource cannot send headers); it is
 * refused everywhere else because URLs end up in logs and histories.
 */
#ifndef KG_AUTH_H
#define KG_AUTH_H

#include <time.h>

#include "kg_err.h"
#include "kg_user.h"

#define KG_AUTH_MIN_KEY 32	/* bytes of [auth] jwt_key */
#define KG_AUTH_MAX_TOKEN 4096

struct kg_req;

/* Refuses a missing or short signing key (programs call this at start). */
int kg_auth_check_config(struct kg_err *err);

/* New token for `u`; *token is malloc'ed (caller frees). */
int kg_auth_issue(const struct kg_user *u, char **token, time_t *expires,
		  struct kg_err *err);

/* Verify `token` and load its user: 0, or -1 with a 401 (503 if the
 * database is down).  *expires (may be NULL) gets the token's exp. */
int kg_auth_verify(const char *token, struct kg_user *out, time_t *expires,
		   struct kg_err *err);

/* Authenticate a request (Bearer header, or ?token= when allowed);
 * *expires gets the token's exp (long-lived streams end with it). */
int kg_auth_request(struct kg_req *req, int allow_query_token,
		    struct kg_user *out, time_t *expires, struct kg_err *err);

/* "t" or "f": SQL parameter for "owner_id = $n OR $m::boolean". */
const char *kg_auth_admin_param(const struct kg_user *u);

#endif
