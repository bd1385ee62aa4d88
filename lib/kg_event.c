#include "kg_event.h"
#include "kg_array.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The publish script's EVAL for ev (json: its JSON, freed by the
 * caller); argv holds pointers into bufs. */
struct publish_cmd {
	char key[64], channel[64], seqs[24], cap[16], ttl[16];
	char *json;
	const char *argv[9];
};

static int
publish_cmd(struct publish_cmd *c, const struct kg_event *ev, long long seq,
	    struct kg_err *err)
{
	cJSON *o = kg_event_json(ev, seq);

	c->json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!c->json)
		return kg_err_set(err, 500, "internal", "out of memory");
	kg_event_stream_key(ev->batch_id, c->key);
	kg_event_channel(ev->batch_id, c->channel);
	snprintf(c->seqs, sizeof(c->seqs), "%lld", seq);
	snprintf(c->cap, sizeof(c->cap), "%d", KG_EVENT_HISTORY);
	snprintf(c->ttl, sizeof(c->ttl), "%d", KG_EVENT_TTL);
	memcpy(c->argv, (const char *[]){"EVAL", publish_script, "2", c->key,
					 c->channel, c->json, c->seqs, c->cap,
					 c->ttl}, sizeof(c->argv));
	return 0;
}

int
kg_event_published(redisReply *r, struct kg_err *err)
{
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		KG_ERROR("publishing event failed: %s", r->str);
		return kg_err_set(err, 503, "unavailable", "event not stored");
	}
	return 0;
}

int
kg_event_publish(const struct kg_event *ev, long long seq,
		 struct kg_err *err)
{
	struct publish_cmd c;
	redisReply *r;
	int rc;

	if (publish_cmd(&c, ev, seq, err) < 0)
		return -1;
	r = kg_redis_argv(err, (int)KG_COUNT(c.argv), c.argv, NULL);
	free(c.json);
	rc = kg_event_published(r, err);
	freeReplyObject(r);
	return rc;
}

int
kg_event_publish_add(struct kg_redis_pipe *p, const struct kg_event *ev,
		     long long seq, struct kg_err *err)
{
	struct publish_cmd c;
	int rc;

	if (publish_cmd(&c, ev, seq, err) < 0)
		return -1;
	rc = kg_redis_pipe_add(p, (int)KG_COUNT(c.argv), c.argv, NULL, err);
	free(c.json);
	return rc;
}
