/*
 * kg_streams - limits and liveness of long-lived event streams (the
 * relay, kg_relay), so that streams can neither exhaust the relay nor
 * outlive the session that opened them.
 *
 * Per process: [events] max_streams streams at once.  The program runs
 * one request thread more than that (kg_streams_threads), so a request
 * that arrives while every stream slot is taken is still accepted at
 * once and answered 503 JSON with Retry-After - instead of waiting
 * unseen in the listen backlog until some stream ends.  (With several
 * relay processes on one socket the kernel hands a connection to the
 * longest-waiting accept(); a full process only waits with its one spare
 * thread, so it is rarely chosen while another process has room.)
 *
 * Per user, across all relay processes and hosts: [events]
 * max_streams_per_user (default 10) streams, counted in Redis as a
 * sorted set kg:streams:<user id> of stream ids scored with an expiry
 * time; one atomic script drops expired members, counts and adds.  An
 * open stream renews its member at every heartbeat, so the slots of a
 * relay that crashed free themselves within 2 heartbeats + 5 s.  Over
 * the limit: 429 JSON.
 *
 * Liveness: at every heartbeat the stream re-reads the user and its
 * session (kg_auth_session_check: deleted, logged out, password changed)
 * and whether the (fresh) role still lets it see the batch; if not it
 * ends with "event: end" reason session_ended.
 *
 * Threaded programs only: these functions take kg_app_lock() around
 * their database and Redis calls themselves.
 */
#ifndef KG_STREAMS_H
#define KG_STREAMS_H

#include "kg_err.h"

struct kg_req;

struct kg_stream_guard {
	char slot[33];		/* member of kg:streams:<user> */
	char user_id[37];
	int in_process;		/* holds one of the process's slots */
	int in_redis;		/* holds one of the user's slots */
};

/* Request threads for the relay program: max_streams + 1 spare. */
int kg_streams_threads(void);

/* Take a process slot (else 503) and a user slot (else 429), both with
 * Retry-After; 0, or -1 with req->err set and nothing held. */
int kg_streams_enter(struct kg_req *req, struct kg_stream_guard *g);

/*
 * The heartbeat check: 0 while the session lives and the user may still
 * see `batch_id` (req->user gets the fresh role); -1 when the stream
 * must end (session_ended).  Database or Redis trouble keeps the stream
 * (it is checked again at the next heartbeat).
 */
int kg_streams_alive(struct kg_req *req, struct kg_stream_guard *g,
		     const char *batch_id);

/* Give back what kg_streams_enter took. */
void kg_streams_leave(struct kg_stream_guard *g);

/* Streams the user has open now (all processes); -1 if Redis is down. */
long long kg_streams_open(const char *user_id, struct kg_err *err);

#endif
