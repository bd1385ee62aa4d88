/*
 * wk - the task part of kartograf-worker.
 *
 *   wk_task.c   the one task core: a description per queue (struct
 *               wk_queue), one take loop over the queues, the job list
 *               (start, end, renew, hand back), timers of a job
 *   wk_ai.c     the one AI-job core around kg_failover: begin, dispatch
 *               along the provider chain, retry with back-off, breaker,
 *               every call logged; used by generation and regeneration
 *   wk_house.c  the housekeeping around the queues: heartbeat and lease
 *               renewal, one reaper and one two-pass reconciler for
 *               every queue that describes what it looks for
 *   wk_data.c   section definitions, prompts and offline templates,
 *               loaded from PostgreSQL (data, not code)
 *   wk_claim.c  generation's claim of a project: the per-batch and
 *               per-user slots, the fencing token (one round trip)
 *   wk_gen.c    generation (issue 5): one job per project: plan ->
 *               draft -> polish, store, score, finish; every state
 *               change written to the database first (fenced by
 *               projects.attempts, one round trip per step), then
 *               published as an event
 *   wk_regen.c  section regeneration (issue 8): one section rewritten
 *               with the card as context, stored as a new AI revision
 *   wk_export.c export tasks (issue 9): .docx / .zip built, stored,
 *               recorded, the waiting endpoint answered
 */
#ifndef WK_H
#define WK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kg_db.h"
#include "kg_err.h"
#include "kg_failover.h"
#include "kg_loop.h"
#include "kg_offline.h"
#include "kg_quality.h"
#include "kg_queue.h"
#include "kg_stage.h"

struct wk_data {
	struct kg_section_def *defs;
	size_t ndefs;
	struct kg_offline_tpl *tpls;
	size_t ntpls;
	struct kg_prompt prompts[KG_NSTAGES];	/* plan, draft, polish */
	struct kg_prompt regenerate;	/* .body NULL: none in the table */
	char *sections_spec;		/* {sections_spec} of the prompts */
	char *section_keys;		/* {section_keys} */
};

int wk_data_load(struct wk_data *d, struct kg_err *err);
void wk_data_free(struct wk_data *d);
/* The definition of section `key`, NULL if none. */
const struct kg_section_def *wk_data_def(const struct wk_data *d,
					 const char *key);

/*
 * Batches a worker has just found full (its own slots, the batch's or
 * the user's limit): named in the next takes' skip list until `until`
 * (a short moment) or until a job of the batch ends here, so the ring
 * of a fair queue serves the other batches meanwhile (kg_queue.h).
 */
struct wk_skip {
	char batch[KG_QUEUE_MAX_SKIP][37];
	int64_t until[KG_QUEUE_MAX_SKIP];
	size_t n;
};

/* How often a .woken queue found empty is looked at without a
 * wake-up. */
#define WK_WOKEN_POLL_MS 1000

/* How long a full batch is skipped: a slot freed by another worker's
 * job is noticed within this time (our own jobs end the skip at once). */
#define WK_SKIP_MS 250

void wk_skip_add(struct wk_skip *s, const char *batch_id, int64_t until);
void wk_skip_del(struct wk_skip *s, const char *batch_id);
/* Drops expired entries; fills out (KG_QUEUE_MAX_SKIP) with the rest. */
size_t wk_skip_list(struct wk_skip *s, int64_t now, const char **out);

struct wk;
struct wk_job;
struct gen_step;

/* The outcome of offering a taken task to its queue's start. */
enum wk_take { WK_STARTED, WK_DEFER, WK_DROP, WK_RETRY };

/*
 * The AI part of a queue's jobs (wk_ai.c runs it): what a call is
 * checked against and what happens after it.  Every hook may end the
 * job (wk_job_end).
 */
struct wk_ai_ops {
	/* The stage of the call (ai_calls.stage, logs). */
	const char *(*stage)(const struct wk_job *j);
	/* Before every call: 1 go on, 0 the job was dealt with (NULL: go). */
	int (*go_on)(struct wk_job *j);
	/* An answer: 0 usable (kept by the job), -1 invalid (why). */
	int (*accept)(struct wk_job *j, const char *text, char *why,
		      size_t size);
	/* The answer was accepted (j->provider is set). */
	void (*done)(struct wk_job *j);
	/* No call can be made (j->error says why): cost cap, a bad chain,
	 * every provider failed. */
	void (*fail)(struct wk_job *j);
	/* A call came back for a job stopped meanwhile (j->stopped). */
	void (*dropped)(struct wk_job *j);
	/* "<stage>: " before "all AI providers failed" in j->error. */
	int stage_in_error;
	/* done writes the accepted call's ai_calls row (j->call_log) in
	 * its own step, so answer and state change take one round trip. */
	int logs_answers;
};

/*
 * One description per queue - the worker's whole knowledge of it; the
 * take loop (wk_task.c), the reaper and the reconciler (wk_house.c)
 * are written once over these.
 */
