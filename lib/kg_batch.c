#include "kg_batch.h"
#include "kg_array.h"
#include "kg_auth.h"
#include "kg_db.h"
#include "kg_jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The answers are plain rows written as JSON text once, in C (kg_jsonw:
 * batch_json, project_json); each read is ONE statement, so counts, progress and
 * the project rows come from one snapshot, and ownership is checked in
 * the same WHERE.
 *
 * A batch's summary columns, for `x` (a batches row):
 *   0 id  1 name  2 source_filename  3 status  4 row_count  5 created_at
 *   6 updated_at  7 completed_at  8 event_seq  9 progress  10 cost
 *   11..15 counts PENDING QUEUED GENERATING COMPLETED FAILED
 *   16 cost_cap
 */
#define SUMMARY_COLS                                                        \
	"x.id, x.name, x.source_filename, x.status, x.row_count,"           \
	" x.created_at, x.updated_at, x.completed_at, x.event_seq,"         \
	" pc.progress, ac.cost, pc.pending, pc.queued, pc.generating,"      \
	" pc.completed, pc.failed, x.cost_cap"
#define SUMMARY_JOINS                                                       \
	" CROSS JOIN LATERAL (SELECT"                                       \
	"  coalesce(round(avg(progress)), 0)::int AS progress,"             \
	"  count(*) FILTER (WHERE status = 'PENDING') AS pending,"          \
	"  count(*) FILTER (WHERE status = 'QUEUED') AS queued,"            \
	"  count(*) FILTER (WHERE status = 'GENERATING') AS generating,"    \
	"  count(*) FILTER (WHERE status = 'COMPLETED') AS completed,"      \
	"  count(*) FILTER (WHERE status = 'FAILED') AS failed"             \
	"  FROM projects WHERE batch_id = x.id) pc"                         \
	" CROSS JOIN LATERAL (SELECT coalesce(sum(cost), 0) AS cost"        \
	"  FROM ai_calls WHERE batch_id = x.id) ac"
#define SUMMARY_NCOLS 17
#define OWNED_BATCH " (x.owner_id = $2::uuid OR $3::boolean)"

/* One batch without its projects. */
#define BATCH_SQL                                                           \
	"SELECT " SUMMARY_COLS " FROM batches x" SUMMARY_JOINS               \
	" WHERE x.id = $1::uuid AND" OWNED_BATCH

/*
 * One batch with its projects: the summary row first, then one row per
 * project in row order (columns 17..25, NULL in the summary row; the
 * summary columns are NULL in the project rows, so they are not sent
 * a thousand times).
 */
#define PROJECT_COLS                                                        \
	"p.id, p.row_number, p.name, p.status, p.progress, p.quality_score," \
	" p.provider, p.error, p.updated_at"
#define BATCH_PROJECTS_SQL                                                  \
	"WITH x AS (SELECT * FROM batches x WHERE x.id = $1::uuid AND"      \
	OWNED_BATCH ")"                                                     \
	" SELECT " SUMMARY_COLS ", NULL::uuid, NULL::int, NULL::text,"      \
	" NULL::text, NULL::smallint, NULL::smallint, NULL::text,"          \
	" NULL::text, NULL::timestamptz FROM x" SUMMARY_JOINS               \
	" UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"  \
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "            \
	PROJECT_COLS " FROM x JOIN projects p ON p.batch_id = x.id"          \
	" ORDER BY 19 NULLS FIRST"

/* The summary columns' "counts": projects per status (11..15). */
static void
counts_json(struct kg_jsonw *w, const PGresult *res, int row,
	    const void *ctx)
{
	static const char *const status[] = {
		"PENDING", "QUEUED", "GENERATING", "COMPLETED", "FAILED"};

	(void)ctx;
	kg_jsonw_open(w, '{');
	for (int i = 0; i < 5; i++) {
		kg_jsonw_key(w, status[i]);
		kg_jsonw_num_cell(w, res, row, 11 + i);
	}
	kg_jsonw_close(w, '}');
}

