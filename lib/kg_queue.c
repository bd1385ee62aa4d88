#include "kg_queue.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: queue, queued-set   ARGV: task, ident */
static const char push_script[] =
	"redis.call('LPUSH', KEYS[1], ARGV[1]) "
	"redis.call('SADD', KEYS[2], ARGV[2]) return 1";

/* KEYS: queue, queued-set, lease   ARGV: task, ident, check|push */
static const char push_lost_script[] =
	"if redis.call('EXISTS', KEYS[3]) == 1 or "
	"   redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return 0 end "
	"if ARGV[3] == 'check' then return 1 end "
	"redis.call('LPUSH', KEYS[1], ARGV[1]) "
	"redis.call('SADD', KEYS[2], ARGV[2]) return 1";

/*
 * KEYS: lease, queued-set   ARGV: worker, lease_ms, ident
 * A lease whose holder has no heartbeat any more is taken over: the
 * holder died and its lease just has not run out yet.
 */
static const char lease_script[] =
	"local h = redis.call('GET', KEYS[1]) "
	"if h and h ~= ARGV[1] and "
	"   redis.call('EXISTS', 'kg:worker:' .. h) == 1 then return 0 end "
	"redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
	"redis.call('SREM', KEYS[2], ARGV[3]) return 1";

/* KEYS: lease   ARGV: worker, lease_ms.  A lease that vanished (FLUSHALL)
 * is re-established: the database still says we hold the project. */
static const char renew_script[] =
	"local h = redis.call('GET', KEYS[1]) "
	"if h and h ~= ARGV[1] then return 0 end "
	"redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";

/* KEYS: processing, lease   ARGV: task, worker */
static const char ack_script[] =
	"redis.call('LREM', KEYS[1], 1, ARGV[1]) "
	"if redis.call('GET', KEYS[2]) == ARGV[2] then "
	"  redis.call('DEL', KEYS[2]) end return 1";

/* KEYS: processing, lease, queue, queued-set
 * ARGV: task, worker, ident, LPUSH|RPUSH */
static const char back_script[] =
	"redis.call('LREM', KEYS[1], 1, ARGV[1]) "
	"redis.call(ARGV[4], KEYS[3], ARGV[1]) "
	"redis.call('SADD', KEYS[4], ARGV[3]) "
	"if redis.call('GET', KEYS[2]) == ARGV[2] then "
	"  redis.call('DEL', KEYS[2]) end return 1";

/* KEYS: heartbeat   ARGV: worker, lease_ms */
static const char heartbeat_script[] =
	"redis.call('SET', KEYS[1], '1', 'PX', ARGV[2]) "
	"redis.call('SADD', 'kg:workers', ARGV[1]) return 1";

/* ARGV: id prefix ("" for all)   live registered workers */
static const char alive_script[] =
	"local n = 0 "
	"for _, w in ipairs(redis.call('SMEMBERS', 'kg:workers')) do "
	"  if string.sub(w, 1, #ARGV[1]) == ARGV[1] and "
	"     redis.call('EXISTS', 'kg:worker:' .. w) == 1 then n = n + 1 end "
	"end return n";

/*
 * KEYS: queue, queued-set pairs, one per queue
 * ARGV: the matching processing-key prefixes ("kg:processing:q:")
 * Dead workers' tasks go to the near end: they were taken first.  A dead
 * worker leaves kg:workers afterwards, so every queue it may have taken
 * from is reaped in the same pass (see reaped_queues).
 */
static const char reap_script[] =
	"local n = 0 "
	"for _, w in ipairs(redis.call('SMEMBERS', 'kg:workers')) do "
	"  if redis.call('EXISTS', 'kg:worker:' .. w) == 0 then "
	"    for q = 1, #ARGV do "
	"      local proc = ARGV[q] .. w "
	"      while true do "
	"        local t = redis.call('RPOP', proc) "
	"        if not t then break end "
	"        redis.call('RPUSH', KEYS[2 * q - 1], t) "
	"        local ok, d = pcall(cjson.decode, t) "
	"        if ok and type(d) == 'table' then "
	"          local id = d['project_id'] "
	"          if type(id) ~= 'string' or id == '' then id = d['batch_id'] end "
	"          if type(id) ~= 'string' then id = '' end "
	"          redis.call('SADD', KEYS[2 * q], "
	"                      tostring(d['kind']) .. ':' .. id) "
	"        end "
	"        n = n + 1 "
	"      end "
	"    end "
	"    redis.call('SREM', 'kg:workers', w) "
	"  end "
	"end return n";

/*
 * Every queue a worker takes from.  The reaper must move all of a dead
 * worker's processing lists at once: after the first pass the worker is
 * gone from kg:workers and a later reaper of another queue would never
 * find its list.  (Names as KG_QUEUE_GENERATE, KG_QUEUE_REGENERATE in
 * kg_project.h and KG_QUEUE_EXPORT in kg_export.h.)
 */
static const char *const reaped_queues[] = {"generate", "regenerate",
					    "export"};
#define NREAPED (sizeof(reaped_queues) / sizeof(reaped_queues[0]))

