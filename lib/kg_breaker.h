/*
 * kg_breaker - a circuit breaker per AI provider, kept in Redis so that
 * every worker on every host sees the same one.
 *
 *   kg:breaker:<provider>        hash: state (closed | open | half-open),
 *                                failures (consecutive), opened_at and
 *                                changed_at (ms since the epoch), by
 *                                (the worker that made the last change)
 *   kg:breaker:<provider>:probe  the worker holding the one half-open
 *                                probe: SET NX PX (probe lifetime)
 *
 * closed     every call goes through; each failed call adds one to
 *            failures, a success resets it; `threshold` consecutive
 *            failures (from any workers) open the breaker.
 * open       no call goes to the provider (the caller skips to the next
 *            one in its failover chain) until `cooldown_ms` have passed
 *            since opened_at; then the first worker to win SET NX on the
 *            probe key sends one probe call (state half-open).
 * half-open  only the probe holder calls; its success closes the
 *            breaker, its failure opens it again for another cool-down.
 *            A probe holder that dies frees the probe when the key
 *            expires, and the next worker probes.
 *
 * Every transition is logged ("breaker bedrock: closed -> open after 3
 * consecutive failures") and visible with HGETALL.  Updates are
 * optimistic transactions (WATCH/MULTI/EXEC) around the pure state
 * machine below, so two workers reporting at once lose no failure.
 * If Redis is unreachable the breaker fails open: calls go through, as
 * if there were no breaker.
 */
#ifndef KG_BREAKER_H
#define KG_BREAKER_H

enum kg_breaker_state {
	KG_BREAKER_CLOSED,
	KG_BREAKER_OPEN,
	KG_BREAKER_HALF_OPEN,
};

struct kg_breaker {
	enum kg_breaker_state state;
	int failures;
	long long opened_at;		/* ms since the epoch */
};

struct kg_breaker_conf {
	int threshold;			/* consecutive failures that open */
	long long cooldown_ms;		/* open -> probe allowed */
};

enum kg_breaker_decision {
	KG_BREAKER_ALLOW,		/* closed: call */
	KG_BREAKER_PROBE,		/* call as the half-open probe */
	KG_BREAKER_DENY,		/* skip this provider */
};

/* --- the state machine (pure) -------------------------------------- */

const char *kg_breaker_state_name(enum kg_breaker_state s);
/* "closed", "open", "half-open" -> state; anything else is closed. */
enum kg_breaker_state kg_breaker_state_parse(const char *s);

/*
 * May a call go out now?  probe_held: someone holds the probe key.
 * PROBE means "try to take the probe": open and cooled down, or
 * half-open with nobody holding the probe.
 */
enum kg_breaker_decision kg_breaker_decide(const struct kg_breaker *b,
					   long long now_ms,
					   const struct kg_breaker_conf *c,
					   int probe_held);

/*
 * Apply a call's result: success closes and resets; a failure counts,
 * opens a closed breaker at the threshold and re-opens a half-open one.
 * Returns 1 when the state changed, 0 otherwise.
 */
int kg_breaker_apply(struct kg_breaker *b, int success, long long now_ms,
		     const struct kg_breaker_conf *c);

/* --- Redis (shared by all workers) ---------------------------------- */

/* The configuration ([ai] breaker_threshold, breaker_cooldown_ms). */
struct kg_breaker_conf kg_breaker_conf_current(void);

/*
 * Before a call to provider: ALLOW, PROBE (we hold the probe for
 * probe_ttl_ms) or DENY.  `holder` names the caller (worker id).
 */
enum kg_breaker_decision kg_breaker_acquire(const char *provider,
					    const char *holder,
					    long long probe_ttl_ms);

/* After a call: its success or failure (see kg_failover.h for which
 * failures count). */
void kg_breaker_report(const char *provider, const char *holder,
		       int success);

/* Wall clock in ms since the epoch (shared between hosts). */
long long kg_breaker_now_ms(void);

#endif
