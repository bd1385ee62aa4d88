/*
 * kg_batch - batches as the API shows them, always scoped to a user.
 *
 * Every function takes the signed-in user and only ever sees that user's
 * batches (admins see all); a batch of someone else is "not found" (404),
 * never "forbidden", so ids cannot be probed.  Each read is one
 * statement (one round trip, one snapshot) whose plain rows are written
 * as JSON text in C; the *_json functions append that text to a buffer
 * (what the API sends), the others return it as a cJSON tree.
 */
#ifndef KG_BATCH_H
#define KG_BATCH_H

#include <cjson/cJSON.h>

#include "kg_buf.h"
#include "kg_err.h"
#include "kg_rows.h"
#include "kg_user.h"

/*
 * The ownership rule, the one place it is written: a batch (and every
 * project in it) is visible to its owner and to admins, to nobody else.
 * As SQL, for a query that calls the batch `b` and passes the user's id
 * as $2 and kg_auth_admin_param() as $3; as a call, kg_batch_visible().
 */
#define KG_BATCH_VISIBLE "(b.owner_id = $2::uuid OR $3::boolean)"

/*
 * Whether u may see batch `id`: 0, or -1 with 404 "not_found" (or a
 * database error) in err.  With `lock` the batch row is locked FOR
 * UPDATE, for a caller inside kg_db_tx that is about to change it.
 */
int kg_batch_visible(const char *id, const struct kg_user *u, int lock,
		     struct kg_err *err);

/*
 * {id, name, source_filename, status, row_count, created_at, updated_at,
 *  completed_at, event_seq, progress, cost, cost_cap (USD or null),
 *  counts: {PENDING: n, ...},
 *  projects: [{id, row, name, status, progress, quality_score, provider,
 *  error, updated_at}, ...]}  (projects only when with_projects).
 */
cJSON *kg_batch_get(const char *id, const struct kg_user *u,
		    int with_projects, struct kg_err *err);
struct kg_batch_counts {
	long long queued, generating;
};
/* `counts` (may be NULL) gets two of the answer's counts (kg_sched). */
int kg_batch_get_json(const char *id, const struct kg_user *u,
		      int with_projects, struct kg_buf *out,
		      struct kg_batch_counts *counts, struct kg_err *err);

/* {batches: [...newest first, without projects], total, limit, offset}.
 * `all` lists every user's batches and is honoured for admins only. */
cJSON *kg_batch_list(const struct kg_user *u, int all, long long limit,
		     long long offset, struct kg_err *err);
int kg_batch_list_json(const struct kg_user *u, int all, long long limit,
		       long long offset, struct kg_buf *out,
		       struct kg_err *err);

/*
 * An upload into a new batch, in ONE transaction that holds no row in
 * memory: the batch (VALIDATED) is inserted, a COPY into projects is
 * opened, and read(read_arg, rows, err) reads the upload into
 * kg_rows_feed(rows), whose sink writes each valid project (PENDING) into
 * the COPY as soon as it is validated.  After the first invalid row
 * nothing more is sent and the rest is only checked, so every error is
 * listed; then the COPY is aborted and the transaction rolled back.
 * `rows` is initialised here (again if the transaction is retried: read
 * must be repeatable) and freed by the caller.
 *
 * Returns 0 with the new id in id_out; 1 when the file has errors
 * (rows->errors; nothing stored); -1 with err: read's refusal of the
 * file, or the database's failure (a COPY the server refuses, a lost
 * connection: nothing stored either).  Without a database (503 before
 * the read began) the file is still read, so one with errors gets 1.
 * `filename` may be NULL.
 */
typedef int (*kg_batch_read_fn)(void *arg, struct kg_rows *rows,
				struct kg_err *err);
int kg_batch_import(const struct kg_user *u, const char *name,
		    const char *filename, kg_batch_read_fn read,
		    void *read_arg, struct kg_rows *rows, char id_out[37],
		    struct kg_err *err);

