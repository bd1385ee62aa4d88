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
#include "kg_user.h"

/*
 * {id, name, source_filename, status, row_count, created_at, updated_at,
 *  completed_at, event_seq, progress, cost, counts: {PENDING: n, ...},
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
 * One transaction: the batch (VALIDATED) and its projects (PENDING) from
 * `projects`, an array of {row, name, input} as made by kg_rows.  The new
 * id goes to id_out.  `filename` may be NULL.
 */
int kg_batch_create(const struct kg_user *u, const char *name,
		    const char *filename, const cJSON *projects,
		    char id_out[37], struct kg_err *err);

#endif
