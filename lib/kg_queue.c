#include "kg_queue.h"
#include "kg_array.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Fair queues (generate, regenerate) keep one list per batch,
 * kg:queue:<q>:<batch>, and a ring kg:ready:<q> of the batches that have
 * tasks waiting (kg:readyset:<q> says who is in it).  A take rotates the
 * ring by one batch and pops that batch's oldest task, so runnable
 * batches are served round robin whatever their size, and a batch that
 * is at its concurrency limit costs one skipped entry, not a trip past
 * every task it has waiting.  Plain queues (export) are one list.
 *
 * ENLIST is the common tail of every script that puts a task back:
 * (re)enter its batch in the ring and wake one idle worker (kg:wake is a
 * short list of tokens; an idle worker blocks on it with BLPOP).
 */
#define ENLIST \
	"local function enlist(ring, ringset, b) " \
	"  if b ~= '' and redis.call('SADD', ringset, b) == 1 then " \
	"    redis.call('LPUSH', ring, b) end " \
	"  redis.call('LPUSH', 'kg:wake', '1') " \
	"  redis.call('LTRIM', 'kg:wake', 0, 15) end "

/* KEYS: queue, queued-set, ring, ring-set, wake channel
 * ARGV: task, ident, batch */
static const char push_script[] =
	ENLIST
	"redis.call('LPUSH', KEYS[1], ARGV[1]) "
	"redis.call('SADD', KEYS[2], ARGV[2]) "
	"enlist(KEYS[3], KEYS[4], ARGV[3]) "
	"redis.call('PUBLISH', KEYS[5], '1') return 1";

/* KEYS: queue, queued-set, lease, ring, ring-set
 * ARGV: task, ident, check|push, batch */
static const char push_lost_script[] =
	ENLIST
	"if redis.call('EXISTS', KEYS[3]) == 1 or "
	"   redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return 0 end "
	"if ARGV[3] == 'check' then return 1 end "
	"redis.call('LPUSH', KEYS[1], ARGV[1]) "
	"redis.call('SADD', KEYS[2], ARGV[2]) "
	"enlist(KEYS[4], KEYS[5], ARGV[4]) return 1";

/*
 * KEYS: ring, ring-set, processing, legacy-queue
 * ARGV: batch-queue prefix ("kg:queue:<q>:"), batches to skip...
 *
 * First adopts what an older version (or a test) pushed to the single
 * list kg:queue:<q>, so a rolling upgrade loses nothing.  Then one turn
 * of the ring: each batch visited moves to the back, so the next take
 * starts with the next batch; a batch whose list is empty leaves it.
 */
static const char take_fair_script[] =
	"for i = 1, 100 do "
	"  local t = redis.call('RPOP', KEYS[4]) "
	"  if not t then break end "
	"  local ok, d = pcall(cjson.decode, t) "
	"  local b = '' "
	"  if ok and type(d) == 'table' and type(d['batch_id']) == 'string' "
	"  then b = d['batch_id'] end "
	"  redis.call('LPUSH', ARGV[1] .. b, t) "
	"  if redis.call('SADD', KEYS[2], b) == 1 then "
	"    redis.call('LPUSH', KEYS[1], b) end "
	"end "
	"local skip = {} "
	"for i = 2, #ARGV do skip[ARGV[i]] = true end "
	"for i = 1, redis.call('LLEN', KEYS[1]) do "
	"  local b = redis.call('LMOVE', KEYS[1], KEYS[1], 'RIGHT', 'LEFT') "
	"  if not b then return false end "
	"  local t = false "
	"  if not skip[b] then "
	"    t = redis.call('LMOVE', ARGV[1] .. b, KEYS[3], 'RIGHT', 'LEFT') end "
	"  if redis.call('LLEN', ARGV[1] .. b) == 0 then "
	"    redis.call('LREM', KEYS[1], 0, b) "
	"    redis.call('SREM', KEYS[2], b) end "
	"  if t then return t end "
	"end return false";

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

