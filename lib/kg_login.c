#include "kg_login.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_throttle.h"

#include <stdio.h>

#define ADDR_MAX 64

struct login_keys {
	char pair[KG_EMAIL_MAX + ADDR_MAX + 32];
	char email[KG_EMAIL_MAX + 32];
	char addr[ADDR_MAX + 32];
};

/* An email that does not normalise still gets counters (the same for
 * every such string), so garbage cannot be used to guess for free. */
static void
make_rules(const char *email, const char *addr, struct login_keys *k,
	   struct kg_throttle_rule r[3])
{
	char norm[KG_EMAIL_MAX + 1];
	long long window = kg_config_int("auth", "login_window");

	if (kg_user_normalize_email(email, norm, NULL) < 0)
		snprintf(norm, sizeof(norm), "(invalid)");
	snprintf(k->pair, sizeof(k->pair), "kg:login:pair:%s|%.*s", norm,
		 ADDR_MAX, addr);
	snprintf(k->email, sizeof(k->email), "kg:login:email:%s", norm);
	snprintf(k->addr, sizeof(k->addr), "kg:login:addr:%.*s", ADDR_MAX,
		 addr);
	r[0] = (struct kg_throttle_rule){
		k->pair, kg_config_int("auth", "login_max_failures"), window};
	r[1] = (struct kg_throttle_rule){
		k->email, kg_config_int("auth", "login_email_max_failures"),
		window};
	r[2] = (struct kg_throttle_rule){
		k->addr, kg_config_int("auth", "login_addr_max_failures"),
		window};
}

int
kg_login_check(const char *email, const char *password,
	       const char *client_addr, struct kg_user *out,
	       long long *retry_after, struct kg_err *err)
{
	static const char *const what[] = {"this account from this address",
					   "this account", "this address"};
	struct login_keys keys;
	struct kg_throttle_rule rules[3];
	struct kg_err auth = {0};
	int blocked, which;

	make_rules(email, client_addr, &keys, rules);
	blocked = kg_throttle_blocked(rules, 3, retry_after, &which, err);
	if (blocked < 0)
		return -1;
	if (blocked) {
		KG_INFO("login throttled (%s)", what[which]);
		return kg_err_set(err, 429, "too_many_attempts",
				  "too many failed sign-in attempts for %s, "
				  "try again in %lld seconds", what[which],
				  *retry_after);
	}
	if (kg_user_authenticate(email, password, out, &auth) == 0) {
		kg_throttle_clear(keys.pair, NULL);
		return 0;
	}
	if (auth.status == 401 && kg_throttle_hit(rules, 3, NULL) < 0)
		return kg_err_set(err, 503, "unavailable", "redis unavailable");
	if (err)
		*err = auth;
	return -1;
}
