#include "kg_redis.h"
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static redisContext *redis_ctx;

/*
 * An outage is logged when it starts, once a minute while it lasts and
 * when it ends - not at every attempt: a worker tries several times a
 * second and would write thousands of lines an hour.  The relay connects
 * from its dispatcher thread and its request threads: one lock.
 */
static pthread_mutex_t outage_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t since_ms, logged_ms;	/* first failure, last line */
	long failed;			/* attempts since the last success */
} outage;

static void
connect_failed(const char *why)
{
	int64_t now = kg_clock_ms();

	pthread_mutex_lock(&outage_mu);
	if (!outage.failed++) {
		outage.since_ms = outage.logged_ms = now;
		KG_WARN("redis connection failed: %s (trying again; "
			"logged once a minute until it is back)", why);
	} else if (now - outage.logged_ms >= 60000) {
		outage.logged_ms = now;
		KG_WARN("redis still unavailable after %lld s (%ld attempts): "
			"%s", (long long)(now - outage.since_ms) / 1000,
			outage.failed, why);
	}
	pthread_mutex_unlock(&outage_mu);
}

static void
connect_succeeded(void)
{
	pthread_mutex_lock(&outage_mu);
	if (outage.failed)
		KG_INFO("redis connection back after %.1f s (%ld attempts "
			"failed)",
			(double)(kg_clock_ms() - outage.since_ms) / 1000,
			outage.failed);
	outage.failed = 0;
	pthread_mutex_unlock(&outage_mu);
}

static int
reply_is_error(redisReply *r)
{
	return !r || r->type == REDIS_REPLY_ERROR;
}

/* AUTH and SELECT on a fresh connection, as configured. */
static int
redis_session_setup(redisContext *c)
{
	const char *password = kg_config_str("redis", "password");
	long long db = kg_config_int("redis", "db");
	redisReply *r;
	int bad;

	if (*password) {
		r = redisCommand(c, "AUTH %s", password);
		bad = reply_is_error(r);
		freeReplyObject(r);
		if (bad)
			return KG_WARN("redis AUTH failed"), -1;
	}
	if (db) {
		r = redisCommand(c, "SELECT %lld", db);
		bad = reply_is_error(r);
		freeReplyObject(r);
		if (bad)
			return KG_WARN("redis SELECT %lld failed", db), -1;
	}
	return 0;
}

int
kg_redis_version_ok(const char *version)
{
	int major = 0, minor = 0;

	if (sscanf(version, "%d.%d", &major, &minor) != 2)
		return 0;
	return major > KG_REDIS_MIN_MAJOR ||
	       (major == KG_REDIS_MIN_MAJOR && minor >= KG_REDIS_MIN_MINOR);
}

/* INFO server's redis_version, checked against the minimum. */
static int
check_version(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO server");
	const char *v = NULL;
	char version[32] = "?";
	int ok = 0;

	if (r && r->type == REDIS_REPLY_STRING)
		v = strstr(r->str, "redis_version:");
	if (v) {
		sscanf(v + strlen("redis_version:"), "%31[0-9.]", version);
		ok = kg_redis_version_ok(version);
	}
	freeReplyObject(r);
	if (!ok)
		KG_ERROR("redis %s is too old or did not answer INFO: "
			 "Kartograf needs Redis >= %d.%d", version,
			 KG_REDIS_MIN_MAJOR, KG_REDIS_MIN_MINOR);
	return ok ? 0 : -1;
}

