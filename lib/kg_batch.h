/*
 * kg_batch - batches as the API shows them, always scoped to a user.
 *
 * Every function takes the signed-in user and only ever sees that user's
 * batches (admins see all); a batch of someone else is "not found" (404),
 * never "forbidden", so ids cannot be probed.  The JSON is assembled by
 * PostgreSQL (json_build_object) in one round trip per call.
 */
#ifndef KG_BATCH_H
#define KG_BATCH_H

#include <cjson/cJSON.h>

#include "kg_err.h"
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
 *  completed_at, event_seq, progress, cost, counts: {PENDING: n, ...},
 *  projects: [{id, row, name, status, progress, quality_score, provider,
 *  error, updated_at}, ...]}  (projects only when with_projects).
 */
cJSON *kg_batch_get(const char *id, const struct kg_user *u,
		    int with_projects, struct kg_err *err);

/* {batches: [...newest first, without projects], total, limit, offset}.
 * `all` lists every user's batches and is honoured for admins only. */
cJSON *kg_batch_list(const struct kg_user *u, int all, long long limit,
		     long long offset, struct kg_err *err);

/*
 * One transaction: the batch (VALIDATED) and its projects (PENDING) from
 * `projects`, an array of {row, name, input} as made by kg_rows.  The new
 * id goes to id_out.  `filename` may be NULL.
 */
int kg_batch_create(const struct kg_user *u, const char *name,
		    const char *filename, const cJSON *projects,
		    char id_out[37], struct kg_err *err);

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

#endif
