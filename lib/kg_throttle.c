#include "kg_throttle.h"
#include "kg_redis.h"

#include <stdlib.h>

int
kg_throttle_blocked(const char *const *keys, int nkeys, long long limit,
		    long long *retry_after, struct kg_err *err)
{
	int blocked = 0;

	*retry_after = 0;
	for (int i = 0; i < nkeys; i++) {
		redisReply *r = kg_redis_cmd(err, "GET %s", keys[i]);
		long long count;

		if (!r)
			return -1;
		count = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
		freeReplyObject(r);
		if (count < limit)
			continue;
		blocked = 1;
		r = kg_redis_cmd(err, "TTL %s", keys[i]);
		if (!r)
			return -1;
		if (r->type == REDIS_REPLY_INTEGER && r->integer > *retry_after)
			*retry_after = r->integer;
		freeReplyObject(r);
	}
	if (blocked && *retry_after < 1)
		*retry_after = 1;
	return blocked;
}

int
kg_throttle_hit(const char *const *keys, int nkeys, long long window,
		struct kg_err *err)
{
	for (int i = 0; i < nkeys; i++) {
		redisReply *r = kg_redis_cmd(err, "INCR %s", keys[i]);

		if (!r)
			return -1;
		freeReplyObject(r);
		/* NX: only a key without expiry gets one, so repeated
		 * failures do not extend the window forever. */
		r = kg_redis_cmd(err, "EXPIRE %s %lld NX", keys[i], window);
		if (!r)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

int
kg_throttle_clear(const char *key, struct kg_err *err)
{
	redisReply *r = kg_redis_cmd(err, "DEL %s", key);

	freeReplyObject(r);
	return r ? 0 : -1;
}
