#include "kg_metrics.h"
#include "kg_db.h"
#include "kg_queue.h"
#include "kg_redis.h"

#include <stdlib.h>
#include <string.h>

/* One labelled series per row of a query: label columns first, the
 * value last. */
struct series {
	const char *name;
	const char *type;
	const char *help;
	const char *labels[3];	/* label names of the leading columns */
	const char *sql;
};

static const struct series db_series[] = {
	{"kartograf_projects", "gauge", "Projects by status.", {"status"},
	 "SELECT status, count(*) FROM projects GROUP BY 1 ORDER BY 1"},
	{"kartograf_batches", "gauge", "Batches by status.", {"status"},
	 "SELECT status, count(*) FROM batches GROUP BY 1 ORDER BY 1"},
	{"kartograf_ai_calls_total", "counter",
	 "AI calls by provider and outcome.", {"provider", "outcome"},
	 "SELECT provider, outcome, count(*) FROM ai_calls"
	 " GROUP BY 1, 2 ORDER BY 1, 2"},
	{"kartograf_ai_fallback_calls_total", "counter",
	 "AI calls made to a fallback provider.", {"provider"},
	 "SELECT provider, count(*) FROM ai_calls WHERE fallback"
	 " GROUP BY 1 ORDER BY 1"},
	{"kartograf_ai_tokens_total", "counter",
	 "Tokens by provider and direction.", {"provider", "direction"},
	 "SELECT provider, d, sum(n) FROM ai_calls, LATERAL (VALUES"
	 " ('in', tokens_in), ('out', tokens_out)) AS t(d, n)"
	 " GROUP BY 1, 2 ORDER BY 1, 2"},
	{"kartograf_ai_cost_total", "counter",
	 "AI cost by provider (price table units).", {"provider"},
	 "SELECT provider, sum(cost) FROM ai_calls GROUP BY 1 ORDER BY 1"},
	{"kartograf_queue_wait_seconds", "gauge",
	 "Time from queued to generating, projects started in the last 15"
	 " minutes (median and 90th percentile).", {"quantile"},
	 "SELECT v.q::text, COALESCE(percentile_cont(v.q) WITHIN GROUP"
	 " (ORDER BY extract(epoch FROM p.started_at - p.queued_at)), 0)"
	 " FROM (VALUES (0.5::float8), (0.9::float8)) AS v(q)"
	 " LEFT JOIN projects p ON p.started_at > now() - interval"
	 " '15 minutes' AND p.queued_at IS NOT NULL"
	 " GROUP BY v.q ORDER BY v.q"},
	{"kartograf_exports_total", "counter", "Exports by format.",
	 {"format"},
	 "SELECT format, count(*) FROM export_history GROUP BY 1 ORDER BY 1"},
};

static const char *const queues[] = {"generate", "regenerate", "export"};
static const char *const providers[] = {"bedrock", "azure", "openai"};

static void
header(struct kg_buf *out, const char *name, const char *type,
       const char *help)
{
	kg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		      type);
}

/* Label values come from our own CHECK-constrained columns, but are
 * escaped anyway as the format requires. */
static void
label(struct kg_buf *out, const char *name, const char *value)
{
	kg_buf_printf(out, "%s=\"", name);
	for (; *value; value++) {
		if (*value == '"' || *value == '\\')
			kg_buf_append(out, "\\", 1);
		if (*value == '\n')
			kg_buf_puts(out, "\\n");
		else
			kg_buf_append(out, value, 1);
	}
	kg_buf_puts(out, "\"");
}

static int
render_series(struct kg_buf *out, const struct series *s)
{
	PGresult *res = kg_db_query(NULL, s->sql, 0, NULL);
	int nlabels;

	if (!res)
		return -1;
	nlabels = PQnfields(res) - 1;
	header(out, s->name, s->type, s->help);
	for (int r = 0; r < PQntuples(res); r++) {
		kg_buf_printf(out, "%s{", s->name);
		for (int c = 0; c < nlabels; c++) {
			if (c)
				kg_buf_puts(out, ",");
			label(out, s->labels[c], PQgetvalue(res, r, c));
		}
		kg_buf_printf(out, "} %s\n", PQgetvalue(res, r, nlabels));
	}
	PQclear(res);
	return 0;
}

static long long
redis_int(const char *cmd, const char *key, int *ok)
{
	redisReply *r = kg_redis_cmd(NULL, "%s %s", cmd, key);
	long long v = 0;

	*ok = r && r->type == REDIS_REPLY_INTEGER;
	if (*ok)
		v = r->integer;
	freeReplyObject(r);
	return v;
}

/* One family's samples of one worker's kg:workerstat:<id> hash (see
 * wk_house.c): fields[i] is the hash field, kinds[i] its label. */