/*
 * The COPY rows of kg_batch_import (exposed for bench_xlsx, which runs
 * the same code with a flush that only counts): kg_batch_copy_row is a
 * kg_rows_sink_fn (arg = struct kg_batch_copy *) that appends one row in
 * COPY's text format (batch_id, row_number, name, input) and hands the
 * buffer to flush every ~8 KiB; kg_batch_copy_flush hands the rest.
 */
struct kg_batch_copy {
	char batch_id[37];
	struct kg_buf buf;
	int (*flush)(void *arg, const char *data, size_t len,
		     struct kg_err *err);
	void *flush_arg;
	struct kg_err *err;	/* where a failed flush / no memory is said */
	size_t sent;		/* bytes flushed */
};
int kg_batch_copy_row(void *arg, unsigned row, const char *name,
		      const char *input, size_t len);
int kg_batch_copy_flush(struct kg_batch_copy *c);

/*
 * Generation of a batch: its PENDING and FAILED projects (or only those
 * of them listed in project_ids, an array of uuids, to retry chosen
 * ones) move to QUEUED in one transaction that locks the batch; after
 * COMMIT they go on the generation queue and their
 * project.status_changed events are published.  Returns how many moved
 * (0 when the batch already generates: a QUEUED or GENERATING project
 * is neither PENDING nor FAILED, so nothing is queued twice), or -1
 * with err (404 for a batch u cannot see).
 *
 * Redis down after the COMMIT is not a failure: PostgreSQL says the
 * projects are QUEUED, and the workers' reconciler enqueues every QUEUED
 * project missing from the queue after [worker] reconcile_grace seconds
 * (kg_queue.h).
 */
int kg_batch_generate(const char *batch_id, const struct kg_user *u,
		      const cJSON *project_ids, struct kg_err *err);

/* The answer of a DELETE: {"deleted": what, "id": id, "batch_deleted"}. */
cJSON *kg_batch_deleted_json(const char *what, const char *id,
			     int batch_gone);

/* ---- lifecycle (kg_batch_life.c, issue 17) ---- */

/*
 * Stop a batch: its QUEUED and GENERATING projects go back to PENDING at
 * once and the batch to VALIDATED, in one transaction; after COMMIT a
 * Redis hint (kg:stop:<id>) for the workers and the events
 * (project.status_changed PENDING per project, then batch.stopped).  A
 * worker finishes the AI call it has in flight (its cost is logged),
 * then drops the project's partial work without another call: it checks
 * the project in PostgreSQL before every call, so a stop survives a
 * worker restart and a lost hint.  Idempotent: a batch with nothing in
 * flight stops 0 projects.  *stopped = number of projects moved.
 */
int kg_batch_cancel(const char *id, const struct kg_user *u, int *stopped,
		    struct kg_err *err);

/* Set by kg_batch_cancel (and a cap that stops a batch) for an hour. */
int kg_batch_stop_hinted(const char *batch_id);

/*
 * Rename and cap: body {"name"?: text (1-300 characters, no control
 * characters), "cost_cap"?: number 0-999999 in USD, or null = no cap};
 * 400 for anything else.  A cap at or below what the batch has already
 * spent stops it at once, as kg_batch_cancel does (*stopped = projects
 * stopped).  Returns the batch as kg_batch_get (without projects).
 */
cJSON *kg_batch_update(const char *id, const struct kg_user *u,
		       const cJSON *body, int *stopped, struct kg_err *err);

/* 1 if s is a valid batch name (see kg_batch_update). */
int kg_batch_name_valid(const char *s);

/*
 * Delete a batch (project_id NULL) or one card (project_id; batch_id is
 * ignored then): 404 if not the user's, 409 batch_busy while the batch
 * (or the card) has a project QUEUED or GENERATING.  The stored export
 * files go first; if storage fails the answer is 503 and every row is
 * still there.  Then one transaction deletes the rows (sections,
 * revisions, regeneration requests, export_history with them); ai_calls
 * stay for the accounts, unlinked (sql/005_batch_lifecycle.sql).
 * Deleting the last card of a batch deletes the batch (*batch_gone = 1).
 */
int kg_batch_delete(const char *batch_id, const char *project_id,
		    const struct kg_user *u, int *batch_gone,
		    struct kg_err *err);

#endif
