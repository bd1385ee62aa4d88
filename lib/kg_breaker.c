#include "kg_breaker.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAS_TRIES 8

/* ------------------------------------------------------------------ */
/* The state machine */

static const char *const state_names[] = {"closed", "open", "half-open"};

const char *
kg_breaker_state_name(enum kg_breaker_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "closed";
}

enum kg_breaker_state
kg_breaker_state_parse(const char *s)
{
	if (s && !strcmp(s, "open"))
		return KG_BREAKER_OPEN;
	if (s && !strcmp(s, "half-open"))
		return KG_BREAKER_HALF_OPEN;
	return KG_BREAKER_CLOSED;
}

enum kg_breaker_decision
kg_breaker_decide(const struct kg_breaker *b, long long now_ms,
		  const struct kg_breaker_conf *c, int probe_held)
{
	switch (b->state) {
	case KG_BREAKER_CLOSED:
		return KG_BREAKER_ALLOW;
	case KG_BREAKER_OPEN:
		if (now_ms - b->opened_at < c->cooldown_ms || probe_held)
			return KG_BREAKER_DENY;
		return KG_BREAKER_PROBE;
	case KG_BREAKER_HALF_OPEN:
		return probe_held ? KG_BREAKER_DENY : KG_BREAKER_PROBE;
	}
	return KG_BREAKER_ALLOW;
}

int
kg_breaker_apply(struct kg_breaker *b, int success, long long now_ms,
		 const struct kg_breaker_conf *c)
{
	enum kg_breaker_state old = b->state;

	if (success) {
		b->state = KG_BREAKER_CLOSED;
		b->failures = 0;
		return old != b->state;
	}
	b->failures++;
	if ((old == KG_BREAKER_CLOSED && b->failures >= c->threshold) ||
	    old == KG_BREAKER_HALF_OPEN) {
		b->state = KG_BREAKER_OPEN;
		b->opened_at = now_ms;
	}
	/* Open stays open: a late failure of a call that started before
	 * the breaker opened does not extend the cool-down. */
	return old != b->state;
}

/* ------------------------------------------------------------------ */
/* Redis */

long long
kg_breaker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kg_breaker_conf
kg_breaker_conf_current(void)
{
	return (struct kg_breaker_conf){
		(int)kg_config_int("ai", "breaker_threshold"),
		kg_config_int("ai", "breaker_cooldown_ms")};
}

/* A stored breaker as read, in the exact text the CAS compares. */
struct stored {
	struct kg_breaker b;
	char state[16], failures[24], opened_at[24];
};

static void
keys(const char *provider, char *key, size_t n, char *probe, size_t pn)
{
	snprintf(key, n, "kg:breaker:%s", provider);
	snprintf(probe, pn, "kg:breaker:%s:probe", provider);
}

static void
field(const redisReply *r, size_t i, const char *def, char *out, size_t n)
{
	const redisReply *e = r->element[i];

	snprintf(out, n, "%s", e->type == REDIS_REPLY_STRING ? e->str : def);
}

static int
load(const char *key, struct stored *s, struct kg_err *err)
{
	redisReply *r = kg_redis_cmd(err, "HMGET %s state failures opened_at",
				     key);

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		freeReplyObject(r);
		return -1;
	}
	field(r, 0, "closed", s->state, sizeof(s->state));
	field(r, 1, "0", s->failures, sizeof(s->failures));
	field(r, 2, "0", s->opened_at, sizeof(s->opened_at));
	freeReplyObject(r);
	s->b.state = kg_breaker_state_parse(s->state);
	s->b.failures = atoi(s->failures);
	s->b.opened_at = atoll(s->opened_at);
	return 0;
}

/*
 * Compare-and-set: write `b` only if the stored fields are still what
 * `s` read (another worker may have reported in between; the caller
 * then reads again and re-applies its result).  1 written, 0 changed
 * under us, -1 Redis failure.
 */
static int
cas(const char *key, const char *probe, const struct stored *s,
    const struct kg_breaker *b, const char *holder, int del_probe)
{
	static const char script[] =
		"local c = redis.call('HMGET', KEYS[1], 'state', 'failures', "
		"'opened_at') "
		"if (c[1] or 'closed') ~= ARGV[1] or (c[2] or '0') ~= ARGV[2] "
		"or (c[3] or '0') ~= ARGV[3] then return 0 end "
		"redis.call('HSET', KEYS[1], 'state', ARGV[4], 'failures', "
		"ARGV[5], 'opened_at', ARGV[6], 'changed_at', ARGV[7], 'by', "
		"ARGV[8]) "
		"if ARGV[9] == '1' then redis.call('DEL', KEYS[2]) end "
		"return 1";
	char failures[24], opened[24], now[24];
	struct kg_err err = {0};
	redisReply *r;
	int rc;

	snprintf(failures, sizeof(failures), "%d", b->failures);
	snprintf(opened, sizeof(opened), "%lld", b->opened_at);
	snprintf(now, sizeof(now), "%lld", kg_breaker_now_ms());
	r = kg_redis_cmd(&err, "EVAL %s 2 %s %s %s %s %s %s %s %s %s %s %s",
			 script, key, probe, s->state, s->failures,
			 s->opened_at, kg_breaker_state_name(b->state),
			 failures, opened, now, holder, del_probe ? "1" : "0");
	rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
	if (r && r->type == REDIS_REPLY_ERROR)
		KG_WARN("breaker: Redis refused the update: %s", r->str);
	freeReplyObject(r);
	return rc;
}

