/*
 * kg_pool - a few threads that run blocking work (PostgreSQL through
 * kg_db, Redis through kg_redis) for an event loop, so the loop's
 * thread never waits for a round trip.
 *
 * The loop hands a piece of work over with kg_pool_run(work, done,
 * arg): work(arg) runs on one of the pool's threads, then done(arg)
 * runs on the loop's thread inside kg_pool_collect().  The pool's
 * eventfd (kg_pool_fd) becomes readable when finished work waits for
 * collection; the worker's kg_loop watches it (kg_loop_watch), so a
 * loop sleeping in curl_multi_poll wakes for it at once.
 *
 * Connections: kg_db and kg_redis keep one connection per thread
 * (thread-local), so each pool thread has its own PostgreSQL and Redis
 * connection, opened on first use (or by the threads' init) and closed
 * when the thread ends; the existing transaction functions run
 * unchanged on them.
 *
 * What work may touch: the database, Redis, its own arg and data the
 * loop does not change while the work runs (the loop keeps it alive
 * until done).  The configuration is read by both threads: reload it
 * only after kg_pool_drain().  done is where results meet the loop's
 * state.  Work is started in the order it was run, but with more than
 * one thread two pieces may run at once and end in any order: work
 * that must be ordered is chained (the next run from the first's done).
 */
#ifndef KG_POOL_H
#define KG_POOL_H

#include "kg_err.h"

struct kg_pool;

typedef void (*kg_pool_fn)(void *arg);

/* A pool of nthreads (>= 1) threads, each running init(NULL) first
 * (NULL: nothing; the worker connects there, so that no piece pays for
 * it); NULL + err when it cannot start. */
struct kg_pool *kg_pool_new(int nthreads, kg_pool_fn init,
			    struct kg_err *err);

/* Drains (kg_pool_drain), stops the threads (closing their
 * connections) and frees the pool.  NULL is a no-op. */
void kg_pool_free(struct kg_pool *p);

/* The eventfd that is readable while finished work waits for
 * kg_pool_collect. */
int kg_pool_fd(const struct kg_pool *p);

/* work(arg) on a pool thread, then done(arg) (may be NULL) on the
 * caller's thread in kg_pool_collect.  -1 + err when memory runs out
 * (nothing runs). */
int kg_pool_run(struct kg_pool *p, kg_pool_fn work, kg_pool_fn done,
		void *arg, struct kg_err *err);

/* Runs done of every finished piece of work, in the order they
 * finished; returns how many. */
int kg_pool_collect(struct kg_pool *p);

/* Drains, then replaces the threads with new ones: their connections
 * are opened again, with the settings of a reloaded configuration.
 * If no thread can start, work runs on the caller's thread (still
 * handed back through kg_pool_collect) and -1 + err tells. */
int kg_pool_restart(struct kg_pool *p, struct kg_err *err);

/* Pieces run and not yet collected. */
int kg_pool_busy(const struct kg_pool *p);

/* Waits until every piece of work has run and its done has been
 * called - including work that a done started meanwhile. */
void kg_pool_drain(struct kg_pool *p);

#endif
