#include "kg_streams.h"
#include "kg_app.h"
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_config.h"
#include "kg_hash.h"
#include "kg_log.h"
#include "kg_redis.h"
#include "kg_req.h"
#include "kg_resp.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define BUSY_RETRY_AFTER "10"	/* s: a relay thread frees up */
#define USER_RETRY_AFTER "30"	/* s: about one slot expiry */

static atomic_int streams_busy;

/* KEYS[1] the user's set; ARGV: member, limit, ttl ms.  1 = taken. */
static const char take_script[] =
	"local t = redis.call('TIME') "
	"local now = t[1] * 1000 + math.floor(t[2] / 1000) "
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
	"if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and "
	"   redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then "
	"  return 0 "
	"end "
	"redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) "
	"redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
	"return 1";

/* KEYS[1] the user's set.  Live members. */
static const char count_script[] =
	"local t = redis.call('TIME') "
	"local now = t[1] * 1000 + math.floor(t[2] / 1000) "
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
	"return redis.call('ZCARD', KEYS[1])";

int
kg_streams_threads(void)
{
	return (int)kg_config_int("events", "max_streams") + 1;
}

static long long
slot_ttl_ms(void)
{
	return (2 * kg_config_int("events", "heartbeat") + 5) * 1000;
}

static void
user_key(const char *user_id, char key[64])
{
	snprintf(key, 64, "kg:streams:%s", user_id);
}

/* 1 taken, 0 full, -1 Redis down.  Called with the app lock held. */
static int
take_user_slot(struct kg_stream_guard *g, struct kg_err *err)
{
	char key[64], limit[24], ttl[24];
	redisReply *r;
	int taken;

	user_key(g->user_id, key);
	snprintf(limit, sizeof(limit), "%lld",
		 kg_config_int("events", "max_streams_per_user"));
	snprintf(ttl, sizeof(ttl), "%lld", slot_ttl_ms());
	r = kg_redis_argv(err, 7,
			  (const char *[]){"EVAL", take_script, "1", key,
					   g->slot, limit, ttl},
			  NULL);
	if (!r)
		return -1;
	taken = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
	if (taken < 0)
		kg_err_set(err, 503, "unavailable", "redis refused the script");
	freeReplyObject(r);
	return taken;
}

long long
kg_streams_open(const char *user_id, struct kg_err *err)
{
	char key[64];
	redisReply *r;
	long long n;

	user_key(user_id, key);
	r = kg_redis_argv(err, 4,
			  (const char *[]){"EVAL", count_script, "1", key},
			  NULL);
	if (!r)
		return -1;
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	return n;
}

static int
refuse(struct kg_req *req, int status, const char *code,
       const char *retry, const char *msg)
{
	kg_resp_header(req, "Retry-After", retry);
	return kg_req_fail(req, status, code, "%s", msg);
}

int
kg_streams_enter(struct kg_req *req, struct kg_stream_guard *g)
{
	int taken;

	memset(g, 0, sizeof(*g));
	if (atomic_fetch_add(&streams_busy, 1) >=
	    kg_config_int("events", "max_streams")) {
		atomic_fetch_sub(&streams_busy, 1);
		KG_WARN("all %lld stream slots of this process are taken",
			kg_config_int("events", "max_streams"));
		return refuse(req, 503, "relay_busy", BUSY_RETRY_AFTER,
			      "the live status relay is full, use polling");
	}
	g->in_process = 1;
	snprintf(g->user_id, sizeof(g->user_id), "%s", req->user.id);
	if (kg_hash_random_hex(g->slot, (sizeof(g->slot) - 1) / 2) < 0)
		snprintf(g->slot, sizeof(g->slot), "%p", (void *)g);
	kg_app_lock();
	taken = take_user_slot(g, &req->err);
	kg_app_unlock();
	if (taken == 1) {
		g->in_redis = 1;
		return 0;
	}
	kg_streams_leave(g);
	if (taken < 0)
		return -1;
	return refuse(req, 429, "too_many_streams", USER_RETRY_AFTER,
		      "too many open live-status streams for this user");
}

int
kg_streams_alive(struct kg_req *req, struct kg_stream_guard *g,
		 const char *batch_id)
{
	struct kg_user fresh;
	struct kg_err err = {0};
	int rc;

	kg_app_lock();
	rc = kg_auth_session_check(req->user.id, &req->session, &fresh, &err);
	if (rc == 0)
		rc = kg_batch_visible(batch_id, &fresh, 0, &err);
	if (rc == 0 && g->in_redis && take_user_slot(g, NULL) < 0)
		KG_WARN("could not renew the stream slot (redis)");
	kg_app_unlock();
	if (rc == 0) {
		req->user = fresh;
		return 0;
	}
	/* The stream loop ends an expired token itself (token_expired). */
	if (err.status == 503 || !strcmp(err.code, "token_expired")) {
		if (err.status == 503)
			KG_WARN("session re-check postponed: %s", err.message);
		return 0;
	}
	KG_INFO("stream of batch %s ends: %s", batch_id, err.message);
	return -1;
}

void
kg_streams_leave(struct kg_stream_guard *g)
{
	char key[64];
	redisReply *r;

	if (g->in_redis) {
		user_key(g->user_id, key);
		kg_app_lock();
		r = kg_redis_cmd(NULL, "ZREM %s %s", key, g->slot);
		kg_app_unlock();
		freeReplyObject(r);
		g->in_redis = 0;
	}
	if (g->in_process) {
		atomic_fetch_sub(&streams_busy, 1);
		g->in_process = 0;
	}
}