redisContext *
kg_redis_connect(struct kg_err *err)
{
	long long ms = kg_config_int("redis", "timeout_ms");
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};
	redisContext *c;

	c = redisConnectWithTimeout(kg_config_str("redis", "host"),
				    (int)kg_config_int("redis", "port"), tv);
	if (!c || c->err) {
		connect_failed(c ? c->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(c, tv);
	redisEnableKeepAlive(c);
	if (redis_session_setup(c) < 0 || check_version(c) < 0)
		goto fail;
	connect_succeeded();
	return c;
fail:
	if (c)
		redisFree(c);
	kg_err_set(err, 503, "unavailable", "redis unavailable");
	return NULL;
}

static redisContext *
shared_ctx(struct kg_err *err)
{
	if (redis_ctx && redis_ctx->err) {
		redisFree(redis_ctx);
		redis_ctx = NULL;
	}
	if (!redis_ctx)
		redis_ctx = kg_redis_connect(err);
	return redis_ctx;
}

/*
 * Commands are formatted once and sent with the append/get-reply pair so
 * that a retry resends exactly the same bytes on the new connection.
 */
static redisReply *
send_formatted(struct kg_err *err, const char *cmd, int len)
{
	redisReply *r = NULL;

	if (len < 0) {
		kg_err_set(err, 500, "internal", "bad redis command");
		return NULL;
	}
	for (int attempt = 0; attempt < 2 && !r; attempt++) {
		if (!shared_ctx(err))
			return NULL;
		if (redisAppendFormattedCommand(redis_ctx, cmd, (size_t)len) ||
		    redisGetReply(redis_ctx, (void **)&r) != REDIS_OK) {
			KG_INFO("redis connection lost (%s)%s",
				redis_ctx->errstr,
				attempt ? "" : ", reconnecting");
			freeReplyObject(r);
			r = NULL;
			redisFree(redis_ctx);
			redis_ctx = NULL;
		}
	}
	if (!r)
		kg_err_set(err, 503, "unavailable", "redis unavailable");
	return r;
}

redisReply *
kg_redis_argv(struct kg_err *err, int argc, const char **argv,
	      const size_t *lens)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	redisReply *r = send_formatted(err, cmd, len);

	redisFreeCommand(cmd);
	return r;
}

redisReply *
kg_redis_cmd(struct kg_err *err, const char *fmt, ...)
{
	char *cmd = NULL;
	redisReply *r;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	r = send_formatted(err, cmd, len);
	redisFreeCommand(cmd);
	return r;
}

int
kg_redis_pipe_add(struct kg_redis_pipe *p, int argc, const char **argv,
		  const size_t *lens, struct kg_err *err)
{
	char *cmd = NULL;
	int len;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct kg_redis_piped *c = realloc(p->cmd, cap * sizeof(*c));

		if (!c)
			return kg_err_set(err, 500, "internal", "out of memory");
		p->cmd = c;
		p->cap = cap;
	}
	len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0)
		return kg_err_set(err, 500, "internal", "bad redis command");
	p->cmd[p->n++] = (struct kg_redis_piped){cmd, len};
	return 0;
}

/* Sends commands from..n-1, reads their replies; the number answered. */
static size_t
pipe_send(struct kg_redis_pipe *p, size_t from)
{
	size_t i, done = from;
	redisReply *r;

	for (i = from; i < p->n; i++)
		if (redisAppendFormattedCommand(redis_ctx, p->cmd[i].text,
						(size_t)p->cmd[i].len) != REDIS_OK)
			return done;
	while (done < p->n) {
		r = NULL;
		if (redisGetReply(redis_ctx, (void **)&r) != REDIS_OK) {
			freeReplyObject(r);
			break;
		}
		p->replies[done++] = r;
	}
	return done;
}

int
kg_redis_pipe_run(struct kg_redis_pipe *p, struct kg_err *err)
{
	size_t done = 0;

	if (!p->n)
		return 0;
	p->replies = calloc(p->n, sizeof(*p->replies));
	if (!p->replies)
		return kg_err_set(err, 500, "internal", "out of memory");
	for (int attempt = 0; attempt < 2 && done < p->n; attempt++) {
		if (!shared_ctx(err))
			return -1;
		done = pipe_send(p, done);
		if (done < p->n) {
			KG_INFO("redis connection lost (%s)%s",
				redis_ctx->errstr,
				attempt ? "" : ", reconnecting");
			redisFree(redis_ctx);
			redis_ctx = NULL;
		}
	}
	if (done < p->n)
		return kg_err_set(err, 503, "unavailable", "redis unavailable");
	return 0;
}

void
kg_redis_pipe_free(struct kg_redis_pipe *p)
{
	for (size_t i = 0; i < p->n; i++) {
		redisFreeCommand(p->cmd[i].text);
		if (p->replies)
			freeReplyObject(p->replies[i]);
	}
	free(p->cmd);
	free(p->replies);
	memset(p, 0, sizeof(*p));
}

void
kg_redis_close(void)
{
	if (redis_ctx)
		redisFree(redis_ctx);
	redis_ctx = NULL;
}

int
kg_redis_ping(struct kg_err *err)
{
	redisReply *r = kg_redis_cmd(err, "PING");
	int rc = 0;

	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_STATUS)
		rc = kg_err_set(err, 503, "unavailable", "redis: %s",
				r->str ? r->str : "unexpected reply to PING");
	freeReplyObject(r);
	return rc;
}