/* KEYS: processing, lease, queue, queued-set, ring, ring-set
 * ARGV: task, worker, ident, LPUSH|RPUSH, batch */
static const char back_script[] =
	ENLIST
	"redis.call('LREM', KEYS[1], 1, ARGV[1]) "
	"redis.call(ARGV[4], KEYS[3], ARGV[1]) "
	"redis.call('SADD', KEYS[4], ARGV[3]) "
	"enlist(KEYS[5], KEYS[6], ARGV[5]) "
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
 * KEYS: per queue four keys: its list (a fair queue: the prefix of its
 *       batch lists), queued-set, ring, ring-set (ring keys unused for a
 *       plain queue)
 * ARGV: per queue its processing-key prefix ("kg:processing:q:")
 * Dead workers' tasks go to the near end: they were taken first.  A dead
 * worker leaves kg:workers afterwards, so every queue it may have taken
 * from is reaped in the same pass (see reaped_queues).
 */
static const char reap_script[] =
	ENLIST
	"local n = 0 "
	"for _, w in ipairs(redis.call('SMEMBERS', 'kg:workers')) do "
	"  if redis.call('EXISTS', 'kg:worker:' .. w) == 0 then "
	"    for q = 1, #ARGV do "
	"      local proc, k = ARGV[q] .. w, 4 * q - 3 "
	"      local fair = string.sub(KEYS[k], -1) == ':' "
	"      while true do "
	"        local t = redis.call('RPOP', proc) "
	"        if not t then break end "
	"        local ok, d = pcall(cjson.decode, t) "
	"        if not ok or type(d) ~= 'table' then d = {} end "
	"        local b = d['batch_id'] "
	"        if type(b) ~= 'string' then b = '' end "
	"        if fair then "
	"          redis.call('RPUSH', KEYS[k] .. b, t) "
	"          enlist(KEYS[k + 2], KEYS[k + 3], b) "
	"        else redis.call('RPUSH', KEYS[k], t) end "
	"        local id = d['project_id'] "
	"        if type(id) ~= 'string' or id == '' then id = b end "
	"        redis.call('SADD', KEYS[k + 1], "
	"                    tostring(d['kind']) .. ':' .. id) "
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
#define NREAPED KG_COUNT(reaped_queues)

/* The queues whose tasks are served per batch (see take_fair_script). */
static int
is_fair(const char *q)
{
	return q && (!strcmp(q, KG_QUEUE_GENERATE) || !strcmp(q, "regenerate"));
}

struct keys {
	char queue[64], queued[64], proc[160], lease[128], heartbeat[96];
	char list[112];			/* where t goes: its batch's list */
	char prefix[64], ring[64], ringset[64];
	const char *batch;		/* t's batch in a fair queue, or "" */
};

static void
make_keys(const char *q, const char *worker, const struct kg_queue_task *t,
	  struct keys *k)
{
	const char *name = q ? q : "";

	snprintf(k->queue, sizeof(k->queue), "kg:queue:%.40s", name);
	snprintf(k->queued, sizeof(k->queued), "kg:queued:%.40s", name);
	snprintf(k->proc, sizeof(k->proc), "kg:processing:%.40s:%.80s",
		 name, worker ? worker : "");
	snprintf(k->lease, sizeof(k->lease), "kg:lease:%s",
		 t ? t->ident : "");
	snprintf(k->heartbeat, sizeof(k->heartbeat), "kg:worker:%.80s",
		 worker ? worker : "");
	snprintf(k->prefix, sizeof(k->prefix), "kg:queue:%.40s:", name);
	snprintf(k->ring, sizeof(k->ring), "kg:ready:%.40s", name);
	snprintf(k->ringset, sizeof(k->ringset), "kg:readyset:%.40s", name);
	k->batch = is_fair(q) && t ? t->batch_id : "";
	if (is_fair(q))
		snprintf(k->list, sizeof(k->list), "%s%s", k->prefix,
			 k->batch);
	else
		snprintf(k->list, sizeof(k->list), "%s", k->queue);
}

