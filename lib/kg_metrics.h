/*
 * kg_metrics - the numbers behind GET /metrics, in the Prometheus text
 * exposition format (version 0.0.4): projects and batches by status, AI
 * calls, tokens and cost by provider and outcome, exports, queue
 * lengths, live workers, circuit-breaker states, and whether PostgreSQL
 * and Redis answer.  Counters come from PostgreSQL (the source of
 * truth), so every web host reports the same totals.
 */
#ifndef KG_METRICS_H
#define KG_METRICS_H

#include "kg_buf.h"

/* Appends the exposition to out; a source that is down shows as
 * kartograf_up{component=...} 0 and its series are left out. */
int kg_metrics_render(struct kg_buf *out);

#endif
