/*
 * kg_queue - the reliable work queue of the workers, on Redis lists.
 *
 * PostgreSQL is the source of truth (a project's status says whether it
 * needs work); Redis only carries the work to a worker quickly.  So the
 * queue may lose a task (FLUSHALL, a failover) without losing work: the
 * worker's reconciler re-pushes every project the database says is
 * QUEUED or GENERATING that nobody holds a lease on (kg_queue_push_lost).
 * Delivery is at least once; processing must be idempotent.
 *
 * Keys, for queue q (e.g. "generate") and worker id w:
 *   kg:queue:<q>:<batch>    fair queues (generate, regenerate): one list
 *                           of task JSON per batch; LPUSH new, taken from
 *                           the right (oldest first)
 *   kg:ready:<q>            the ring of batches with tasks waiting, and
 *   kg:readyset:<q>         the set of its members; each take turns the
 *                           ring by one batch (round robin)
 *   kg:queue:<q>            plain queues (export): one list.  For a fair
 *                           queue a task found here (pushed by an older
 *                           version) is moved to its batch's list
 *   kg:wake                 a token per push (capped): idle workers wait
 *                           on it instead of polling
 *   kg:wake:<q>             pub/sub channel, a message per push to q: a
 *                           busy worker subscribed to it (the export
 *                           queue) takes a new task at once
 *   kg:processing:<q>:<w>   the tasks worker w has taken (BLMOVE moves a
 *                           task here atomically, so a worker that dies
 *                           right after taking it still has it on record)
 *   kg:queued:<q>           set of task idents waiting in the queue (lets
 *                           the reconciler tell "waiting" from "lost")
 *   kg:lease:<ident>        the worker holding the task, PX lease_ms,
 *                           renewed while it works
 *   kg:worker:<w>           heartbeat, PX lease_ms; kg:workers lists ids
 * A task's ident is "<kind>:<project_id>" (or ":<batch_id>" when it
 * names no project); its JSON is {"kind","project_id","batch_id",...}.
 *
 * Life of a task: push -> take (queue -> processing) -> lease -> work
 * (renew) -> ack (removed from processing, lease deleted).  A task the
 * worker cannot run yet (its batch or user is at its concurrency limit)
 * is deferred: back to the far end of its batch's list; the worker then
 * names that batch in `skip` for a moment, so the ring serves the other
 * batches instead of offering the full one again.  On SIGTERM unfinished
 * tasks are requeued at the near end.  The reaper (any worker, a few
 * times per lease period) moves the processing list of every worker
 * whose heartbeat expired back to the queue.
 *
 * Every multi-key step is one Lua script, so a crash between two
 * commands cannot leave a task half moved.  (The scripts touch keys they
 * compute, so this needs a single Redis or Sentinel, not Cluster.)
 */
#ifndef KG_QUEUE_H
#define KG_QUEUE_H

#include <hiredis/hiredis.h>

#include <cjson/cJSON.h>

#include "kg_err.h"
#include "kg_redis.h"

#define KG_QUEUE_GENERATE "generate"
#define KG_QUEUE_MAX_SKIP 64	/* batch ids a take can be told to skip */
#define KG_TASK_IDENT_MAX 96

struct kg_queue_task {
	char kind[32];			/* generate, regenerate_section, ... */
	char project_id[37];		/* "" if none */
	char batch_id[37];
	char ident[KG_TASK_IDENT_MAX];
};

/* Task JSON for a project (caller frees). */
char *kg_queue_task_json(const char *kind, const char *project_id,
		   const char *batch_id);
/* Parse a task; -1 if it is not one of ours.  kg_queue_task_of reads
 * one already parsed (a JSON object) by the same rule. */
int kg_queue_task_parse(const char *json, struct kg_queue_task *t);
int kg_queue_task_of(const cJSON *o, struct kg_queue_task *t);

/* Append a task for some worker to take. */
int kg_queue_push(const char *q, const char *task, struct kg_err *err);
/* The same as a command of a pipeline (kg_redis.h); its reply is
 * checked by kg_queue_pushed (0, or -1 with err). */
