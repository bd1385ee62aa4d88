/*
 * POST /api/auth/login {email, password} -> {token, expires_at, user}
 *
 * Unknown email and wrong password give the same 401 after the same
 * amount of work (kg_user_authenticate).  Failures are counted per email
 * and per client address in Redis; once either reaches
 * [auth] login_max_failures within [auth] login_window seconds further
 * attempts get 429 with Retry-After, before any password is checked.  A
 * success clears the email's counter (not the address's: one address
 * guessing many accounts stays throttled).  If Redis is down, login
 * answers 503 rather than run without throttling.
 */
#include "kg_auth.h"
#include "kg_config.h"
#include "kg_http.h"
#include "kg_password.h"
#include "kg_throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct login_keys {
	char email[KG_EMAIL_MAX + 32];
	char addr[96];
};

static void
make_keys(struct kg_req *req, const char *email, struct login_keys *k)
{
	char norm[KG_EMAIL_MAX + 1];
	const char *addr = kg_req_env(req, "REMOTE_ADDR");

	if (kg_user_normalize_email(email, norm, NULL) < 0)
		snprintf(norm, sizeof(norm), "(invalid)");
	snprintf(k->email, sizeof(k->email), "kg:login:email:%s", norm);
	snprintf(k->addr, sizeof(k->addr), "kg:login:addr:%.64s",
		 addr ? addr : "-");
}

static int
too_many(struct kg_req *req, const struct login_keys *k)
{
	const char *keys[] = {k->email, k->addr};
	long long retry;
	char value[32];
	int blocked;

	blocked = kg_throttle_blocked(keys, 2,
				      kg_conf_int("auth", "login_max_failures"),
				      &retry, &req->err);
	if (blocked <= 0)
		return blocked;
	snprintf(value, sizeof(value), "%lld", retry);
	kg_resp_header(req, "Retry-After", value);
	return kg_fail(req, 429, "too_many_attempts",
		       "too many failed sign-in attempts, try again in %lld "
		       "seconds", retry), 1;
}

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

static int
post_login(struct kg_req *req)
{
	const char *email = kg_field_str(req->json, "email");
	const char *password = kg_field_str(req->json, "password");
	struct login_keys keys;
	struct kg_user user;
	int rc;

	make_keys(req, email, &keys);
	rc = too_many(req, &keys);
	if (rc != 0)
		return -1;
	if (kg_user_authenticate(email, password, &user, &req->err) < 0) {
		if (req->err.status == 401 &&
		    kg_throttle_hit((const char *[]){keys.email, keys.addr}, 2,
				    kg_conf_int("auth", "login_window"),
				    NULL) < 0)
			return kg_fail(req, 503, "unavailable",
				       "redis unavailable");
		return -1;
	}
	kg_throttle_clear(keys.email, NULL);
	return answer_token(req, &user);
}

static int
init(struct kg_err *err)
{
	return kg_auth_check_config(err);
}

static const struct kg_field login_body[] = {
	{"email", KG_STRING, KG_REQUIRED, .min = 1, .max = KG_EMAIL_MAX},
	{"password", KG_STRING, KG_REQUIRED, .min = 1,
	 .max = KG_PASSWORD_MAX_LEN},
	{0},
};

static const struct kg_route routes[] = {
	{"POST", "/api/auth/login", post_login, 0, login_body,
	 .summary = "Sign in: a bearer token for the API",
	 .response = "Login", .errors = "401 429"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"login", routes, init, NULL};

	return kg_app_main(&app, argc, argv);
}
