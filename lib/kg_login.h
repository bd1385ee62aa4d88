/*
 * kg_login - checking an email + password, throttled so that the
 * throttle cannot be turned against users.
 *
 * Failed attempts are counted in three fixed windows of [auth]
 * login_window seconds (kg_throttle, one atomic Redis script):
 *
 *   kg:login:pair:<email>|<addr>  login_max_failures (5): one client
 *                                 guessing one account - tight;
 *   kg:login:email:<email>        login_email_max_failures (20): one
 *                                 account guessed from many addresses
 *                                 (a botnet) - looser, so that a stranger
 *                                 needs 20 tries to lock the owner out
 *                                 and gets 20 guesses per window for it;
 *   kg:login:addr:<addr>          login_addr_max_failures (100): one
 *                                 address guessing many accounts
 *                                 (credential stuffing) - high enough for
 *                                 an office behind one NAT address.
 *
 * While any of them is full the answer is 429 with Retry-After, before
 * the password is checked (so a correct guess cannot be confirmed).
 * Someone else's failures therefore never block a user: not from another
 * address (the pair counter is the user's own), and from the same office
 * address only after 100 failures.  A success clears only the pair
 * counter: the owner signing in proves nothing about the attacker.
 *
 * <addr> is the client address as kg_req_client_addr resolves it
 * (X-Forwarded-For from [http] trusted_proxies only).  If Redis is down
 * the answer is 503 rather than an unthrottled password check.
 */
#ifndef KG_LOGIN_H
#define KG_LOGIN_H

#include "kg_err.h"
#include "kg_user.h"

/*
 * 0 with `out` filled, or -1: 401 invalid_credentials, 429
 * too_many_attempts (*retry_after = seconds), 503.
 */
int kg_login_check(const char *email, const char *password,
		   const char *client_addr, struct kg_user *out,
		   long long *retry_after, struct kg_err *err);

#endif