struct wk_queue {
	int id;				/* index into struct wk .qs */
	const char *queue;		/* KG_QUEUE_* */
	const char *noun;		/* in log lines */
	int takes_per_turn;
	int counts;			/* its jobs count in global_limit */
	/* Taken from only when its wake-up (kg:wake:<queue>, struct wk
	 * .wake) says a push came, or every WK_WOKEN_POLL_MS (what the
	 * reaper hands back sends no message): a busy worker does not ask
	 * Redis for it every turn. */
	int woken;
	int needs_data;			/* waits for struct wk_data */
	/* Lease, claim and start a taken task (JSON).  Runs it to the end
	 * when the queue has no jobs (export). */
	enum wk_take (*start)(struct wk *w, const char *task);
	/* After a turn's takes: finish the starts that start collected
	 * (generation: the claims in one round trip); NULL: none. */
	enum wk_take (*flush)(struct wk *w);
	/* Frees what the queue's job adds to struct wk_job (NULL: none). */
	void (*free_job)(struct wk_job *j);
	/* Shutdown: write the job back before its task is requeued. */
	void (*hand_back)(struct wk_job *j);
	/* The reconciler (NULL: none): under Redis lock `lock`, the rows of
	 * `lost_sql` ($1 = reconcile_grace s; the first column identifies
	 * the row) whose task task_of() is neither queued nor leased on
	 * two passes in a row are pushed again. */
	const char *lock, *lost_sql, *lost_noun;
	char *(*task_of)(PGresult *res, int row);
	const struct wk_ai_ops *ai;
};

enum { WK_Q_EXPORT, WK_Q_REGENERATE, WK_Q_GENERATE, WK_NQUEUES };

/* The queues, in the order a turn takes from them (generation last: an
 * idle worker blocks after it on kg:wake). */
extern const struct wk_queue wk_export_queue, wk_regen_queue, wk_gen_queue;
extern const struct wk_queue *const wk_queues[WK_NQUEUES];

/* A queue's state in one worker. */
struct wk_qstate {
	int64_t take_after;		/* no taking before (after a failure) */
	struct wk_skip skip;		/* batches skipped for a moment */
	char **suspects;		/* reconciler: lost at the last pass */
	size_t nsuspects;
};

/*
 * A running task.  A queue's job embeds this first (struct gen_job,
 * struct regen_job) and frees the rest in free_job.
 */
struct wk_job {
	struct wk_job *next;
	struct wk *w;
	const struct wk_queue *q;
	char *task;
	struct kg_queue_task t;
	uint64_t timer;
	void (*then)(struct wk_job *j);	/* run when the timer fires */
	char error[900];		/* why it failed or gives up */
	/* The AI core (wk_ai.c). */
	struct kg_failover_cursor fo;	/* the walk along the providers */
	struct kg_ai_request req;
	struct kg_ai_call *call;
	char provider[KG_FAILOVER_NAME];	/* answered the last call */
	char what[160];			/* "project <id> stage <s>" */
	/* The accepted call's ai_calls row (kg_ai_log_json) until a step
	 * of the queue wrote it (ops .logs_answers). */
	char *call_log;
	/* The step before the next call already answered go_on and the
	 * cost cap (WK_CHECKED_CAP: reached, j->error says why): the call's
	 * dispatch asks no more. */
	enum { WK_UNCHECKED, WK_CHECKED_GO, WK_CHECKED_CAP } checked;
	/* Stopped (POST /api/batches/{id}/cancel, a cost cap lowered under
	 * the spend) or re-claimed while a call was in flight: the call
	 * finishes and is logged, nothing more is written or called. */
	int stopped;
};

/* A generation claim being made (wk_claim.c). */
#define WK_CLAIMS_MAX 16

struct wk_claim {
	char *task;			/* taken, leased */
	struct kg_queue_task t;
	char progress[8];
	char attempts[16];		/* the fencing token (wk_gen.c) */
	char *input;			/* the project's input JSON */
	long long seq;			/* of its GENERATING event */
	int capped;			/* the cost cap is reached (why) */
	char why[300];
};

struct wk {
	struct kg_loop *loop;
	char id[96];			/* worker id: host:pid:random */
	struct wk_data data;
	int data_loaded;
	struct wk_job *jobs;
	int njobs;			/* the jobs of counting queues */
	int stopping;
	const volatile sig_atomic_t *stop;	/* SIGTERM seen */
	struct wk_qstate qs[WK_NQUEUES];
	/* slot accounting for /metrics: slot-ms used and offered */
	int64_t slot_ms_used, slot_ms_offered, slot_clock;
	/* housekeeping clocks (ms, monotonic) */
	int64_t next_heartbeat, next_reap, next_reconcile;
	/* no take or idle wait before this (Redis did not answer) */
	int64_t redis_retry_at;
	/* The wake-up of the .woken queues (kg_queue_subscribe), watched
	 * by the loop: a busy worker takes an export at once. */
	redisContext *wake;
	int64_t next_wake_try;
	/* Generation steps run during one loop turn (wk_steps_begin),
	 * written together by wk_steps_flush (wk_gen.c). */
	struct gen_step *steps, **steps_tail;
	int steps_collect;
	/* Claims collected by this turn's takes (wk_claim.c). */
	struct wk_claim claims[WK_CLAIMS_MAX];
	int nclaims;
};