static void
log_transition(const char *provider, enum kg_breaker_state from,
	       const struct kg_breaker *to, const char *holder)
{
	if (to->state == KG_BREAKER_OPEN && from == KG_BREAKER_CLOSED)
		KG_WARN("breaker %s: closed -> open after %d consecutive "
			"failures; calls go to the next provider",
			provider, to->failures);
	else if (to->state == KG_BREAKER_OPEN)
		KG_WARN("breaker %s: %s -> open (probe failed)", provider,
			kg_breaker_state_name(from));
	else if (to->state == KG_BREAKER_HALF_OPEN)
		KG_INFO("breaker %s: %s -> half-open (probe call by %s)",
			provider, kg_breaker_state_name(from), holder);
	else
		KG_INFO("breaker %s: %s -> closed (call succeeded)", provider,
			kg_breaker_state_name(from));
}

static int
probe_held(const char *probe, struct kg_err *err)
{
	redisReply *r = kg_redis_cmd(err, "EXISTS %s", probe);
	int held = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;

	freeReplyObject(r);
	return held;
}

static int
take_probe(const char *probe, const char *holder, long long ttl_ms)
{
	struct kg_err err = {0};
	redisReply *r = kg_redis_cmd(&err, "SET %s %s NX PX %lld", probe,
				     holder, ttl_ms > 0 ? ttl_ms : 1000);
	int ok = r && r->type == REDIS_REPLY_STATUS;

	freeReplyObject(r);
	return ok;
}

enum kg_breaker_decision
kg_breaker_acquire(const char *provider, const char *holder,
		   long long probe_ttl_ms)
{
	struct kg_breaker_conf c = kg_breaker_conf_current();
	char key[128], probe[140];
	struct kg_err err = {0};
	struct stored s;
	struct kg_breaker next;

	keys(provider, key, sizeof(key), probe, sizeof(probe));
	if (load(key, &s, &err) < 0) {
		KG_WARN("breaker %s: Redis unavailable, letting the call "
			"through: %s", provider, err.message);
		return KG_BREAKER_ALLOW;
	}
	switch (kg_breaker_decide(&s.b, kg_breaker_now_ms(), &c,
				  s.b.state != KG_BREAKER_CLOSED &&
					  probe_held(probe, &err))) {
	case KG_BREAKER_ALLOW:
		return KG_BREAKER_ALLOW;
	case KG_BREAKER_DENY:
		return KG_BREAKER_DENY;
	case KG_BREAKER_PROBE:
		break;
	}
	if (!take_probe(probe, holder, probe_ttl_ms))
		return KG_BREAKER_DENY;	/* another worker probes */
	next = s.b;
	next.state = KG_BREAKER_HALF_OPEN;
	/* We hold the probe whatever the CAS says: if the state moved
	 * meanwhile (a late success closed it) the call is fine anyway. */
	if (s.b.state != KG_BREAKER_HALF_OPEN &&
	    cas(key, probe, &s, &next, holder, 0) == 1)
		log_transition(provider, s.b.state, &next, holder);
	return KG_BREAKER_PROBE;
}

void
kg_breaker_report(const char *provider, const char *holder, int success)
{
	struct kg_breaker_conf c = kg_breaker_conf_current();
	char key[128], probe[140];

	keys(provider, key, sizeof(key), probe, sizeof(probe));
	for (int i = 0; i < CAS_TRIES; i++) {
		struct kg_err err = {0};
		struct stored s;
		struct kg_breaker next;
		int changed, rc;

		if (load(key, &s, &err) < 0) {
			KG_WARN("breaker %s: Redis unavailable, result not "
				"recorded: %s", provider, err.message);
			return;
		}
		next = s.b;
		changed = kg_breaker_apply(&next, success, kg_breaker_now_ms(),
					   &c);
		if (!changed && next.failures == s.b.failures)
			return;		/* nothing to write */
		/* Closing or re-opening ends any probe. */
		rc = cas(key, probe, &s, &next, holder, changed);
		if (rc < 0)
			return;
		if (rc == 1) {
			if (changed)
				log_transition(provider, s.b.state, &next,
					       holder);
			return;
		}
	}
	KG_WARN("breaker %s: too much contention, result not recorded",
		provider);
}
