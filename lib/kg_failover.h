/*
 * kg_failover - the retry policy of AI calls, as pure functions the
 * worker applies (and the unit tests check):
 *
 *   chain     [ai] providers = bedrock, azure  (tried in that order; an
 *             empty list means the single [ai] provider)
 *   attempts  up to [ai] max_attempts per provider and stage, with
 *             exponential back-off and full jitter between them:
 *             uniform in [0, min(retry_max_ms, retry_base_ms * 2^(n-1))]
 *             after the n-th failed attempt, but never sooner than the
 *             server's Retry-After / retry-after-ms
 *   next      a failure that cannot succeed on retry (400, 401, 403,
 *             404, a provider that cannot even start), the last
 *             attempt, or a Retry-After longer than
 *             [ai] retry_after_max_ms moves on to the next provider at
 *             once; so does an open circuit breaker (kg_breaker.h)
 *   breaker   every failed call counts against the provider's breaker
 *             except invalid model output: the service answered, the
 *             answer did not pass the stage's checks
 */
#ifndef KG_FAILOVER_H
#define KG_FAILOVER_H

#include <stddef.h>

#include "kg_err.h"
#include "kg_ai.h"

#define KG_FAILOVER_MAX 8		/* providers in a chain */
#define KG_FAILOVER_NAME 32

/*
 * Parse a comma-separated provider list (spaces allowed) into names;
 * `single` is used when the list is empty.  Returns the number of names
 * (duplicates dropped), or -1 with the offending name in bad (an empty
 * or too long entry, more than KG_FAILOVER_MAX).  Names are not looked
 * up here.
 */
int kg_failover_chain(const char *list, const char *single,
		      char names[][KG_FAILOVER_NAME], int max, char *bad,
		      size_t badsize);

/* The configured chain ([ai] providers, else [ai] provider) names only
 * providers that exist; -1 with a message naming the bad one.  The
 * worker refuses to start (or reload) otherwise. */
int kg_failover_check_config(struct kg_err *err);

/* Full-jitter back-off after `failed` failed attempts (>= 1), from a
 * uniformly random `rnd`. */
long kg_failover_backoff_ms(long base_ms, long max_ms, int failed,
			    unsigned rnd);

struct kg_failover_policy {
	int max_attempts;
	long base_ms, max_ms;
	long retry_after_max_ms;
};

/* The policy configured in [ai] (max_attempts, retry_base_ms,
 * retry_max_ms, retry_after_max_ms). */
struct kg_failover_policy kg_failover_policy_current(void);

/* Append "provider: why" to the "tried" list of a stage ("; "-separated,
 * the reason given when every provider failed). */
void kg_failover_note(char *tried, size_t size, const char *provider,
		      const char *why);

/*
 * After attempt `attempt` (1-based) failed: 1 = try the same provider
 * again after *delay_ms; 0 = move on to the next provider now.
 */
int kg_failover_retry(const struct kg_failover_policy *p, int attempt,
		      int retryable, long retry_after_ms, unsigned rnd,
		      long *delay_ms);

/* Does this failed call count against the provider's breaker? */
int kg_failover_counts(const char *outcome);

/*
 * Where one stage stands in its provider chain, and the walk along it
 * that the generation and the regeneration jobs share:
 *
 *   kg_failover_begin(&c, ...);                 chain from [ai]
 *   call = kg_failover_call(&c, loop, ...);     NULL: all used up
 *   ... failed attempt:
 *   if (kg_failover_after(&c, retry_after, retryable, &delay))
 *           retry the same provider after delay;
 *   else    call = kg_failover_call(...)         (the next ones)
 */
struct kg_failover_cursor {
	char chain[KG_FAILOVER_MAX][KG_FAILOVER_NAME];
	int nchain;
	int prov;		/* index of the provider in use */
	int attempt;		/* 1-based, on chain[prov] */
	char last[300];		/* the last failure, unadorned */
	char tried[600];	/* "bedrock: ...; azure: ..." */
};

/* Reset to the first provider of the configured chain; -1 with the bad
 * entry in bad when the chain is unusable. */
int kg_failover_begin(struct kg_failover_cursor *c, char *bad,
		      size_t badsize);

/* Give up on the current provider (noting why) and move to the next. */
void kg_failover_next(struct kg_failover_cursor *c, const char *why);

/*
 * Start `req` on the current provider, or on the next ones: a provider
 * whose circuit breaker denies the call is skipped, one that cannot
 * start is reported to its breaker and skipped.  `holder` is the
 * worker id (breaker probes), `what` names the job in log lines.
 * NULL when the chain is used up; c->tried then says why.
 */
struct kg_ai_call *kg_failover_call(struct kg_failover_cursor *c,
				    struct kg_loop *loop, const char *holder,
				    const char *what,
				    const struct kg_ai_request *req,
				    kg_ai_done_fn done, void *arg);

/* After a failed attempt (c->last set): 1 = try the same provider again
 * after *delay_ms; 0 = moved on to the next provider (call
 * kg_failover_call). */
int kg_failover_after(struct kg_failover_cursor *c, long retry_after_ms,
		      int retryable, long *delay_ms);

/* The provider in use (NULL past the end of the chain). */
const char *kg_failover_current(const struct kg_failover_cursor *c);

#endif
