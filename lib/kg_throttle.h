/*
 * kg_throttle - fixed-window failure counters in Redis, shared by every
 * web host (login throttling: 5 failures per email or per client address
 * in 15 minutes).
 *
 * A counter key is created with the window as its expiry on the first
 * failure, so the window starts at the first failure and the key
 * vanishes by itself; the remaining TTL is what Retry-After reports.
 */
#ifndef KG_THROTTLE_H
#define KG_THROTTLE_H

#include "kg_err.h"

/*
 * 1 if any key has reached `limit` (then *retry_after is the longest
 * remaining TTL in seconds), 0 if allowed, -1 if Redis is unavailable.
 */
int kg_throttle_blocked(const char *const *keys, int nkeys, long long limit,
			long long *retry_after, struct kg_err *err);

/* Count one failure against every key. */
int kg_throttle_hit(const char *const *keys, int nkeys, long long window,
		    struct kg_err *err);

int kg_throttle_clear(const char *key, struct kg_err *err);

#endif