static void
render_worker(struct kg_buf *out, const char *family, const char *worker,
	      const redisReply *h, const char *const *fields,
	      const char *const *kinds, double scale)
{
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i + 1 < h->elements; i += 2) {
			if (strcmp(h->element[i]->str, fields[f]))
				continue;
			kg_buf_printf(out, "%s{", family);
			label(out, "worker", worker);
			kg_buf_printf(out, ",kind=\"%s\"} %.3f\n", kinds[f],
				      strtod(h->element[i + 1]->str, NULL) *
					      scale);
		}
}

/*
 * Slot utilisation per worker: rate(used) / rate(offered) of
 * kartograf_worker_slot_seconds_total is the share of the worker's
 * [worker] global_limit that had a job running.
 */
static int
render_worker_slots(struct kg_buf *out)
{
	static const char *const time_f[] = {"used_ms", "offered_ms"};
	static const char *const time_k[] = {"used", "offered"};
	static const char *const slot_f[] = {"running", "limit"};
	redisReply *ws = kg_redis_cmd(NULL, "SMEMBERS kg:workers");
	redisReply **h = NULL;
	size_t n = 0;

	if (!ws)
		return -1;
	if (ws->type == REDIS_REPLY_ARRAY && ws->elements)
		h = calloc(ws->elements, sizeof(*h));
	for (size_t i = 0; h && i < ws->elements; i++, n++)
		h[i] = kg_redis_cmd(NULL, "HGETALL kg:workerstat:%s",
				    ws->element[i]->str);
	header(out, "kartograf_worker_slot_seconds_total", "counter",
	       "Slot-seconds of a worker: used (a job running) and offered "
	       "(global_limit x time).");
	for (size_t i = 0; i < n; i++)
		if (h[i] && h[i]->type == REDIS_REPLY_ARRAY)
			render_worker(out, "kartograf_worker_slot_seconds_total",
				      ws->element[i]->str, h[i], time_f, time_k,
				      0.001);
	header(out, "kartograf_worker_slots", "gauge",
	       "A worker's running jobs and its global_limit.");
	for (size_t i = 0; i < n; i++)
		if (h[i] && h[i]->type == REDIS_REPLY_ARRAY)
			render_worker(out, "kartograf_worker_slots",
				      ws->element[i]->str, h[i], slot_f, slot_f,
				      1.0);
	for (size_t i = 0; i < n; i++)
		freeReplyObject(h[i]);
	free(h);
	freeReplyObject(ws);
	return 0;
}

static int
render_redis(struct kg_buf *out)
{
	char key[64];
	int ok = 1;
	long long n;

	header(out, "kartograf_queue_length", "gauge",
	       "Tasks waiting per queue.");
	for (size_t i = 0; ok && i < sizeof(queues) / sizeof(*queues); i++) {
		n = kg_queue_length(queues[i], NULL);
		ok = n >= 0;
		if (ok)
			kg_buf_printf(out,
				      "kartograf_queue_length{queue=\"%s\"} "
				      "%lld\n", queues[i], n);
	}
	n = ok ? redis_int("SCARD", "kg:workers", &ok) : 0;
	if (!ok)
		return -1;
	header(out, "kartograf_workers", "gauge",
	       "Worker processes with a live heartbeat.");
	kg_buf_printf(out, "kartograf_workers %lld\n", n);
	if (render_worker_slots(out) < 0)
		return -1;
	header(out, "kartograf_breaker_open", "gauge",
	       "1 while a provider's circuit breaker is open or half-open.");
	for (size_t i = 0; i < sizeof(providers) / sizeof(*providers); i++) {
		redisReply *r;

		snprintf(key, sizeof(key), "kg:breaker:%s", providers[i]);
		r = kg_redis_cmd(NULL, "HGET %s state", key);
		if (!r)
			return -1;
		kg_buf_printf(out, "kartograf_breaker_open{provider=\"%s\"} %d\n",
			      providers[i],
			      r->type == REDIS_REPLY_STRING &&
				      strcmp(r->str, "closed") != 0);
		freeReplyObject(r);
	}
	return 0;
}

int
kg_metrics_render(struct kg_buf *out)
{
	int db_up = 1, redis_up;

	for (size_t i = 0; db_up && i < sizeof(db_series) / sizeof(*db_series);
	     i++)
		db_up = render_series(out, &db_series[i]) == 0;
	redis_up = render_redis(out) == 0;
	header(out, "kartograf_up", "gauge",
	       "1 if the component answered this scrape.");
	kg_buf_printf(out, "kartograf_up{component=\"database\"} %d\n", db_up);
	kg_buf_printf(out, "kartograf_up{component=\"redis\"} %d\n", redis_up);
	return 0;
}
