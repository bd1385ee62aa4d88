#include "kg_events.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

/* XADD to the capped history and PUBLISH, atomically. */
static const char publish_script[] =
	"redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', "
	"'seq', ARGV[2], 'data', ARGV[1]) "
	"redis.call('EXPIRE', KEYS[1], ARGV[4]) "
	"return redis.call('PUBLISH', KEYS[2], ARGV[1])";

void
kg_event_stream_key(const char *batch_id, char *out)
{
	snprintf(out, 64, "kg:events:%.40s", batch_id);
}

void
kg_event_channel(const char *batch_id, char *out)
{
	snprintf(out, 64, "kg:batch:%.40s", batch_id);
}

long long
kg_event_next_seq(const char *batch_id, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"UPDATE batches SET event_seq = event_seq + 1 "
		"WHERE id = $1::uuid RETURNING event_seq", batch_id);
	long long seq = -1;

	if (res && PQntuples(res) == 1)
		seq = atoll(PQgetvalue(res, 0, 0));
	else if (res)
		kg_err_set(err, 404, "not_found", "no such batch");
	PQclear(res);
	return seq;
}

void
kg_event_timestamp(char *out, size_t size)
{
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

cJSON *
kg_event_json(const struct kg_event *ev, long long seq)
{
	cJSON *o = cJSON_CreateObject();
	char ts[40];

	kg_event_timestamp(ts, sizeof(ts));
	cJSON_AddStringToObject(o, "type", ev->type);
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "ts", ts);
	cJSON_AddStringToObject(o, "batch_id", ev->batch_id);
	if (ev->project_id)
		cJSON_AddStringToObject(o, "project_id", ev->project_id);
	else
		cJSON_AddNullToObject(o, "project_id");
	cJSON_AddStringToObject(o, "status", ev->status);
	cJSON_AddNumberToObject(o, "progress", ev->progress);
	if (ev->quality_score >= 0)
		cJSON_AddNumberToObject(o, "quality_score", ev->quality_score);
	else
		cJSON_AddNullToObject(o, "quality_score");
	if (ev->message)
		cJSON_AddStringToObject(o, "message", ev->message);
	return o;
}

int
kg_event_publish(const struct kg_event *ev, long long seq,
		 struct kg_err *err)
{
	char key[64], channel[64], seqs[24], cap[16], ttl[16];
	cJSON *o = kg_event_json(ev, seq);
	char *json = cJSON_PrintUnformatted(o);
	redisReply *r = NULL;

	cJSON_Delete(o);
	if (!json)
		return kg_err_set(err, 500, "internal", "out of memory");
	kg_event_stream_key(ev->batch_id, key);
	kg_event_channel(ev->batch_id, channel);
	snprintf(seqs, sizeof(seqs), "%lld", seq);
	snprintf(cap, sizeof(cap), "%d", KG_EVENTS_HISTORY);
	snprintf(ttl, sizeof(ttl), "%d", KG_EVENTS_TTL);
	r = kg_redis_cmd(err, "EVAL %s 2 %s %s %s %s %s %s", publish_script,
			 key, channel, json, seqs, cap, ttl);
	free(json);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		KG_ERROR("publishing event failed: %s", r->str);
		freeReplyObject(r);
		return kg_err_set(err, 503, "unavailable", "event not stored");
	}
	freeReplyObject(r);
	return 0;
}