int kg_queue_push_add(struct kg_redis_pipe *p, const char *q,
		      const char *task, struct kg_err *err);
int kg_queue_pushed(redisReply *r, struct kg_err *err);
/* Push unless the task is waiting in the queue or leased: 1 pushed
 * (dry_run: would push), 0 not needed, -1 error. */
int kg_queue_push_lost(const char *q, const char *task, int dry_run,
		       struct kg_err *err);

/*
 * Take a task into worker's processing list: from a fair queue the
 * oldest task of the next batch in the ring that is not named in skip
 * (at most KG_QUEUE_MAX_SKIP are used), from a plain queue the oldest.
 * Returns the task JSON (caller frees) or NULL: none (err untouched) or
 * failure (err set).  Does not wait: see kg_queue_wait.
 */
char *kg_queue_take(const char *q, const char *worker,
		    const char *const *skip, size_t nskip,
		    struct kg_err *err);
/* Idle: wait up to block_ms for a push to any queue: 1 a push came,
 * 0 none, -1 with err when Redis fails. */
int kg_queue_wait(int block_ms, struct kg_err *err);

/*
 * Busy: a connection of the caller's (redisFree) subscribed to
 * kg:wake:<q> of each of the n (<= KG_QUEUE_MAX_SUBSCRIBE) queues qs,
 * whose socket (c->fd) becomes readable on every push to one of them -
 * for an event loop to watch; NULL + err on failure.
 * kg_queue_woken() reads what arrived without waiting: the number of
 * pushes seen, -1 when the connection is gone.
 */
#define KG_QUEUE_MAX_SUBSCRIBE 4
redisContext *kg_queue_subscribe(const char *const *qs, size_t n,
				 struct kg_err *err);
int kg_queue_woken(redisContext *c);

/* Lease a taken task: 1 acquired (or it was ours, or its holder's
 * heartbeat is gone), 0 another live worker holds it, -1 error. */
int kg_queue_lease(const char *q, const char *worker, const char *task,
		   long long lease_ms, struct kg_err *err);
/* Extend our lease: 1 still ours, 0 lost to another worker, -1 error. */
int kg_queue_renew(const char *worker, const char *task, long long lease_ms,
		   struct kg_err *err);
/* Done (or nothing to do): forget the task and drop our lease. */
int kg_queue_ack(const char *q, const char *worker, const char *task,
		 struct kg_err *err);
/* Not now: back to the far end of the queue, lease dropped. */
int kg_queue_defer(const char *q, const char *worker, const char *task,
		   struct kg_err *err);
/* Give it to the next worker: to the near end, lease dropped. */
int kg_queue_requeue(const char *q, const char *worker, const char *task,
		     struct kg_err *err);

/* Keep the worker registered and alive for lease_ms. */
int kg_queue_heartbeat(const char *worker, long long lease_ms,
		       struct kg_err *err);
/* Clean exit: unregister (after requeueing everything). */
int kg_queue_leave(const char *q, const char *worker, struct kg_err *err);
/* Workers registered with a live heartbeat whose id starts with prefix
 * (NULL or "": all; "<host>:" one host's, ids are host:pid:random); -1
 * on error. */
long long kg_queue_workers_alive(const char *prefix, struct kg_err *err);
/* Requeue the tasks of dead workers - of q and of every other queue a
 * worker takes from (generate, regenerate, export), since a reaped worker
 * leaves kg:workers; number of tasks moved or -1. */
long long kg_queue_reap(const char *q, struct kg_err *err);

/* The tasks in a worker's processing list (array and strings are the
 * caller's to free); NULL with *n 0 when empty or on error. */
char **kg_queue_processing(const char *q, const char *worker, size_t *n,
			   struct kg_err *err);

/* How many batches a fair queue serves before batch_id (its place in the
 * ring); -2 when the batch has nothing waiting, -1 on error. */
long long kg_queue_ahead(const char *q, const char *batch_id,
			 struct kg_err *err);

/* Tasks waiting in a queue (tests, metrics); -1 on error. */
long long kg_queue_length(const char *q, struct kg_err *err);

#endif
