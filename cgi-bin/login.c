/*
 * Sessions (README "Authentication"):
 *
 *   POST /api/auth/login    {email, password} -> {token, expires_at, user}
 *   POST /api/auth/logout   (Bearer) -> {"ended": true}: this token ends
 *   POST /api/auth/password (Bearer) {current_password, new_password}
 *                           -> {token, expires_at, user}: every other
 *                           session of the user ends; 422 weak_password,
 *                           403 wrong_password
 *
 * Unknown email and wrong password give the same 401 after the same
 * amount of work; failures are throttled per (email, address), per email
 * and per address (kg_login), and the current password of a password
 * change goes through the same throttle.
 */
#include "kg_app.h"
#include "kg_auth.h"
#include "kg_body.h"
#include "kg_config.h"
#include "kg_login.h"
#include "kg_password.h"
#include "kg_req.h"
#include "kg_resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- bodies (checked by kg_app before the handlers run) -------------- */

static const struct kg_body_field login_body[] = {
	{"email", KG_BODY_STRING, KG_BODY_REQUIRED, .min = 1,
	 .max = KG_EMAIL_MAX},
	{"password", KG_BODY_STRING, KG_BODY_REQUIRED, .min = 1,
	 .max = KG_PASSWORD_MAX_LEN},
	{0},
};

/* The strength rule (422 weak_password) is kg_password_strength's, so
 * the declared bounds here are only the outer ones. */
static const struct kg_body_field password_body[] = {
	{"current_password", KG_BODY_STRING, KG_BODY_REQUIRED, .min = 1,
	 .max = KG_PASSWORD_MAX_LEN},
	{"new_password", KG_BODY_STRING, KG_BODY_REQUIRED, .min = 1,
	 .max = KG_PASSWORD_MAX_LEN},
	{0},
};

static const struct kg_body_field no_body[] = {{0}};

/* ---- handlers ---------------------------------------------------------- */

static int
answer_token(struct kg_req *req, const struct kg_user *u)
{
	cJSON *o;
	char *token, when[32];
	time_t expires;
	struct tm tm;

	if (kg_auth_issue(u, &token, &expires, &req->err) < 0)
		return -1;
	gmtime_r(&expires, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "token", token);
	cJSON_AddStringToObject(o, "expires_at", when);
	cJSON_AddItemToObject(o, "user", kg_user_json(u));
	free(token);
	return kg_resp_json(req, 200, o);
}

/* The password check of login and password change: on 429 the answer
 * carries Retry-After. */
static int
check_password(struct kg_req *req, const char *email, const char *password,
	       struct kg_user *out)
{
	long long retry = 0;
	char value[32];

	if (kg_login_check(email, password, kg_req_client_addr(req), out,
			   &retry, &req->err) == 0)
		return 0;
	if (req->err.status == 429) {
		snprintf(value, sizeof(value), "%lld", retry);
		kg_resp_header(req, "Retry-After", value);
	}
	return -1;
}

static int
post_login(struct kg_req *req)
{
	struct kg_user user;

	if (check_password(req, kg_body_str(req->json, "email"),
			   kg_body_str(req->json, "password"), &user) < 0)
		return -1;
	return answer_token(req, &user);
}

static int
post_logout(struct kg_req *req)
{
	cJSON *o;

	if (kg_auth_revoke(req->user.id, &req->session, &req->err) < 0)
		return -1;
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ended", 1);
	return kg_resp_json(req, 200, o);
}

static int
post_password(struct kg_req *req)
{
	const char *current = kg_body_str(req->json, "current_password");
	const char *new_password = kg_body_str(req->json, "new_password");
	struct kg_user user;

	if (kg_password_strength(new_password, req->user.email,
				 &req->err) < 0)
		return -1;
	if (check_password(req, req->user.email, current, &user) < 0) {
		/* Not 401: the session is fine, the body is wrong (a 401
		 * would send the UI to the login page). */
		if (req->err.status == 401)
			kg_req_fail(req, 403, "wrong_password",
				    "the current password is wrong");
		return -1;
	}
	if (kg_user_change_password(req->user.id, new_password, &user,
				    &req->err) < 0)
		return -1;
	return answer_token(req, &user);
}

static int
init(struct kg_err *err)
{
	return kg_auth_check_config(err);
}

static const struct kg_route routes[] = {
	{"POST", "/api/auth/login", post_login, 0, login_body,
	 .summary = "Sign in: a bearer token for the API",
	 .response = "Login", .errors = "401 429"},
	{"POST", "/api/auth/logout", post_logout, KG_ROUTE_AUTH, no_body,
	 .summary = "End this token's session", .response = "Ended"},
	{"POST", "/api/auth/password", post_password, KG_ROUTE_AUTH,
	 password_body,
	 .summary = "Change the password; every other session ends",
	 .response = "Login", .errors = "403 429"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"login", routes, init, NULL};

	return kg_app_main(&app, argc, argv);
}