struct keys {
	char queue[64], queued[64], proc[160], lease[128], heartbeat[96];
};

static void
make_keys(const char *q, const char *worker, const struct kg_task *t,
	  struct keys *k)
{
	snprintf(k->queue, sizeof(k->queue), "kg:queue:%.40s", q ? q : "");
	snprintf(k->queued, sizeof(k->queued), "kg:queued:%.40s",
		 q ? q : "");
	snprintf(k->proc, sizeof(k->proc), "kg:processing:%.40s:%.80s",
		 q ? q : "", worker ? worker : "");
	snprintf(k->lease, sizeof(k->lease), "kg:lease:%s",
		 t ? t->ident : "");
	snprintf(k->heartbeat, sizeof(k->heartbeat), "kg:worker:%.80s",
		 worker ? worker : "");
}

char *
kg_task_json(const char *kind, const char *project_id, const char *batch_id)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "project_id", project_id ? project_id : "");
	cJSON_AddStringToObject(o, "batch_id", batch_id ? batch_id : "");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int
copy_field(const cJSON *o, const char *name, char *out, size_t size,
	   int required)
{
	const char *v =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));

	if (!v)
		v = "";
	if (strlen(v) >= size || (required && !*v))
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int
kg_task_parse(const char *json, struct kg_task *t)
{
	cJSON *o = cJSON_Parse(json);
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (cJSON_IsObject(o) &&
	    copy_field(o, "kind", t->kind, sizeof(t->kind), 1) == 0 &&
	    copy_field(o, "project_id", t->project_id,
		       sizeof(t->project_id), 0) == 0 &&
	    copy_field(o, "batch_id", t->batch_id, sizeof(t->batch_id),
		       0) == 0 &&
	    (t->project_id[0] || t->batch_id[0])) {
		snprintf(t->ident, sizeof(t->ident), "%s:%s", t->kind,
			 t->project_id[0] ? t->project_id : t->batch_id);
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}

/* Runs a script; returns its integer reply or -1 (err set). */
static long long
script(struct kg_err *err, const char *src, int nkeys, const char **keys,
       int nargs, const char **args)
{
	const char *argv[24];
	char numkeys[8];
	int argc = 0;
	redisReply *r;
	long long n = -1;

	if (3 + nkeys + nargs > (int)(sizeof(argv) / sizeof(argv[0])))
		return kg_err_set(err, 500, "internal", "queue script too big");
	snprintf(numkeys, sizeof(numkeys), "%d", nkeys);
	argv[argc++] = "EVAL";
	argv[argc++] = src;
	argv[argc++] = numkeys;
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	r = kg_redis_argv(err, argc, argv, NULL);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	else {
		KG_ERROR("queue script failed: %s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		kg_err_set(err, 503, "unavailable", "queue operation failed");
	}
	freeReplyObject(r);
	return n;
}

static int
parse_or_fail(const char *task, struct kg_task *t, struct kg_err *err)
{
	if (kg_task_parse(task, t) < 0)
		return kg_err_set(err, 400, "bad_task", "malformed task");
	return 0;
}

int
kg_queue_push(const char *q, const char *task, struct kg_err *err)
{
	struct kg_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, NULL, &t, &k);
	return script(err, push_script, 2, (const char *[]){k.queue, k.queued},
		      2, (const char *[]){task, t.ident}) < 0 ? -1 : 0;
}

int
kg_queue_push_lost(const char *q, const char *task, int dry_run,
		   struct kg_err *err)
{
	struct kg_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, NULL, &t, &k);
	return (int)script(err, push_lost_script, 3,
			   (const char *[]){k.queue, k.queued, k.lease}, 3,
			   (const char *[]){task, t.ident,
					    dry_run ? "check" : "push"});
}

char *
kg_queue_take(const char *q, const char *worker, int block_ms,
	      struct kg_err *err)
{
	long long limit = kg_conf_int("redis", "timeout_ms") / 2;
	char timeout[32];
	struct keys k;
	redisReply *r;
	char *task = NULL;

	make_keys(q, worker, NULL, &k);
	/* A blocking wait longer than the client's read timeout would look
	 * like an outage. */
	if (block_ms > limit)
		block_ms = (int)limit;
	if (block_ms > 0) {
		snprintf(timeout, sizeof(timeout), "%.3f", block_ms / 1000.0);
		r = kg_redis_cmd(err, "BLMOVE %s %s RIGHT LEFT %s", k.queue,
				 k.proc, timeout);
	} else {
		r = kg_redis_cmd(err, "LMOVE %s %s RIGHT LEFT", k.queue,
				 k.proc);
	}
	if (!r)
		return NULL;
	if (r->type == REDIS_REPLY_STRING)
		task = strdup(r->str);
	else if (r->type == REDIS_REPLY_ERROR)
		kg_err_set(err, 503, "unavailable", "queue take failed: %.100s",
			   r->str);
	freeReplyObject(r);
	return task;
}