char *
kg_queue_task_json(const char *kind, const char *project_id,
		   const char *batch_id)
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
kg_queue_task_of(const cJSON *o, struct kg_queue_task *t)
{
	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(o) ||
	    copy_field(o, "kind", t->kind, sizeof(t->kind), 1) < 0 ||
	    copy_field(o, "project_id", t->project_id, sizeof(t->project_id),
		       0) < 0 ||
	    copy_field(o, "batch_id", t->batch_id, sizeof(t->batch_id),
		       0) < 0 ||
	    (!t->project_id[0] && !t->batch_id[0]))
		return -1;
	snprintf(t->ident, sizeof(t->ident), "%s:%s", t->kind,
		 t->project_id[0] ? t->project_id : t->batch_id);
	return 0;
}

int
kg_queue_task_parse(const char *json, struct kg_queue_task *t)
{
	cJSON *o = cJSON_Parse(json);
	int rc = kg_queue_task_of(o, t);

	cJSON_Delete(o);
	return rc;
}

/* A script's EVAL command line (argv: 3 + nkeys + nargs entries, <= 24;
 * numkeys: 8 bytes). */
static int
script_argv(const char **argv, char *numkeys, const char *src, int nkeys,
	    const char **keys, int nargs, const char **args,
	    struct kg_err *err)
{
	int argc = 0;

	if (3 + nkeys + nargs > 24)
		return kg_err_set(err, 500, "internal", "queue script too big");
	snprintf(numkeys, 8, "%d", nkeys);
	argv[argc++] = "EVAL";
	argv[argc++] = src;
	argv[argc++] = numkeys;
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	return argc;
}

