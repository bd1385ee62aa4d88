#include "kg_snapshot.h"
#include "kg_array.h"
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_jsonw.h"

#include <stdlib.h>
#include <string.h>

/*
 * Row 0 is the batch (columns 0-4, the project columns NULL), then one
 * row per project (columns 5-10, the batch columns NULL) in row order.
 * The "ts" is taken when the rows have arrived, as every event's is
 * (kg_event_timestamp; the JSON implementation had the statement's
 * now(), to the millisecond in UTC, alike).
 */
enum { C_SEQ, C_STATUS, C_ID, C_NAME, C_ROWS,
       C_ROW, C_PID, C_PNAME, C_PSTATUS, C_PROGRESS, C_SCORE };

#define SNAPSHOT_SQL                                                        \
	"WITH b AS (SELECT b.id, b.name, b.status, b.row_count, b.event_seq" \
	" FROM batches b WHERE b.id = $1::uuid AND " KG_BATCH_VISIBLE ")"   \
	" SELECT b.event_seq, b.status, b.id, b.name, b.row_count,"         \
	" NULL::int, NULL::uuid, NULL::text, NULL::text, NULL::smallint,"   \
	" NULL::smallint FROM b"                                            \
	" UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, p.row_number,"     \
	" p.id, p.name, p.status, p.progress, p.quality_score"              \
	" FROM b JOIN projects p ON p.batch_id = b.id"                      \
	" ORDER BY 6 NULLS FIRST"

int
kg_snapshot_read(const char *id, const struct kg_user *u,
		 struct kg_snapshot *s, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err, SNAPSHOT_SQL, id, u->id,
				    kg_auth_admin_param(u));

	memset(s, 0, sizeof(*s));
	if (!res)
		return -1;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, C_SEQ)) {
		PQclear(res);
		return kg_err_set(err, 404, "not_found", "no such batch");
	}
	s->res = res;
	s->seq = atoll(PQgetvalue(res, 0, C_SEQ));
	s->status = PQgetvalue(res, 0, C_STATUS);
	kg_event_timestamp(s->ts, sizeof(s->ts));
	return 0;
}

/* The event's members, as the JSON implementation ordered them; the
 * batch's "ts" is computed (the time of the read). */
static void
ts_json(struct kg_jsonw *w, const PGresult *res, int row, const void *ctx)
{
	const struct kg_snapshot *s = ctx;

	(void)res;
	(void)row;
	kg_jsonw_str(w, s->ts);
}

static void
type_json(struct kg_jsonw *w, const PGresult *res, int row, const void *ctx)
{
	(void)res;
	(void)row;
	(void)ctx;
	kg_jsonw_str(w, "snapshot");
}

static const struct kg_jsonw_col batch_cols[] = {
	{"type", KG_JSONW_FN, 0, type_json},
	{"seq", KG_JSONW_NUM, C_SEQ},
	{"ts", KG_JSONW_FN, 0, ts_json},
	{"batch_id", KG_JSONW_TEXT, C_ID},
	{"name", KG_JSONW_TEXT, C_NAME},
	{"status", KG_JSONW_TEXT, C_STATUS},
	{"row_count", KG_JSONW_NUM, C_ROWS},
};

static const struct kg_jsonw_col project_cols[] = {
	{"id", KG_JSONW_TEXT, C_PID},
	{"name", KG_JSONW_TEXT, C_PNAME},
	{"row", KG_JSONW_NUM, C_ROW},
	{"status", KG_JSONW_TEXT, C_PSTATUS},
	{"progress", KG_JSONW_NUM, C_PROGRESS},
	{"quality_score", KG_JSONW_NUM, C_SCORE},
};

int
kg_snapshot_json(const struct kg_snapshot *s, struct kg_buf *out)
{
	const PGresult *res = s->res;
	struct kg_jsonw w = {.buf = *out, .pg = 1};

	/* ~170 bytes a project: one allocation, not a doubling series of
	 * copies into fresh pages */
	if (kg_buf_reserve(&w.buf, 256 + (size_t)PQntuples(res) * 192) < 0)
		return -1;

	kg_jsonw_open(&w, '{');
	kg_jsonw_row(&w, batch_cols, KG_COUNT(batch_cols), res, 0, 0, s);
	kg_jsonw_key(&w, "projects");
	kg_jsonw_open(&w, '[');
	for (int i = 1; i < PQntuples(res); i++) {
		kg_jsonw_open(&w, '{');
		kg_jsonw_row(&w, project_cols, KG_COUNT(project_cols), res, i,
			     0, NULL);
		kg_jsonw_close(&w, '}');
	}
	kg_jsonw_close(&w, ']');
	kg_jsonw_close(&w, '}');
	*out = w.buf;
	return w.oom ? -1 : 0;
}

void
kg_snapshot_free(struct kg_snapshot *s)
{
	PQclear(s->res);
	memset(s, 0, sizeof(*s));
}