/* A batch as the API shows it, from the summary columns above. */
static const struct kg_jsonw_col batch_cols[] = {
	{"id", KG_JSONW_TEXT, 0},
	{"name", KG_JSONW_TEXT, 1},
	{"source_filename", KG_JSONW_TEXT, 2},
	{"status", KG_JSONW_TEXT, 3},
	{"row_count", KG_JSONW_NUM, 4},
	{"created_at", KG_JSONW_TIME, 5},
	{"updated_at", KG_JSONW_TIME, 6},
	{"completed_at", KG_JSONW_TIME, 7},
	{"event_seq", KG_JSONW_NUM, 8},
	{"progress", KG_JSONW_NUM, 9},
	{"cost", KG_JSONW_NUM, 10},
	{"cost_cap", KG_JSONW_NUM, 16},
	{"counts", KG_JSONW_FN, 0, counts_json},
};

/* A project of a batch, from PROJECT_COLS (after the summary's). */
static const struct kg_jsonw_col project_cols[] = {
	{"id", KG_JSONW_TEXT, 0},
	{"row", KG_JSONW_NUM, 1},
	{"name", KG_JSONW_TEXT, 2},
	{"status", KG_JSONW_TEXT, 3},
	{"progress", KG_JSONW_NUM, 4},
	{"quality_score", KG_JSONW_NUM, 5},
	{"provider", KG_JSONW_TEXT, 6},
	{"error", KG_JSONW_TEXT, 7},
	{"updated_at", KG_JSONW_TIME, 8},
};

/* The batch's summary object, left open: the caller may add "projects"
 * before closing it. */
static void
batch_json(struct kg_jsonw *w, const PGresult *res, int row)
{
	kg_jsonw_open(w, '{');
	kg_jsonw_row(w, batch_cols, KG_COUNT(batch_cols), res, row, 0, NULL);
}

static void
project_json(struct kg_jsonw *w, const PGresult *res, int row)
{
	kg_jsonw_open(w, '{');
	kg_jsonw_row(w, project_cols, KG_COUNT(project_cols), res, row,
		     SUMMARY_NCOLS, NULL);
	kg_jsonw_close(w, '}');
}

static int
written(struct kg_jsonw *w, struct kg_buf *out, struct kg_err *err)
{
	*out = w->buf;
	return w->oom ? kg_err_set(err, 500, "internal", "out of memory") : 0;
}

int
kg_batch_get_json(const char *id, const struct kg_user *u, int with_projects,
		  struct kg_buf *out, struct kg_batch_counts *counts,
		  struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err, with_projects ? BATCH_PROJECTS_SQL
						       : BATCH_SQL,
				    id, u->id, kg_auth_admin_param(u));
	struct kg_jsonw w = {*out, 0, 0};

	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return kg_err_set(err, 404, "not_found", "no such batch");
	}
	batch_json(&w, res, 0);
	if (counts) {
		counts->queued = atoll(PQgetvalue(res, 0, 12));
		counts->generating = atoll(PQgetvalue(res, 0, 13));
	}
	if (with_projects) {
		kg_jsonw_key(&w, "projects");
		kg_jsonw_open(&w, '[');
		for (int i = 1; i < PQntuples(res); i++)
			project_json(&w, res, i);
		kg_jsonw_close(&w, ']');
	}
	kg_jsonw_close(&w, '}');
	PQclear(res);
	return written(&w, out, err);
}

/* The user's batches when a page came back empty (an offset past the
 * end): the count the page's rows would have carried. */
static long long
count_batches(const struct kg_user *u, const char *every, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT count(*) FROM batches x WHERE x.owner_id = $1::uuid"
		" OR $2::boolean", u->id, every);
	long long n;

	if (!res)
		return -1;
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