/* A script's integer reply, or -1 (err set; r NULL: already set). */
static long long
script_reply(redisReply *r, struct kg_err *err)
{
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	KG_ERROR("queue script failed: %s",
		 r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	return kg_err_set(err, 503, "unavailable", "queue operation failed");
}

/* Runs a script's command line (argc < 0: building it failed, err set);
 * returns its integer reply or -1 (err set). */
static long long
run_argv(struct kg_err *err, int argc, const char **argv)
{
	redisReply *r;
	long long n;

	if (argc < 0)
		return -1;
	r = kg_redis_argv(err, argc, argv, NULL);
	n = script_reply(r, err);
	freeReplyObject(r);
	return n;
}

/* Runs a script; returns its integer reply or -1 (err set). */
static long long
script(struct kg_err *err, const char *src, int nkeys, const char **keys,
       int nargs, const char **args)
{
	const char *argv[24];
	char numkeys[8];

	return run_argv(err, script_argv(argv, numkeys, src, nkeys, keys,
					 nargs, args, err), argv);
}

static int
parse_or_fail(const char *task, struct kg_queue_task *t, struct kg_err *err)
{
	if (kg_queue_task_parse(task, t) < 0)
		return kg_err_set(err, 400, "bad_task", "malformed task");
	return 0;
}

/* The push script's command line for task (argv: 24). */
static int
push_argv(const char **argv, char *numkeys, const char *q, const char *task,
	  struct kg_queue_task *t, struct keys *k, char *channel,
	  struct kg_err *err)
{
	if (parse_or_fail(task, t, err) < 0)
		return -1;
	make_keys(q, NULL, t, k);
	snprintf(channel, 64, "kg:wake:%s", q);
	return script_argv(argv, numkeys, push_script, 5,
			   (const char *[]){k->list, k->queued, k->ring,
					    k->ringset, channel},
			   3, (const char *[]){task, t->ident, k->batch}, err);
}

int
kg_queue_push(const char *q, const char *task, struct kg_err *err)
{
	const char *argv[24];
	char numkeys[8], channel[64];
	struct kg_queue_task t;
	struct keys k;

	return run_argv(err, push_argv(argv, numkeys, q, task, &t, &k,
				       channel, err), argv) < 0 ? -1 : 0;
}

int
kg_queue_push_add(struct kg_redis_pipe *p, const char *q, const char *task,
		  struct kg_err *err)
{
	const char *argv[24];
	char numkeys[8], channel[64];
	struct kg_queue_task t;
	struct keys k;
	int argc = push_argv(argv, numkeys, q, task, &t, &k, channel, err);

	return argc < 0 ? -1 : kg_redis_pipe_add(p, argc, argv, NULL, err);
}

int
kg_queue_pushed(redisReply *r, struct kg_err *err)
{
	return script_reply(r, err) < 0 ? -1 : 0;
}

redisContext *
kg_queue_subscribe(const char *const *qs, size_t n, struct kg_err *err)
{
	redisContext *c = kg_redis_connect(err);
	char channels[KG_QUEUE_MAX_SUBSCRIBE][64];
	const char *argv[KG_QUEUE_MAX_SUBSCRIBE + 1] = {"SUBSCRIBE"};
	redisReply *r = NULL;
	int ok = n > 0 && n <= KG_QUEUE_MAX_SUBSCRIBE;

	if (!c)
		return NULL;
	for (size_t i = 0; ok && i < n; i++) {
		snprintf(channels[i], sizeof(channels[i]), "kg:wake:%s", qs[i]);
		argv[i + 1] = channels[i];
	}
	/* One confirmation per channel. */
	ok = ok && redisAppendCommandArgv(c, (int)n + 1, argv, NULL) == REDIS_OK;
	for (size_t i = 0; ok && i < n; i++) {
		ok = redisGetReply(c, (void **)&r) == REDIS_OK && r &&
		     r->type == REDIS_REPLY_ARRAY;
		freeReplyObject(r);
		r = NULL;
	}
	if (!ok) {
		redisFree(c);
		kg_err_set(err, 503, "unavailable", "redis SUBSCRIBE failed");
		return NULL;
	}
	return c;
}

int
kg_queue_woken(redisContext *c)
{
	void *reply;
	int n = 0;

	if (redisBufferRead(c) != REDIS_OK)
		return -1;
	while (redisGetReplyFromReader(c, &reply) == REDIS_OK && reply) {
		freeReplyObject(reply);
		n++;
	}
	return c->err ? -1 : n;
}

int
kg_queue_push_lost(const char *q, const char *task, int dry_run,
		   struct kg_err *err)
{
	struct kg_queue_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, NULL, &t, &k);
	return (int)script(err, push_lost_script, 5,
			   (const char *[]){k.list, k.queued, k.lease, k.ring,
					    k.ringset},
			   4, (const char *[]){task, t.ident,
					       dry_run ? "check" : "push",
					       k.batch});
}

/* A script's string reply (a task) or NULL: none, or failure (err). */
static char *
script_str(struct kg_err *err, int argc, const char **argv)
{
	redisReply *r = kg_redis_argv(err, argc, argv, NULL);
	char *out = NULL;

	if (!r)
		return NULL;
	if (r->type == REDIS_REPLY_STRING)
		out = strdup(r->str);
	else if (r->type == REDIS_REPLY_ERROR)
		kg_err_set(err, 503, "unavailable", "queue take failed: %.100s",
			   r->str);
	freeReplyObject(r);
	return out;
}

char *
kg_queue_take(const char *q, const char *worker, const char *const *skip,
	      size_t nskip, struct kg_err *err)
{
	const char *argv[8 + KG_QUEUE_MAX_SKIP];
	int argc = 0;
	struct keys k;

	make_keys(q, worker, NULL, &k);
	if (!is_fair(q))
		return script_str(err, 5, (const char *[]){
			"LMOVE", k.queue, k.proc, "RIGHT", "LEFT"});
	if (nskip > KG_QUEUE_MAX_SKIP)
		nskip = KG_QUEUE_MAX_SKIP;
	argv[argc++] = "EVAL";
	argv[argc++] = take_fair_script;
	argv[argc++] = "4";
	argv[argc++] = k.ring;
	argv[argc++] = k.ringset;
	argv[argc++] = k.proc;
	argv[argc++] = k.queue;
	argv[argc++] = k.prefix;
	for (size_t i = 0; i < nskip; i++)
		argv[argc++] = skip[i];
	return script_str(err, argc, argv);
}

