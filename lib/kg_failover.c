#include "kg_failover.h"
#include "kg_config.h"
#include "kg_provider.h"

#include <stdio.h>
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
	int n = kg_failover_chain(kg_conf_str("ai", "providers"),
				  kg_conf_str("ai", "provider"), names,
				  KG_FAILOVER_MAX, bad, sizeof(bad));

	if (n < 0)
		return kg_err_set(err, 500, "config_invalid",
				  "[ai] providers: bad entry \"%s\"", bad);
	for (int i = 0; i < n; i++)
		if (!kg_provider_find(names[i]))
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
		(int)kg_conf_int("ai", "max_attempts"),
		(long)kg_conf_int("ai", "retry_base_ms"),
		(long)kg_conf_int("ai", "retry_max_ms"),
		(long)kg_conf_int("ai", "retry_after_max_ms"),
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
