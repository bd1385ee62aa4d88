/*
 * kg_auth - who is making this request, and sessions that can be ended.
 *
 * Tokens are JWTs signed with HS256 (libjwt) using [auth] jwt_key, with
 * claims sub (user id), role, iat, exp, iss, jti (128 random bits, hex)
 * and epoch (the user's token epoch when it was issued).  Verification
 * (kg_jwt, our own code: it runs on every request) accepts nothing but
 * HS256 with our key (so "alg":"none" and RS256-with-our-secret-as-
 * public-key tricks fail), checks exp, nbf, iat and iss, and then re-reads the user and its session state from the
 * database in ONE statement on every request:
 *
 *   - a deleted user's tokens stop working at once;
 *   - a changed role takes effect on the next request (the role comes
 *     from the database, not from the token);
 *   - a password change bumps users.token_epoch: every token with the old
 *     epoch ends (kartograf-admin passwd, POST /api/auth/password);
 *   - POST /api/auth/logout puts the token's jti into revoked_tokens
 *     until its exp: that one token ends.
 *
 * A token without jti or epoch (issued before sessions could end) is
 * refused: its holder signs in again once.
 *
 * Endpoint programs do not call kg_auth_request directly: a route
 * declared with KG_ROUTE_AUTH is authenticated by kg_app before its
 * handler runs, and the handler finds the user in req->user and the
 * session in req->session.  A KG_ROUTE_TICKET route also accepts
 * ?ticket= (kg_ticket: single-use, 60 s, bound to the path), and a
 * KG_ROUTE_QUERY_TOKEN route accepts ?token= only while [auth]
 * query_token is on (off by default: URLs end up in logs).
 */
#ifndef KG_AUTH_H
#define KG_AUTH_H

#include <time.h>

#include "kg_err.h"
#include "kg_jwt.h"
#include "kg_user.h"

#define KG_AUTH_MIN_KEY 32	/* bytes of [auth] jwt_key */
#define KG_AUTH_JTI_LEN KG_JWT_JTI_LEN	/* hex characters */

/* What a token says about its session. */
struct kg_session {
	char jti[KG_AUTH_JTI_LEN + 1];
	long long epoch;
	time_t expires;		/* the token's exp */
};

struct kg_req;

/* Refuses a missing or short signing key (programs call this at start). */
int kg_auth_check_config(struct kg_err *err);

/* New token for `u` (its current token_epoch); *token is malloc'ed
 * (caller frees). */
int kg_auth_issue(const struct kg_user *u, char **token, time_t *expires,
		  struct kg_err *err);

/* Verify `token` and load its user: 0, or -1 with a 401 (503 if the
 * database is down).  `s` (may be NULL) gets the session. */
int kg_auth_verify(const char *token, struct kg_user *out,
		   struct kg_session *s, struct kg_err *err);

/*
 * The user and its session state as columns of a statement that also
 * reads what the request is about (one round trip where two are not
 * needed): select these from "users u" with the token's jti as the
 * parameter named by `jti` ("$3"); kg_auth_session_row reads them.
 */
#define KG_AUTH_SESSION_COLUMNS(jti)                                   \
	"u.id, u.email, u.display_name, u.role, u.token_epoch,"       \
	" EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = " jti ")"
#define KG_AUTH_SESSION_NCOLUMNS (KG_USER_NCOLUMNS + 1)

struct pg_result;
/*
 * Is session `s` alive, by the KG_AUTH_SESSION_COLUMNS at column `col`
 * of row `row` of res (no such row: the user is gone)?  Fills `out`
 * (fresh role).  0, or -1 with 401 "session_ended" (user deleted,
 * password changed, logged out) or "token_expired".
 */
int kg_auth_session_row(const struct pg_result *res, int row, int col,
			const struct kg_session *s, struct kg_user *out,
			struct kg_err *err);

/*
 * Is session `s` of user `user_id` still alive?  Re-reads the user into
 * `out` (fresh role).  0, or -1 with 401 "session_ended" (user deleted,
 * password changed, logged out), "token_expired", or 503.
 */
int kg_auth_session_check(const char *user_id, const struct kg_session *s,
			  struct kg_user *out, struct kg_err *err);

/* End session `s` of `user_id` (logout). */
int kg_auth_revoke(const char *user_id, const struct kg_session *s,
		   struct kg_err *err);

/* Authenticate a request: Bearer header, or (by route flags, see above)
 * ?ticket= or ?token=.  With KG_ROUTE_AUTH_INLINE only the token is
 * checked and `out` gets nothing but the user's id: the handler's own
 * statement re-reads the user (KG_AUTH_SESSION_COLUMNS). */
int kg_auth_request(struct kg_req *req, unsigned route_flags,
		    struct kg_user *out, struct kg_session *s,
		    struct kg_err *err);

/* A 401 in err gets the "invalid_token" challenge header. */
void kg_auth_challenge(struct kg_req *req, const struct kg_err *err);

/* "t" or "f": SQL parameter for "owner_id = $n OR $m::boolean". */
const char *kg_auth_admin_param(const struct kg_user *u);

#endif