int
kg_batch_list_json(const struct kg_user *u, int all, long long limit,
		   long long offset, struct kg_buf *out, struct kg_err *err)
{
	char lim[24], off[24];
	const char *every = all ? kg_auth_admin_param(u) : "f";
	struct kg_jsonw w = {*out, 0, 0};
	PGresult *res;
	long long total;

	snprintf(lim, sizeof(lim), "%lld", limit);
	snprintf(off, sizeof(off), "%lld", offset);
	/* newest first; the total (before LIMIT) rides on every row */
	res = KG_DB_QUERY(err,
		"SELECT " SUMMARY_COLS ", x.total FROM (SELECT b.*,"
		" count(*) OVER () AS total FROM batches b"
		" WHERE b.owner_id = $1::uuid OR $2::boolean"
		" ORDER BY b.created_at DESC, b.id LIMIT $3::int OFFSET $4::int)"
		" x" SUMMARY_JOINS " ORDER BY x.created_at DESC, x.id",
		u->id, every, lim, off);
	if (!res)
		return -1;
	total = PQntuples(res) ? atoll(PQgetvalue(res, 0, SUMMARY_NCOLS))
			       : count_batches(u, every, err);
	if (total < 0) {
		PQclear(res);
		return -1;
	}
	kg_jsonw_open(&w, '{');
	kg_jsonw_key(&w, "total");
	kg_jsonw_num(&w, (double)total);
	kg_jsonw_key(&w, "limit");
	kg_jsonw_num(&w, (double)limit);
	kg_jsonw_key(&w, "offset");
	kg_jsonw_num(&w, (double)offset);
	kg_jsonw_key(&w, "batches");
	kg_jsonw_open(&w, '[');
	for (int i = 0; i < PQntuples(res); i++) {
		batch_json(&w, res, i);
		kg_jsonw_close(&w, '}');
	}
	kg_jsonw_close(&w, ']');
	kg_jsonw_close(&w, '}');
	PQclear(res);
	return written(&w, out, err);
}

/* The trees, for callers that put a batch inside another answer. */
static cJSON *
parsed(int rc, struct kg_buf *b, struct kg_err *err)
{
	cJSON *o = NULL;

	if (rc == 0 && !(o = cJSON_ParseWithLength(b->data, b->len)))
		kg_err_set(err, 500, "internal", "out of memory");
	kg_buf_free(b);
	return o;
}

cJSON *
kg_batch_get(const char *id, const struct kg_user *u, int with_projects,
	     struct kg_err *err)
{
	struct kg_buf b = {0};

	return parsed(kg_batch_get_json(id, u, with_projects, &b, NULL, err),
		      &b, err);
}

cJSON *
kg_batch_list(const struct kg_user *u, int all, long long limit,
	      long long offset, struct kg_err *err)
{
	struct kg_buf b = {0};

	return parsed(kg_batch_list_json(u, all, limit, offset, &b, err), &b,
		      err);
}

int
kg_batch_visible(const char *id, const struct kg_user *u, int lock,
		 struct kg_err *err)
{
	static const char *const sql[2] = {
		"SELECT 1 FROM batches b WHERE b.id = $1::uuid AND "
		KG_BATCH_VISIBLE,
		"SELECT 1 FROM batches b WHERE b.id = $1::uuid AND "
		KG_BATCH_VISIBLE " FOR UPDATE",
	};
	int found = kg_db_found(KG_DB_QUERY(err, sql[!!lock], id, u->id,
					    kg_auth_admin_param(u)));

	if (found <= 0)
		return found ? -1
			     : kg_err_set(err, 404, "not_found", "no such batch");
	return 0;
}

/* ---- creating a batch from an upload ---------------------------------- */

#define COPY_SQL "COPY projects (batch_id, row_number, name, input) FROM STDIN"
/* rows are handed to libpq in pieces of about this size (libpq sends
 * its buffer once it holds 8 KiB) */
#define COPY_CHUNK ((size_t)8 * 1024)

int
kg_batch_copy_flush(struct kg_batch_copy *c)
{
	int rc = 0;

	if (c->buf.len && c->flush)
		rc = c->flush(c->flush_arg, c->buf.data, c->buf.len, c->err);
	c->sent += c->buf.len;
	kg_buf_reset(&c->buf);
	return rc;
}

int
kg_batch_copy_row(void *arg, unsigned row, const char *name,
		  const char *input, size_t len)
{
	struct kg_batch_copy *c = arg;
	char head[64];
	int n = snprintf(head, sizeof(head), "%s\t%u\t", c->batch_id, row);

	if (kg_buf_append(&c->buf, head, (size_t)n) < 0 ||
	    kg_db_copy_field(&c->buf, name, strlen(name)) < 0 ||
	    kg_buf_append(&c->buf, "\t", 1) < 0 ||
	    kg_db_copy_field(&c->buf, input, len) < 0 ||
	    kg_buf_append(&c->buf, "\n", 1) < 0)
		return kg_err_set(c->err, 500, "internal", "out of memory");
	return c->buf.len >= COPY_CHUNK ? kg_batch_copy_flush(c) : 0;
}