int
kg_queue_wait(int block_ms, struct kg_err *err)
{
	long long limit = kg_config_int("redis", "timeout_ms") / 2;
	char timeout[32];
	redisReply *r;
	int woken;

	/* A blocking wait longer than the client's read timeout would look
	 * like an outage. */
	if (block_ms > limit)
		block_ms = (int)limit;
	if (block_ms <= 0)
		return 0;
	snprintf(timeout, sizeof(timeout), "%.3f", block_ms / 1000.0);
	r = kg_redis_cmd(err, "BLPOP kg:wake %s", timeout);
	if (!r)
		return -1;
	woken = r->type == REDIS_REPLY_ARRAY;
	freeReplyObject(r);
	return woken;
}

int
kg_queue_lease(const char *q, const char *worker, const char *task,
	       long long lease_ms, struct kg_err *err)
{
	char ms[24];
	struct kg_queue_task t;
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
	struct kg_queue_task t;
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
	struct kg_queue_task t;
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
	struct kg_queue_task t;
	struct keys k;

	if (parse_or_fail(task, &t, err) < 0)
		return -1;
	make_keys(q, worker, &t, &k);
	return script(err, back_script, 6,
		      (const char *[]){k.proc, k.lease, k.list, k.queued,
				       k.ring, k.ringset},
		      5, (const char *[]){task, worker, t.ident, how, k.batch}) < 0
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
	struct keys k[NREAPED + 1];
	const char *keys[4 * (NREAPED + 1)], *args[NREAPED + 1];
	size_t n = 0;
	int known = 0;

	const char *names[NREAPED + 1];

	for (size_t i = 0; i < NREAPED; i++) {
		names[n] = reaped_queues[i];
		make_keys(names[n], "", NULL, &k[n]);
		n++;
		known |= q && !strcmp(q, reaped_queues[i]);
	}
	if (q && !known) {
		names[n] = q;
		make_keys(q, "", NULL, &k[n++]);
	}
	for (size_t i = 0; i < n; i++) {
		/* A fair queue is named by its prefix (ends in ':'). */
		keys[4 * i] = is_fair(names[i]) ? k[i].prefix : k[i].queue;
		keys[4 * i + 1] = k[i].queued;
		keys[4 * i + 2] = k[i].ring;
		keys[4 * i + 3] = k[i].ringset;
		args[i] = k[i].proc;	/* "kg:processing:<q>:" */
	}
	return script(err, reap_script, (int)(4 * n), keys, (int)n, args);
}

/* KEYS: legacy queue, ring   ARGV: batch-queue prefix */
static const char length_script[] =
	"local n = redis.call('LLEN', KEYS[1]) "
	"for _, b in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do "
	"  n = n + redis.call('LLEN', ARGV[1] .. b) end return n";

long long
kg_queue_length(const char *q, struct kg_err *err)
{
	struct keys k;

	make_keys(q, NULL, NULL, &k);
	return script(err, length_script, 2, (const char *[]){k.queue, k.ring},
		      1, (const char *[]){k.prefix});
}

/* KEYS: ring   ARGV: batch.  The ring is served from its right end. */
static const char ahead_script[] =
	"local i = redis.call('LPOS', KEYS[1], ARGV[1]) "
	"if not i then return -2 end "
	"return redis.call('LLEN', KEYS[1]) - 1 - i";

long long
kg_queue_ahead(const char *q, const char *batch_id, struct kg_err *err)
{
	struct keys k;

	make_keys(q, NULL, NULL, &k);
	return script(err, ahead_script, 1, (const char *[]){k.ring}, 1,
		      (const char *[]){batch_id});
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
