/*
 * wk - the generation part of kartograf-worker (issue 5).
 *
 *   wk_data.c   section definitions, prompts and offline templates,
 *               loaded from PostgreSQL (data, not code)
 *   wk_gen.c    one job per project: claim, plan -> draft -> polish on
 *               the provider interface, store, score, finish; every
 *               state change written to the database first (fenced by
 *               projects.attempts), then published as an event
 *   wk_house.c  the housekeeping around the queue: heartbeat and lease
 *               renewal, reaper, reconciler
 *   wk_export.c export tasks (issue 9): .docx / .zip built, stored,
 *               recorded, the waiting endpoint answered
 *   wk_regen.c  section regeneration (issue 8): one section rewritten
 *               with the card as context, stored as a new AI revision
 */
#ifndef WK_H
#define WK_H

#include <stddef.h>
#include <stdint.h>

#include "kg_err.h"
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
	char *sections_spec;		/* {sections_spec} of the prompts */
	char *section_keys;		/* {section_keys} */
};

int wk_data_load(struct wk_data *d, struct kg_err *err);
void wk_data_free(struct wk_data *d);

struct wk_job;

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

/* How long a full batch is skipped: a slot freed by another worker's
 * job is noticed within this time (our own jobs end the skip at once). */
#define WK_SKIP_MS 250

void wk_skip_add(struct wk_skip *s, const char *batch_id, int64_t until);
void wk_skip_del(struct wk_skip *s, const char *batch_id);
/* Drops expired entries; fills out (KG_QUEUE_MAX_SKIP) with the rest. */
size_t wk_skip_list(struct wk_skip *s, int64_t now, const char **out);

struct wk {
	struct kg_loop *loop;
	char id[96];			/* worker id: host:pid:random */
	struct wk_data data;
	int data_loaded;
	struct wk_job *jobs;
	int njobs;
	int stopping;
	int64_t take_after;		/* no taking before (after a failure) */
	struct wk_skip skip;		/* generation: full batches */
	/* slot accounting for /metrics: slot-ms used and offered */
	int64_t slot_ms_used, slot_ms_offered, slot_clock;
	/* housekeeping clocks (ms, monotonic) */
	int64_t next_heartbeat, next_reap, next_reconcile;
	char **suspects;		/* reconciler: lost at the last pass */
	size_t nsuspects;
};

/* The outcome of offering a taken task to wk_gen_start. */
enum wk_take { WK_STARTED, WK_DEFER, WK_DROP, WK_RETRY };

/* Lease, claim and start a taken task (JSON). */
enum wk_take wk_gen_start(struct wk *w, const char *task);
/* Periodic: progress events of long calls. */
void wk_gen_tick(struct wk *w);
/* Renew every job's lease; abandon the ones another worker took. */
void wk_gen_renew(struct wk *w);
/* Shutdown: give every running job back to the queue. */
void wk_gen_requeue_all(struct wk *w);
/* 1 if a job for this task runs here. */
int wk_gen_has(struct wk *w, const char *task);

void wk_house(struct wk *w);
void wk_house_free(struct wk *w);

/* Exports (wk_export.c): run a few queued export tasks, reap the export
 * queue of dead workers; the number of tasks run. */
int wk_export_poll(struct wk *w);

/* Section regeneration (wk_regen.c): lease renewal, reaper, reconciler
 * and taking of kg:queue:regenerate; its jobs count in w->njobs. */
void wk_regen_poll(struct wk *w);
/* Shutdown: hand every running regeneration back to the queue. */
void wk_regen_requeue_all(struct wk *w);

#endif