static int
copy_send(void *arg, const char *data, size_t len, struct kg_err *err)
{
	(void)arg;
	return kg_db_copy_send(err, data, len);
}

struct import_args {
	const struct kg_user *u;
	const char *name;
	const char *filename;
	kg_batch_read_fn read;
	void *read_arg;
	struct kg_rows *rows;
	struct kg_batch_copy copy;
	int reading;		/* the read began (the database was there) */
	int invalid;		/* the file has errors: rows->errors */
};

/* Reads the upload while the COPY is open: 0, or -1 with err (the read's
 * refusal, a failed send) or a->invalid. */
static int
import_rows(struct import_args *a, struct kg_err *err)
{
	struct kg_rows *r = a->rows;

	r->sink = kg_batch_copy_row;
	r->sink_arg = &a->copy;
	a->copy.err = err;
	a->reading = 1;
	if (a->read(a->read_arg, r, err) < 0)
		return -1;
	if (r->sink_failed)
		return -1;	/* err set by the sink */
	if (kg_rows_finish(r) > 0) {
		a->invalid = 1;
		return kg_err_set(err, 400, "validation_failed",
				  "the file has errors");
	}
	return kg_batch_copy_flush(&a->copy);
}

static int
import_tx(void *arg, struct kg_err *err)
{
	struct import_args *a = arg;
	struct kg_err ignored = {0};
	char count[16];
	PGresult *res;

	/* a retried transaction reads the upload again */
	kg_rows_free(a->rows);
	kg_rows_init(a->rows);
	kg_buf_reset(&a->copy.buf);
	a->copy.sent = 0;
	/* row_count >= 1 is checked by the table; the real count is set
	 * once the rows are in, in this transaction */
	res = KG_DB_QUERY(err,
		"INSERT INTO batches (owner_id, name, source_filename, "
		"row_count) VALUES ($1::uuid, $2, $3, 1) RETURNING id",
		a->u->id, a->name, a->filename);
	if (!res)
		return -1;
	snprintf(a->copy.batch_id, sizeof(a->copy.batch_id), "%s",
		 PQgetvalue(res, 0, 0));
	PQclear(res);
	if (kg_db_copy_begin(err, COPY_SQL) < 0)
		return -1;
	if (import_rows(a, err) < 0) {
		/* nothing more is sent; the server fails the COPY and
		 * kg_db_tx rolls the batch back */
		kg_db_copy_end(&ignored, "upload refused");
		return -1;
	}
	if (kg_db_copy_end(err, NULL) < 0)
		return -1;
	snprintf(count, sizeof(count), "%u", a->rows->nsent);
	return kg_db_exec(err, "UPDATE batches SET row_count = $2::int"
			  " WHERE id = $1::uuid", 2,
			  (const char *const[]){a->copy.batch_id, count});
}

int
kg_batch_import(const struct kg_user *u, const char *name,
		const char *filename, kg_batch_read_fn read, void *read_arg,
		struct kg_rows *rows, char id_out[37], struct kg_err *err)
{
	struct import_args a = {u, name, filename, read, read_arg, rows,
				{.flush = copy_send}, 0, 0};
	int rc = kg_db_tx(err, import_tx, &a);

	kg_buf_free(&a.copy.buf);
	if (rc == 0) {
		memcpy(id_out, a.copy.batch_id, 37);
		return 0;
	}
	if (a.invalid)
		return 1;
	if (a.reading || err->status != 503)
		return -1;
	/* No database: a file with errors is still answered with them
	 * (nothing would be stored anyway), a valid one with the 503. */
	kg_rows_free(rows);
	kg_rows_init(rows);
	if (read(read_arg, rows, &(struct kg_err){0}) == 0 &&
	    kg_rows_finish(rows) > 0)
		return 1;
	return -1;
}
