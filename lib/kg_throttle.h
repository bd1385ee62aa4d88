/*
 * kg_throttle - fixed-window failure counters in Redis, shared by every
 * web host (login throttling, kg_login).
 *
 * A counter is created with its window as expiry on the first failure,
 * so the window starts at the first failure and the key vanishes by
 * itself; the remaining TTL is what Retry-After reports.
 *
 * Every update is ONE Lua script (EVAL): the increment and the expiry
 * cannot be separated by a crash or a lost connection, so there is no
 * counter without a TTL (which would throttle its email forever).  The
 * script also gives an expiry to any counter found without one (left by
 * an older version that sent INCR and EXPIRE separately).  Scripts need
 * Redis >= 2.6; Kartograf as a whole needs 6.2 (kg_redis).
 */
#ifndef KG_THROTTLE_H
#define KG_THROTTLE_H

#include "kg_err.h"

struct kg_throttle_rule {
	const char *key;	/* kg:... */
	long long limit;	/* failures allowed within the window */
	long long window;	/* seconds */
};

/*
 * 1 if any rule's counter has reached its limit (then *retry_after is
 * the longest remaining TTL in seconds, >= 1, and *which the index of
 * the first such rule), 0 if allowed, -1 if Redis is unavailable.
 */
int kg_throttle_blocked(const struct kg_throttle_rule *rules, int n,
			long long *retry_after, int *which,
			struct kg_err *err);

/* Count one failure against every rule's key (one atomic script). */
int kg_throttle_hit(const struct kg_throttle_rule *rules, int n,
		    struct kg_err *err);

int kg_throttle_clear(const char *key, struct kg_err *err);

/* The Lua source of kg_throttle_hit (for the atomicity test). */
extern const char kg_throttle_hit_script[];

#endif