/* wk_gen.c: from wk_steps_begin to wk_steps_flush, the steps the
 * generation jobs run (a stage's end, a project's end or failure, a
 * progress tick) are collected instead of written one at a time; the
 * flush writes them in one PostgreSQL round trip (kg_db_pipe_each,
 * still a transaction each); a step before a call starts that call as
 * soon as its own answer is in, the others publish their events in one
 * Redis pipeline and go on after the last answer.  No job with a
 * collected step may end before the flush: begin/flush enclose one loop
 * turn's callbacks, the progress ticks, or the claims' flush. */
void wk_steps_begin(struct wk *w);
void wk_steps_flush(struct wk *w);

/* wk_task.c: the job list and the take loop. */
struct wk_qstate *wk_state(struct wk *w, const struct wk_queue *q);
/* A new job of q for task, linked in; NULL when memory runs out. */
struct wk_job *wk_job_new(struct wk *w, const struct wk_queue *q,
			  const char *task, const struct kg_queue_task *t,
			  size_t size);
/* The job is over (done, failed, lost or handed back): forget it,
 * acknowledging its task when ack. */
void wk_job_end(struct wk_job *j, int ack);
/* Run fn(j) after ms (a database write tried again, a back-off). */
void wk_job_later(struct wk_job *j, long ms, void (*fn)(struct wk_job *j));
/* A job of q with the task's ident (one per project), or NULL. */
struct wk_job *wk_job_find(struct wk *w, const struct wk_queue *q,
			   const char *ident);
/* Take from every queue while below the limits; the number taken,
 * *more when a queue may have more waiting.  An idle worker waits on
 * kg:wake (every push signals it). */
int wk_take(struct wk *w, int *more);
/* Renew every job's lease; abandon the ones another worker took. */
void wk_renew(struct wk *w);
/* Shutdown: hand every running job back to its queue. */
void wk_requeue_all(struct wk *w);

/* wk_ai.c: start the job's call (j->req set) from the first provider
 * of the chain; the hooks of j->q->ai take over. */
void wk_ai_start(struct wk_job *j);

/*
 * wk_claim.c: the claims of generation tasks.  The take loop collects
 * them (wk_claim_add: duplicate and local-slot checks and the lease
 * first, one task at a time) and the queue's flush makes them together
 * (wk_claims_flush): their kg_gen_claim() calls in one PostgreSQL round
 * trip (kg_db_pipe_each: each still a transaction of its own, in the
 * order taken, so the slot counts and the fencing are the same as one
 * at a time; each claimed project's first call starts as soon as its
 * own claim is answered), their GENERATING events in one Redis pipeline
 * before the loop handles any answer.
 */

/* WK_STARTED: the claim is collected (its task is kept); otherwise the
 * task was dealt with (deferred, acknowledged or handed back). */
enum wk_take wk_claim_add(struct wk *w, const char *task,
			  const struct kg_queue_task *t, int progress);
/* Make the collected claims; each claimed one becomes a job
 * (wk_gen_claimed, wk_gen_begin).  WK_RETRY when the database failed
 * (those tasks went back to the queue). */
enum wk_take wk_claims_flush(struct wk *w);

/* wk_gen.c: the job of a claimed project, its GENERATING event added
 * to `events` (NULL when memory ran out); wk_gen_begin starts its first
 * stage (without kg_db: it may run while a pipeline is read; a call
 * that fails at once writes FAILED through the collected steps, so
 * wk_steps_begin first and wk_steps_flush after the events). */
struct kg_redis_pipe;
struct wk_job *wk_gen_claimed(struct wk *w, struct wk_claim *c,
			      struct kg_redis_pipe *events);
void wk_gen_begin(struct wk_job *j);

/* wk_gen.c: progress events of long calls, the stop hint. */
void wk_gen_tick(struct wk *w);

/*
 * A fresh session compiles a PL/pgSQL function at its first call (12 ms
 * for kg_gen_claim) and kg_db prepares each statement once: done for
 * the claim and the step when the worker loads its data, with calls
 * that find nothing (WK_NO_ID), instead of in the first claim after a
 * generation request.
 */
#define WK_NO_ID "00000000-0000-0000-0000-000000000000"
void wk_claim_warm(void);
void wk_gen_warm(void);

void wk_house(struct wk *w);
void wk_house_free(struct wk *w);

#endif