int
kg_queue_lease(const char *q, const char *worker, const char *task,
	       long long lease_ms, struct kg_err *err)
{
	char ms[24];
	struct kg_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, worker, &t, &k);
	snprintf(ms, sizeof(ms), "%lld", lease_ms);
	return (int)script(err, lease_script, 2,
			   (const char *[]){k.lease, k.queued}, 3,
			   (const char *[]){worker, ms, t.ident});
}

int
kg_queue_renew(const char *worker, const char *task, long long lease_ms,
	       struct kg_err *err)
{
	char ms[24];
	struct kg_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(NULL, worker, &t, &k);
	snprintf(ms, sizeof(ms), "%lld", lease_ms);
	return (int)script(err, renew_script, 1, (const char *[]){k.lease}, 2,
			   (const char *[]){worker, ms});
}

int
kg_queue_ack(const char *q, const char *worker, const char *task,
	     struct kg_err *err)
{
	struct kg_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, worker, &t, &k);
	return script(err, ack_script, 2, (const char *[]){k.proc, k.lease}, 2,
		      (const char *[]){task, worker}) < 0 ? -1 : 0;
}

static int
put_back(const char *q, const char *worker, const char *task,
	 const char *how, struct kg_err *err)
{
	struct kg_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, worker, &t, &k);
	return script(err, back_script, 4,
		      (const char *[]){k.proc, k.lease, k.queue, k.queued}, 4,
		      (const char *[]){task, worker, t.ident, how}) < 0
		       ? -1 : 0;
}

int
kg_queue_defer(const char *q, const char *worker, const char *task,
	       struct kg_err *err)
{
	return put_back(q, worker, task, "LPUSH", err);
}

int
kg_queue_requeue(const char *q, const char *worker, const char *task,
		 struct kg_err *err)
{
	return put_back(q, worker, task, "RPUSH", err);
}

int
kg_queue_heartbeat(const char *worker, long long lease_ms,
		   struct kg_err *err)
{
	char ms[24];
	struct keys k;

	make_keys(NULL, worker, NULL, &k);
	snprintf(ms, sizeof(ms), "%lld", lease_ms);
	return script(err, heartbeat_script, 1, (const char *[]){k.heartbeat},
		      2, (const char *[]){worker, ms}) < 0 ? -1 : 0;
}

int
kg_queue_leave(const char *q, const char *worker, struct kg_err *err)
{
	struct keys k;
	redisReply *r;

	make_keys(q, worker, NULL, &k);
	r = kg_redis_cmd(err, "DEL %s %s", k.heartbeat, k.proc);
	if (!r)
		return -1;
	freeReplyObject(r);
	r = kg_redis_cmd(err, "SREM kg:workers %s", worker);
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

long long
kg_queue_workers_alive(const char *prefix, struct kg_err *err)
{
	return script(err, alive_script, 0, NULL, 1,
		      (const char *[]){prefix ? prefix : ""});
}

long long
kg_queue_reap(const char *q, struct kg_err *err)
{
	char names[NREAPED + 1][48], prefix[NREAPED + 1][80];
	char qkey[NREAPED + 1][64], queued[NREAPED + 1][64];
	const char *keys[2 * (NREAPED + 1)], *args[NREAPED + 1];
	size_t n = 0;
	int known = 0;

	for (size_t i = 0; i < NREAPED; i++) {
		snprintf(names[n++], sizeof(names[0]), "%s", reaped_queues[i]);
		known |= q && !strcmp(q, reaped_queues[i]);
	}
	if (q && !known)
		snprintf(names[n++], sizeof(names[0]), "%.40s", q);
	for (size_t i = 0; i < n; i++) {
		struct keys k;

		make_keys(names[i], NULL, NULL, &k);
		snprintf(qkey[i], sizeof(qkey[i]), "%s", k.queue);
		snprintf(queued[i], sizeof(queued[i]), "%s", k.queued);
		snprintf(prefix[i], sizeof(prefix[i]), "kg:processing:%.40s:",
			 names[i]);
		keys[2 * i] = qkey[i];
		keys[2 * i + 1] = queued[i];
		args[i] = prefix[i];
	}
	return script(err, reap_script, (int)(2 * n), keys, (int)n, args);
}

long long
kg_queue_length(const char *q, struct kg_err *err)
{
	struct keys k;
	redisReply *r;
	long long n = -1;

	make_keys(q, NULL, NULL, &k);
	r = kg_redis_cmd(err, "LLEN %s", k.queue);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	freeReplyObject(r);
	return n;
}

char **
kg_queue_processing(const char *q, const char *worker, size_t *n,
		    struct kg_err *err)
{
	struct keys k;
	redisReply *r;
	char **out;

	*n = 0;
	make_keys(q, worker, NULL, &k);
	r = kg_redis_cmd(err, "LRANGE %s 0 -1", k.proc);
	if (!r)
		return NULL;
	if (r->type != REDIS_REPLY_ARRAY || !r->elements) {
		freeReplyObject(r);
		return NULL;
	}
	out = calloc(r->elements, sizeof(*out));
	for (size_t i = 0; out && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			out[(*n)++] = strdup(r->element[i]->str);
	freeReplyObject(r);
	return out;
}
