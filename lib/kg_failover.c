#include "kg_failover.h"
#include "kg_breaker.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_ai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
kg_failover_chain(const char *list, const char *single,
		  char names[][KG_FAILOVER_NAME], int max, char *bad,
		  size_t badsize)
{
	const char *p = list && *list ? list : single;
	int n = 0;

	if (bad && badsize)
		bad[0] = '\0';
	while (p && *p) {
		size_t len = strcspn(p, ","), a = 0, b = len;
		int dup = 0;

		while (a < b && (p[a] == ' ' || p[a] == '\t'))
			a++;
		while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
			b--;
		if (a == b || b - a >= KG_FAILOVER_NAME || n == max) {
			if (bad && badsize)
				snprintf(bad, badsize, "%.*s", (int)len, p);
			return -1;
		}
		for (int i = 0; i < n; i++)
			dup |= strlen(names[i]) == b - a &&
			       !strncmp(names[i], p + a, b - a);
		if (!dup) {
			memcpy(names[n], p + a, b - a);
			names[n++][b - a] = '\0';
		}
		p += len + (p[len] == ',');
	}
	return n;
}

long
kg_failover_backoff_ms(long base_ms, long max_ms, int failed, unsigned rnd)
{
	long cap = base_ms;

	if (base_ms <= 0 || max_ms <= 0)
		return 0;
	for (int i = 1; i < failed && cap < max_ms; i++)
		cap *= 2;
	if (cap > max_ms)
		cap = max_ms;
	return (long)(rnd % ((unsigned long)cap + 1));
}

int
kg_failover_retry(const struct kg_failover_policy *p, int attempt,
		  int retryable, long retry_after_ms, unsigned rnd,
		  long *delay_ms)
{
	*delay_ms = 0;
	if (!retryable || attempt >= p->max_attempts)
		return 0;
	if (retry_after_ms > p->retry_after_max_ms)
		return 0;
	*delay_ms = kg_failover_backoff_ms(p->base_ms, p->max_ms, attempt, rnd);
	if (retry_after_ms > *delay_ms)
		*delay_ms = retry_after_ms;
	return 1;
}

int
kg_failover_counts(const char *outcome)
{
	return outcome && strcmp(outcome, "ok") &&
	       strcmp(outcome, "invalid_output");
}

int
kg_failover_check_config(struct kg_err *err)
{
	char names[KG_FAILOVER_MAX][KG_FAILOVER_NAME], bad[64];
	int n = kg_failover_chain(kg_config_str("ai", "providers"),
				  kg_config_str("ai", "provider"), names,
				  KG_FAILOVER_MAX, bad, sizeof(bad));

	if (n < 0)
		return kg_err_set(err, 500, "config_invalid",
				  "[ai] providers: bad entry \"%s\"", bad);
	for (int i = 0; i < n; i++)
		if (!kg_ai_find(names[i]))
			return kg_err_set(err, 500, "config_invalid",
					  "[ai] providers: unknown provider "
					  "\"%s\" (offline, bedrock, azure, "
					  "openai)", names[i]);
	return 0;
}

struct kg_failover_policy
kg_failover_policy_current(void)
{
	struct kg_failover_policy p = {
		(int)kg_config_int("ai", "max_attempts"),
		(long)kg_config_int("ai", "retry_base_ms"),
		(long)kg_config_int("ai", "retry_max_ms"),
		(long)kg_config_int("ai", "retry_after_max_ms"),
	};

	return p;
}

void
kg_failover_note(char *tried, size_t size, const char *provider,
		 const char *why)
{
	size_t n = strlen(tried);

	if (n < size)
		snprintf(tried + n, size - n, "%s%s: %.200s", n ? "; " : "",
			 provider, why);
}

int
kg_failover_begin(struct kg_failover_cursor *c, char *bad, size_t badsize)
{
	c->prov = 0;
	c->attempt = 1;
	c->last[0] = c->tried[0] = '\0';
	c->nchain = kg_failover_chain(kg_config_str("ai", "providers"),
				      kg_config_str("ai", "provider"), c->chain,
				      KG_FAILOVER_MAX, bad, badsize);
	if (c->nchain <= 0) {
		c->nchain = 0;
		return -1;
	}
	return 0;
}

void
kg_failover_next(struct kg_failover_cursor *c, const char *why)
{
	kg_failover_note(c->tried, sizeof(c->tried), c->chain[c->prov], why);
	c->prov++;
	c->attempt = 1;
}

const char *
kg_failover_current(const struct kg_failover_cursor *c)
{
	return c->prov < c->nchain ? c->chain[c->prov] : NULL;
}

struct kg_ai_call *
kg_failover_call(struct kg_failover_cursor *c, struct kg_loop *loop,
		 const char *holder, const char *what,
		 const struct kg_ai_request *req, kg_ai_done_fn done,
		 void *arg)
{
	long long probe_ttl = kg_config_int("ai", "timeout_ms") +
			      kg_config_int("ai", "connect_timeout_ms") + 5000;
	struct kg_ai_call *call;

	while (c->prov < c->nchain) {
		const char *name = c->chain[c->prov];
		int offline = !strcmp(name, "offline");
		struct kg_err err = {0};
		char why[400];

		if (!offline && kg_breaker_acquire(name, holder, probe_ttl) ==
					KG_BREAKER_DENY) {
			KG_INFO("%s: %s skipped (circuit open)", what, name);
			if (c->attempt > 1)	/* it failed us before opening */
				snprintf(why, sizeof(why), "%.250s (attempt %d), "
					 "then circuit open", c->last,
					 c->attempt - 1);
			else
				snprintf(why, sizeof(why), "circuit open");
			kg_failover_next(c, why);
			continue;
		}
		if (c->prov > 0 && c->attempt == 1)
			KG_INFO("%s: falling back to %s", what, name);
		call = kg_ai_start(loop, name, req, done, arg, &err);
		if (call)
			return call;
		if (!offline)	/* frees a probe we may hold */
			kg_breaker_report(name, holder, 0);
		KG_WARN("%s: %s cannot start: %s", what, name, err.message);
		kg_failover_next(c, err.message);
	}
	return NULL;
}

int
kg_failover_after(struct kg_failover_cursor *c, long retry_after_ms,
		  int retryable, long *delay_ms)
{
	struct kg_failover_policy p = kg_failover_policy_current();
	char why[340];

	if (kg_failover_retry(&p, c->attempt, retryable, retry_after_ms,
			      (unsigned)rand(), delay_ms)) {
		c->attempt++;
		return 1;
	}
	snprintf(why, sizeof(why), "%.250s (attempt %d)", c->last, c->attempt);
	kg_failover_next(c, why);
	return 0;
}
