#include "kg_throttle.h"
#include "kg_redis.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_RULES 8

/* KEYS: counters; ARGV: their windows.  INCR, then EXPIRE for a new
 * counter (or one that somehow has none): both or neither happen. */
const char kg_throttle_hit_script[] =
	"for i, k in ipairs(KEYS) do "
	"  local n = redis.call('INCR', k) "
	"  if n == 1 or redis.call('TTL', k) < 0 then "
	"    redis.call('EXPIRE', k, ARGV[i]) "
	"  end "
	"end "
	"return #KEYS";

/* KEYS: counters; ARGV: limits, then windows.  Returns {blocked index
 * (1-based, 0 = none), longest TTL among the full counters}.  A full
 * counter without expiry gets its window (repair, see the header). */
static const char check_script[] =
	"local n, first, wait = #KEYS, 0, 0 "
	"for i, k in ipairs(KEYS) do "
	"  local c = tonumber(redis.call('GET', k) or '0') "
	"  if c >= tonumber(ARGV[i]) then "
	"    local t = redis.call('TTL', k) "
	"    if t < 0 then "
	"      redis.call('EXPIRE', k, ARGV[n + i]) "
	"      t = tonumber(ARGV[n + i]) "
	"    end "
	"    if first == 0 then first = i end "
	"    if t > wait then wait = t end "
	"  end "
	"end "
	"return {first, wait}";

/* EVAL script n key... then one or two numbers per rule. */
static redisReply *
eval_rules(const char *script, const struct kg_throttle_rule *rules, int n,
	   int with_limits, struct kg_err *err)
{
	const char *argv[3 + 3 * MAX_RULES];
	char nums[2 * MAX_RULES + 1][24];
	int argc = 0, k = 0;

	if (n < 1 || n > MAX_RULES) {
		kg_err_set(err, 500, "internal", "bad throttle rules");
		return NULL;
	}
	argv[argc++] = "EVAL";
	argv[argc++] = script;
	snprintf(nums[k], sizeof(nums[k]), "%d", n);
	argv[argc++] = nums[k++];
	for (int i = 0; i < n; i++)
		argv[argc++] = rules[i].key;
	for (int i = 0; with_limits && i < n; i++) {
		snprintf(nums[k], sizeof(nums[k]), "%lld", rules[i].limit);
		argv[argc++] = nums[k++];
	}
	for (int i = 0; i < n; i++) {
		snprintf(nums[k], sizeof(nums[k]), "%lld", rules[i].window);
		argv[argc++] = nums[k++];
	}
	return kg_redis_argv(err, argc, argv, NULL);
}

static int
script_failed(redisReply *r, struct kg_err *err)
{
	freeReplyObject(r);
	return kg_err_set(err, 503, "unavailable",
			  "redis refused the throttle script");
}

int
kg_throttle_blocked(const struct kg_throttle_rule *rules, int n,
		    long long *retry_after, int *which, struct kg_err *err)
{
	redisReply *r = eval_rules(check_script, rules, n, 1, err);
	long long first;

	*retry_after = 0;
	if (which)
		*which = -1;
	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER)
		return script_failed(r, err);
	first = r->element[0]->integer;
	*retry_after = r->element[1]->integer;
	freeReplyObject(r);
	if (first == 0)
		return 0;
	if (which)
		*which = (int)first - 1;
	if (*retry_after < 1)
		*retry_after = 1;
	return 1;
}

int
kg_throttle_hit(const struct kg_throttle_rule *rules, int n,
		struct kg_err *err)
{
	redisReply *r = eval_rules(kg_throttle_hit_script, rules, n, 0, err);

	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER)
		return script_failed(r, err);
	freeReplyObject(r);
	return 0;
}

int
kg_throttle_clear(const char *key, struct kg_err *err)
{
	redisReply *r = kg_redis_cmd(err, "DEL %s", key);

	freeReplyObject(r);
	return r ? 0 : -1;
}
