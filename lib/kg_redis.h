/*
 * kg_redis - Redis access for every program: one connection per
 * process, kept between requests, re-established after Redis restarts.
 * All keys Kartograf writes start with "kg:".
 *
 * A command that fails because the connection broke is retried once on
 * a new connection (after a Redis restart the old socket is dead; the
 * command never reached the new server).  If that fails too the caller
 * gets NULL and a 503 "unavailable" error.  Redis error replies
 * (REDIS_REPLY_ERROR) are returned as replies: they are answers, not
 * outages.
 *
 * Minimum Redis version: 6.2 (KG_REDIS_MIN_*: the queue's LMOVE/BLMOVE
 * and the tickets' GETDEL; every multi-step update is one Lua script).
 * Every new connection asks INFO server and refuses an older server
 * with a logged error, so a program finds out at its first Redis use -
 * at start for the worker - rather than through odd failures later.
 */
#ifndef KG_REDIS_H
#define KG_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "kg_err.h"

/* hiredis printf-style format ("%s" / "%b" arguments are passed
 * binary-safe, never interpolated into the command text). Caller frees
 * the reply with freeReplyObject(). */
redisReply *kg_redis_cmd(struct kg_err *err, const char *fmt, ...);

redisReply *kg_redis_argv(struct kg_err *err, int argc, const char **argv,
			  const size_t *lens);

/*
 * A pipeline on the shared connection: commands collected with
 * kg_redis_pipe_add, then sent together and their replies read in one
 * round trip (kg_redis_pipe_run) - for a program that has many
 * independent commands at once (a generation request's 100 queue pushes
 * and events).  Like a single command, the part not answered when the
 * connection broke is sent once more on a new connection.
 *
 *   struct kg_redis_pipe p = {0};
 *   kg_redis_pipe_add(&p, argc, argv, NULL) ...
 *   if (kg_redis_pipe_run(&p, err) == 0) ... p.replies[i] ...
 *   kg_redis_pipe_free(&p);
 */
struct kg_redis_pipe {
	struct kg_redis_piped {		/* a formatted command */
		char *text;
		int len;
	} *cmd;
	redisReply **replies;		/* after run: one per command */
	size_t n, cap;
};

/* 0, or -1 with err (out of memory, a bad command). */
int kg_redis_pipe_add(struct kg_redis_pipe *p, int argc, const char **argv,
		      const size_t *lens, struct kg_err *err);
/* 0 when every command was answered (replies[i] may still be an error
 * reply); -1 + 503 when Redis went away (the replies read so far are
 * kept, the rest are NULL). */
int kg_redis_pipe_run(struct kg_redis_pipe *p, struct kg_err *err);
void kg_redis_pipe_free(struct kg_redis_pipe *p);

/* A new connection that the caller owns (e.g. a SUBSCRIBE connection
 * that cannot be shared); NULL + 503 on failure. redisFree() it. */
redisContext *kg_redis_connect(struct kg_err *err);

/* PING: 0 when Redis answers PONG, else -1 with err (503, or the
 * server's error reply). */
int kg_redis_ping(struct kg_err *err);

void kg_redis_close(void);

#define KG_REDIS_MIN_MAJOR 6
#define KG_REDIS_MIN_MINOR 2

/* 1 if "X.Y.Z" is at least the minimum version, else 0. */
int kg_redis_version_ok(const char *version);

#endif
